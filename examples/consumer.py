"""The seed's consumer in Python: join a group on `teste`, print every message it receives.

    python examples/consumer.py        # Ctrl-C or SIGTERM leaves the group cleanly

Reads KPOC_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), KPOC_TOPIC (teste), KPOC_GROUP
(poc-consumers). Four copies on a 3-partition topic: one is idle, as a partition belongs to one
member of a group. Plain confluent-kafka: copy it into a service.
"""
import contextlib
import os
import signal
import sys

from confluent_kafka import Consumer, KafkaException, TopicPartition

consumer = Consumer({
    "bootstrap.servers": os.environ.get("KPOC_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
    "group.id": os.environ.get("KPOC_GROUP", "poc-consumers"),
    # A new group starts at the oldest message, not only at those sent after it joined.
    "auto.offset.reset": "earliest",
    # At least once: by default an offset is stored as soon as poll() hands the message over, so
    # a crash mid-processing loses it. We store it after processing; auto-commit (every 5 s)
    # then commits only processed messages.
    "enable.auto.offset.store": False,
    # A member joining or leaving moves only the partitions that must move.
    "partition.assignment.strategy": "cooperative-sticky",
})


def on_assign(c: Consumer, partitions: list[TopicPartition]) -> None:
    held = ", ".join(f"{p.topic}[{p.partition}]" for p in c.assignment() + partitions)
    print(f"assigned: {held}" if held else "idle: no partition left for me", flush=True)


def on_revoke(c: Consumer, partitions: list[TopicPartition]) -> None:
    # Commit what was processed before the partitions move to another member (if anything).
    with contextlib.suppress(KafkaException):
        c.commit(asynchronous=False)


running = True


def stop(signum: int, frame: object) -> None:
    global running
    running = False  # the loop notices within one poll timeout


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
consumer.subscribe([os.environ.get("KPOC_TOPIC", "teste")], on_assign=on_assign,
                   on_revoke=on_revoke)
try:
    while running:
        msg = consumer.poll(0.5)  # short, so a signal is noticed quickly
        if msg is None:
            continue
        if msg.error():  # librdkafka retries transient errors itself; say what happened
            print(f"error: {msg.error()}", file=sys.stderr)
            continue
        value = (msg.value() or b"").decode("utf-8", "replace")
        print(f"{msg.topic()}[{msg.partition()}] offset {msg.offset()}: {value}", flush=True)
        consumer.store_offsets(msg)  # processed: now it may be committed
finally:
    if not consumer.assignment():
        # librdkafka's close() sends no LeaveGroup for a cooperative member holding no
        # partition (the idle one); unsubscribe() does, so the group need not wait 45 s for it.
        consumer.unsubscribe()
    consumer.close()  # commits, and leaves now rather than after the session timeout (45 s)
    print("left the group", flush=True)
