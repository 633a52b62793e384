"""The foreign-records corpus: records other clients write, which every kpoc reader must take.

Written once per test session (the ``foreign_corpus`` fixture in conftest.py) into a
one-partition topic, in this order: Kafka's Java producer (each compression codec; transactions
committed and aborted; non-UTF-8 and NUL bytes in keys, values and header values; header names
holding NUL bytes; duplicate, empty and null headers; 3,000 headers on one record), kcat (header
names that are not UTF-8), and raw confluent-kafka. :func:`write_corpus` returns what a
read_committed reader must see, in offset order.
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer

from kpoc.cluster import find_java, libs_dir

JAVA_SOURCE = Path(__file__).parent / "interop" / "Corpus.java"

Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True)
class Foreign:
    """One record as its writer sent it; ``visible`` is False for an aborted transaction's."""

    writer: str
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    visible: bool = True


def _b64(data: bytes | None) -> str:
    return "-" if data is None else base64.b64encode(data).decode()


def _java_records() -> list[tuple[str, Foreign]]:
    odd: Headers = (("trace", b"\xff\xfe\x00v"), ("dup", b"1"), ("dup", b"2"), ("empty", b""),
                    ("null", None), ("clé-ü", "ü".encode()), ("nul\x00name", b"\x00"),
                    ("\x00", b"only a NUL"), ("trailing\x00", None))
    rows: list[tuple[str, Foreign]] = []
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        rows += [
            (codec, Foreign(f"java-{codec}", f"java-{codec}".encode(),
                            b"\x00\xff\xfe java " + codec.encode() + b"\x00", odd)),
            (codec, Foreign(f"java-{codec}", None, b"compressible " * 400)),
            (codec, Foreign(f"java-{codec}", b"tombstone", None)),
        ]
    rows += [
        ("commit", Foreign("java-txn", b"txn-1", b"committed-1")),
        ("abort", Foreign("java-txn", b"txn-2", b"aborted-1", visible=False)),
        ("abort", Foreign("java-txn", b"txn-3", b"aborted-2", visible=False)),
        ("commit", Foreign("java-txn", b"txn-4", b"committed-2")),
        ("none", Foreign("java-none", b"many-headers", b"3000 headers",
                         tuple((f"h{i:04d}", b"v\x00" + str(i).encode()) for i in range(3000)))),
    ]
    return rows


def _write_java(bootstrap: str, topic: str) -> list[Foreign]:
    rows = _java_records()
    lines = []
    for mode, r in rows:
        hdrs = ",".join(f"{_b64(n.encode())}:{_b64(v)}" for n, v in r.headers)
        lines.append(f"{mode}\t{_b64(r.key)}\t{_b64(r.value)}\t{hdrs}\n")
    proc = subprocess.run(
        [find_java(), "-Xmx256m", "-Dorg.apache.logging.log4j.level=OFF", "-cp",
         f"{libs_dir()}/*", str(JAVA_SOURCE), bootstrap, topic],
        input="".join(lines), capture_output=True, text=True, timeout=240)
    acked = [ln for ln in proc.stdout.splitlines() if ln.count("\t") == 2]
    assert proc.returncode == 0 and len(acked) == len(rows), proc.stderr[-2000:]
    return [r for _, r in rows]


def _write_kcat(bootstrap: str, topic: str) -> list[Foreign]:
    base = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-p", "0"]
    subprocess.run([*base, "-H", b"\xff\xfekey=val", "-H", b"bin=\xff\xfe", "-H", "plain=ok"],
                   input=b"kcat-1\n", check=True, timeout=60)
    subprocess.run([*base, "-K", "\t"], input=b"\xffkey\tkcat \x1b[31mred\x1b[0m value\n",
                   check=True, timeout=60)
    bad = b"\xff\xfekey".decode("utf-8", "surrogateescape")
    return [Foreign("kcat", None, b"kcat-1", ((bad, b"val"), ("bin", b"\xff\xfe"),
                                               ("plain", b"ok"))),
            Foreign("kcat", b"\xffkey", b"kcat \x1b[31mred\x1b[0m value")]


def _write_confluent(bootstrap: str, topic: str) -> list[Foreign]:
    records = [
        Foreign("confluent-kafka", b"\x00\xff", None, (("n", None), ("z", b"\x00\x00\x00"))),
        Foreign("confluent-kafka", None, b"", (("empty", b""),)),
        Foreign("confluent-kafka", b"", "line1\nline2\u2028\u202eevil".encode(),
                (("emoji-🔥", "✓".encode()),)),
        Foreign("confluent-kafka", b"big", bytes(range(256)) * 400),
    ]
    errors: list[object] = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    for r in records:
        p.produce(topic, value=r.value, key=r.key, headers=list(r.headers) or None, partition=0,
                  on_delivery=lambda e, _m: e and errors.append(e))
        p.flush(60)  # one at a time: the corpus's order is its offsets' order
    assert p.flush(60) == 0 and not errors, errors
    return records


def write_corpus(bootstrap: str, topic: str) -> list[Foreign]:
    """Write every foreign record into ``topic`` (one partition); those a read_committed
    reader sees, in offset order."""
    written = (_write_java(bootstrap, topic) + _write_kcat(bootstrap, topic)
               + _write_confluent(bootstrap, topic))
    return [r for r in written if r.visible]
