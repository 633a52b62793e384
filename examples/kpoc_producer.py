"""examples/producer.py on kpoc's API: the same program, with what kpoc adds.

    python examples/kpoc_producer.py ["message"]

kpoc's Producer sets acks=all, idempotence and a bounded message.timeout.ms (KPOC_TIMEOUT,
default 10 s) itself; checks the topic exists before queueing (an unknown topic fails now, not
after librdkafka's 30 s); refuses a str or dict value with a message saying how to fix it; and
gives every message exactly one DeliveryReport: delivered, failed, or possibly persisted (timed
out in flight) — also when the with block ends early (Ctrl-C included). Reads
KPOC_BOOTSTRAP_SERVERS and KPOC_TOPIC (default teste).
"""
import os
import sys

from kpoc import DeliveryReport, KpocError, Producer

TOPIC = os.environ.get("KPOC_TOPIC", "teste")
value = sys.argv[1] if len(sys.argv) > 1 else "mensagem de teste"

try:
    # Leaving the with block flushes: every report arrives or is reported failed, bounded.
    with Producer() as producer:  # KPOC_BOOTSTRAP_SERVERS, else the local cluster
        delivery = producer.send(TOPIC, value.encode("utf-8"), key=b"poc")
        # wait() serves librdkafka's reports until this one is in (bounded by the timeout).
        report: DeliveryReport = delivery.wait()
except KpocError as exc:  # e.g. NotFound, KafkaUnavailable: what happened and the fix
    print(f"not sent: {exc}", file=sys.stderr)  # exc.code: the Kafka error code, if any
    sys.exit(1)

if report.ok:
    print(f"delivered to {report.topic} partition {report.partition} offset {report.offset} "
          f"in {report.latency_ms:.1f} ms")
else:
    print(f"{report.status}: {report.error}", file=sys.stderr)
sys.exit(0 if report.ok else 1)
