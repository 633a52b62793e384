"""The seed's producer in Python: send one test message to `teste`, print its delivery report.

    python examples/producer.py ["message"]

Reads KPOC_BOOTSTRAP_SERVERS (default 127.0.0.1:9092) and KPOC_TOPIC (default teste). Exit code 0
only when the cluster acknowledged the message. Plain confluent-kafka: copy it into a service.
"""

import os
import sys

from confluent_kafka import KafkaError, Message, Producer

BOOTSTRAP = os.environ.get("KPOC_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
TOPIC = os.environ.get("KPOC_TOPIC", "teste")

producer = Producer({
    "bootstrap.servers": BOOTSTRAP,
    # Acknowledged only once every in-sync replica has it: an acked message survives a broker loss.
    "acks": "all",
    # Retries after a lost ack can neither duplicate nor reorder (librdkafka's default is off).
    "enable.idempotence": True,
    # Give up after 10 s, not librdkafka's 5 minutes: the report then says why.
    "message.timeout.ms": 10_000,
})
reports: list[KafkaError | None] = []


def on_delivery(err: KafkaError | None, msg: Message) -> None:
    """The only word librdkafka gives on a message's fate: without it a failure is silent.
    It runs inside poll() / flush(), on this thread."""
    reports.append(err)
    if err is not None:
        print(f"not delivered: {err.name()}: {err.str()}", file=sys.stderr)
    else:
        print(f"delivered to {msg.topic()} partition {msg.partition()} offset {msg.offset()}")


value = sys.argv[1] if len(sys.argv) > 1 else "mensagem de teste"
try:
    # produce() only queues the message; librdkafka's threads send it.
    producer.produce(TOPIC, value=value.encode("utf-8"), key=b"poc", on_delivery=on_delivery)
except Exception as exc:  # refused before queueing: too large, bad partition, full queue
    print(f"not sent: {exc}", file=sys.stderr)
    sys.exit(1)
finally:
    # Wait for the report: exiting without flush() would drop the queued message unseen.
    left = producer.flush(15)
if left or not reports:
    print(f"{left} message(s) without a delivery report after 15 s", file=sys.stderr)
sys.exit(0 if reports == [None] else 1)
