"""An asyncio service producing with confluent_kafka.aio: every line a client sends becomes a
message on `teste`, and the service answers with that message's delivery report (a JSON line).

    python examples/async_producer.py              # listens on 127.0.0.1:8765
    printf 'hello\nworld\n' | nc -q 3 127.0.0.1 8765

Reads KPOC_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), KPOC_TOPIC (teste), KPOC_PORT (8765).
Ctrl-C or SIGTERM: stop accepting, wait for the reports still due, close.
"""
import asyncio
import json
import os
import signal

from confluent_kafka import KafkaException
from confluent_kafka.aio import AIOProducer

TOPIC = os.environ.get("KPOC_TOPIC", "teste")


async def main() -> None:
    producer = AIOProducer({
        "bootstrap.servers": os.environ.get("KPOC_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        "acks": "all",  # acknowledged = on every in-sync replica
        "enable.idempotence": True,  # retries cannot duplicate or reorder
        "message.timeout.ms": 10_000,  # a bounded wait: a report (maybe an error) within 10 s
    }, buffer_timeout=0.05)  # AIOProducer gathers sends in batches; hand each over within 50 ms

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            try:
                # produce() queues the message and returns a future for its delivery report;
                # awaiting it does not block other clients.
                delivered = await producer.produce(TOPIC, value=line.rstrip(b"\n"))
                msg = await delivered
                report = {"status": "delivered", "partition": msg.partition(),
                          "offset": msg.offset()}
            except KafkaException as exc:  # not acknowledged: say so, never drop it silently
                report = {"status": "failed", "error": str(exc.args[0])}
            writer.write(json.dumps(report).encode() + b"\n")
            await writer.drain()
        writer.close()

    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    port = int(os.environ.get("KPOC_PORT", "8765"))
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print(f"listening on 127.0.0.1:{port}, producing to {TOPIC}", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()
        await producer.flush()  # every message sent gets its report before we exit
        await producer.close()
        print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
