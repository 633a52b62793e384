"""The chaos consumer process (``python -m kpoc.chaos._worker``); see :mod:`kpoc.chaos._reader`.

At-least-once: a record is "processed" by appending ``partition offset seq time`` (the read's
``time.monotonic()``) to the output file, and only then is its offset stored
(``enable.auto.offset.store=false`` + ``store_offsets``); stored offsets are committed every
second, on revoke and on close.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time

from .checker import parse_value

COMMIT_INTERVAL_MS = 1000


def _child(argv: list[str]) -> int:
    import logging

    from confluent_kafka import Consumer, KafkaException, TopicPartition

    ap = argparse.ArgumentParser(prog="kpoc.chaos._worker")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                    help="a group setting (group.protocol, session.timeout.ms, …)")
    ap.add_argument("--static", action="store_true",
                    help="static membership: a restarted reader takes its predecessor's place")
    a = ap.parse_args(argv)
    group_settings = dict(kv.split("=", 1) for kv in a.setting)

    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    quiet = logging.getLogger("kpoc.chaos.reader")
    quiet.propagate = False
    fatal: list[str] = []

    class FatalWatch(logging.Handler):
        # A fatal error leaves the handle unusable and consume() goes on returning nothing.
        # librdkafka logs every fatal error ("FATAL … Fatal error: …"), also when neither
        # error_cb nor a message error says so (seen with a fenced static member).
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if text.startswith("FATAL"):
                fatal.append(text)

    quiet.addHandler(FatalWatch(logging.ERROR))

    def new_consumer() -> Consumer:
        static = {"group.instance.id": f"{a.group}-reader"} if a.static else {}
        c = Consumer({
            **group_settings,
            **static,
            "bootstrap.servers": a.bootstrap,
            "group.id": a.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "auto.commit.interval.ms": COMMIT_INTERVAL_MS,
            "enable.auto.offset.store": False,
            "logger": quiet,
            "error_cb": lambda err: None,
        })
        c.subscribe([a.topic], on_revoke=on_revoke)
        return c

    def on_revoke(c: Consumer, parts: list) -> None:
        # Nothing stored since the last commit, or the coordinator is away: nothing to do.
        with contextlib.suppress(Exception):
            c.commit(asynchronous=False)

    consumer = new_consumer()
    fd = os.open(a.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while not stop:
            if fatal:
                # Seen after a group coordinator died: the static member's session expired, the
                # new coordinator fenced it (FENCED_INSTANCE_ID) and librdkafka made that fatal.
                # A fresh consumer (with the same instance id, if static) rejoins at the committed
                # offsets (at least once: what it re-reads counts as re-delivered).
                print(f"rejoin: {fatal[0]}", file=sys.stderr, flush=True)
                fatal.clear()
                with contextlib.suppress(Exception):
                    consumer.close()
                consumer = new_consumer()
            msgs = consumer.consume(a.batch, timeout=0.5)
            at = f"{time.monotonic():.3f}"
            lines = []
            nxt: dict[int, int] = {}
            for m in msgs:
                part, off = m.partition(), m.offset()
                if m.error() is not None or part is None or off is None:
                    continue
                ps = parse_value(m.value())
                lines.append(f"{part} {off} {ps[1] if ps else '-'} {at}\n")
                nxt[part] = off + 1
            if lines:
                os.write(fd, "".join(lines).encode())  # processed ...
                with contextlib.suppress(KafkaException):  # (a dead handle: re-read later)
                    consumer.store_offsets(offsets=[TopicPartition(a.topic, p, o)  # ... stored
                                                    for p, o in nxt.items()])
    finally:
        os.close(fd)
        with contextlib.suppress(Exception):
            consumer.close()  # commits what is stored
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
