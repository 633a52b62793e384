"""examples/consumer.py on kpoc's API: the same program, with what kpoc adds.

    python examples/kpoc_consumer.py        # Ctrl-C or SIGTERM leaves the group cleanly

kpoc's Consumer stores a record's offset only when the loop asks for the next one (at least
once, with no store_offsets() to forget), commits on every rebalance and on close, reports the
group's changes (assigned, revoked, idle) as events, and fails with a kpoc error (.code, a fix)
for an unknown topic or a denied ACL instead of polling forever. Reads KPOC_BOOTSTRAP_SERVERS,
KPOC_TOPIC (default teste) and KPOC_GROUP (default poc-consumers).
"""
import os
import signal
import sys

from kpoc import Consumer, GroupEvent, KpocError


def on_event(event: GroupEvent) -> None:
    print(event.describe(), flush=True)  # e.g. "group g: assigned teste[1]", or idle


# A new group starts at the oldest message; a known one where it left off.
consumer = Consumer(os.environ.get("KPOC_TOPIC", "teste"),
                    group=os.environ.get("KPOC_GROUP", "poc-consumers"), on_event=on_event)
# stop() ends the loop after the record in hand; close() then commits and leaves the group.
signal.signal(signal.SIGTERM, lambda signum, frame: consumer.stop())
signal.signal(signal.SIGINT, lambda signum, frame: consumer.stop())
try:
    with consumer:
        for record in consumer:
            value = (record.value or b"").decode("utf-8", "replace")
            print(f"{record.topic}[{record.partition}] offset {record.offset}: {value}",
                  flush=True)
except KpocError as exc:
    print(f"error: {exc}", file=sys.stderr)  # exc.code: the Kafka error code, if any
    sys.exit(1)
print("left the group", flush=True)
