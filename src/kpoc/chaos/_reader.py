"""The chaos consumer: a separate process, so a scenario can SIGKILL it mid-batch.

The child (``python -m kpoc.chaos._reader``) reads the topic in a consumer group with the
at-least-once contract — a record's offset is stored only after the record is processed
(``enable.auto.offset.store=false`` + ``store_offsets``), stored offsets are committed every second
and on revoke — and "processes" a record by appending ``partition offset seq`` to its output file.
The parent (:class:`Reader`) starts, kills and restarts it, and reads the files back.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .checker import Seen, parse_value

COMMIT_INTERVAL_MS = 1000


def _child(argv: list[str]) -> int:
    import logging

    from confluent_kafka import Consumer, TopicPartition

    ap = argparse.ArgumentParser(prog="kpoc.chaos._reader")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=500)
    a = ap.parse_args(argv)

    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    quiet = logging.getLogger("kpoc.chaos.reader")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    consumer = Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": a.group,
        # Static membership: a restarted reader takes its predecessor's place at once instead of
        # waiting for the dead member's session to expire.
        "group.instance.id": f"{a.group}-reader",
        "session.timeout.ms": 10000,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "auto.commit.interval.ms": COMMIT_INTERVAL_MS,
        "enable.auto.offset.store": False,
        "logger": quiet,
        "error_cb": lambda err: None,
    })

    def on_revoke(c: Consumer, parts: list) -> None:
        # Nothing stored since the last commit, or the coordinator is away: nothing to do.
        with contextlib.suppress(Exception):
            c.commit(asynchronous=False)

    consumer.subscribe([a.topic], on_revoke=on_revoke)
    fd = os.open(a.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while not stop:
            msgs = consumer.consume(a.batch, timeout=0.5)
            lines = []
            nxt: dict[int, int] = {}
            for m in msgs:
                part, off = m.partition(), m.offset()
                if m.error() is not None or part is None or off is None:
                    continue
                ps = parse_value(m.value())
                lines.append(f"{part} {off} {ps[1] if ps else '-'}\n")
                nxt[part] = off + 1
            if lines:
                os.write(fd, "".join(lines).encode())  # processed ...
                consumer.store_offsets(offsets=[TopicPartition(a.topic, p, o)  # ... then stored
                                                for p, o in nxt.items()])
    finally:
        os.close(fd)
        consumer.close()  # commits what is stored
    return 0


class Reader:
    """Parent side: one consumer process at a time, each incarnation writing its own file."""

    def __init__(self, bootstrap: str, topic: str, group: str, workdir: Path) -> None:
        self.bootstrap, self.topic, self.group = bootstrap, topic, group
        self.workdir = Path(workdir)
        self.proc: subprocess.Popen | None = None
        self.files: list[Path] = []
        self._pos: dict[Path, int] = {}
        self._seen: list[Seen] = []
        self.torn = 0  # incomplete last lines left by a killed incarnation

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        out = self.workdir / f"reader-{len(self.files)}.txt"
        out.touch()
        self.files.append(out)
        with out.with_suffix(".err").open("wb") as errf:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kpoc.chaos._reader", "--bootstrap", self.bootstrap,
                 "--topic", self.topic, "--group", self.group, "--out", str(out)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf,
            )

    def last_error(self) -> str:
        """The last stderr line of the newest incarnation (why it died, if it did)."""
        if not self.files:
            return ""
        lines = self.files[-1].with_suffix(".err").read_text(errors="replace").splitlines()
        return lines[-1].strip() if lines else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no close, no final commit."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.poll(final=True)
            self.proc = None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM: the reader finishes its batch, commits and leaves the group."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.poll(final=True)
        self.proc = None

    def poll(self, final: bool = False) -> list[Seen]:
        """Records written since the last call (all incarnations), parsed."""
        new: list[Seen] = []
        for i, f in enumerate(self.files):
            pos = self._pos.get(f, 0)
            with f.open("rb") as fh:
                fh.seek(pos)
                data = fh.read()
            last_file = i == len(self.files) - 1
            cut = data.rfind(b"\n") + 1
            if (final or not last_file) and cut < len(data):
                self.torn += 1
                cut = len(data)  # never completed: skip it
            chunk, self._pos[f] = data[:cut], pos + cut
            for line in chunk.splitlines():
                parts = line.split()
                if len(parts) != 3:
                    continue
                seq = None if parts[2] == b"-" else int(parts[2])
                new.append(Seen(int(parts[0]), int(parts[1]), seq))
        self._seen.extend(new)
        return new

    @property
    def seen(self) -> list[Seen]:
        return self._seen

    def next_offsets(self) -> dict[int, int]:
        """Per partition, the offset after the last record processed so far."""
        nxt: dict[int, int] = {}
        for s in self._seen:
            nxt[s.partition] = max(nxt.get(s.partition, 0), s.offset + 1)
        return nxt

    def wait_for_new(self, since: int, timeout: float) -> float | None:
        """Seconds until more than ``since`` records have been read; None if not within bound."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            self.poll()
            if len(self._seen) > since:
                return time.monotonic() - t0
            time.sleep(0.05)
        return None


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
