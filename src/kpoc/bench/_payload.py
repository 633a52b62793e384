"""Reading a benchmark payload file: the worker's jobs and the Python API jobs send its lines."""

from __future__ import annotations

from collections.abc import Iterator


def payload_lines(path: str, chunk: int = 1 << 18) -> Iterator[list[bytes]]:
    """The newline-delimited payloads of ``path`` in lists, reading 256 KiB at a time (half the
    CPU of 4 MiB reads, whose buffers are fresh pages every time)."""
    rest = b""
    with open(path, "rb") as f:
        while True:
            data = f.read(chunk)
            if not data:
                break
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            yield lines
    if rest:
        yield [rest]
