"""``kpoc produce``: send messages and print a delivery report for each one."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from ..config import DEFAULT_TOPIC
from ..envelope import Record, parse_line
from ..errors import DeliveryError, UsageError
from ..load import check_load, run_load
from ..producer import DeliveryReport, Producer, parse_header
from ._common import client_options, config_from, emit_json, err, old_flag, out, output_option
from ._text import escape_bytes, unescape


def split_input(stream: IO[bytes], delimiter: bytes) -> Iterator[bytes]:
    """Messages from a byte stream, one per ``delimiter``; a final empty chunk is dropped.

    Reads incrementally so an interactive user sees each report as soon as a line is typed.
    """
    if delimiter == b"\n":
        for line in stream:
            yield line[:-1] if line.endswith(b"\n") else line
        return
    buf = b""
    while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
        buf += chunk
        *parts, buf = buf.split(delimiter)
        yield from parts
    if buf:
        yield buf


class _Reporter:
    """Prints reports as they arrive and remembers the failures for the exit code."""

    def __init__(self, output: str, quiet: bool) -> None:
        self.output = output
        self.quiet = quiet
        self.delivered = 0
        self.failed: list[DeliveryReport] = []

    def __call__(self, r: DeliveryReport) -> None:
        if r.ok:
            self.delivered += 1
        else:
            self.failed.append(r)
        if self.output == "json":
            emit_json(r.to_dict())
        elif not r.ok:
            err.print(f"kpoc: message #{r.seq} to {r.topic} {r.status.replace('_', ' ')}: "
                      f"{r.error}", markup=False)
        elif not self.quiet:
            key = "" if r.key is None else f" key={escape_bytes(r.key)}"
            # No offset: a retried batch the broker already had (DUPLICATE_SEQUENCE_NUMBER).
            where = "unknown" if r.offset is None else r.offset
            out.print(f"delivered to {r.topic} [{r.partition}] @ offset {where} in "
                      f"{r.latency_ms:.1f} ms{key}", markup=False)

    def finish(self) -> None:
        total = self.delivered + len(self.failed)
        if self.failed:
            first = self.failed[0]
            where = ("see their reports on stdout (status other than delivered)"
                     if self.output == "json" else "see the report of each failed message above")
            raise DeliveryError(
                f"{len(self.failed)} of {total} message(s) not acknowledged (first: "
                f"{first.error_code})", where)


def _values(values: tuple[str, ...], file: str | None, delimiter: str) -> Iterator[bytes]:
    if values:
        # Arguments that are not UTF-8 arrive as lone surrogates (PEP 383): their bytes back.
        yield from map(os.fsencode, values)
        return
    delim = os.fsencode(unescape(delimiter))
    if not delim:
        raise UsageError("--delimiter must not be empty", "e.g. --delimiter '\\n' or ';'")
    if file is None and sys.stdin.isatty():
        err.print("kpoc: reading messages from stdin, one per line (Ctrl-D to end)")
    if file is not None and file != "-":
        try:
            with open(file, "rb") as fh:
                yield from split_input(fh, delim)
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror}", "check the path") from None
        return
    yield from split_input(sys.stdin.buffer, delim)


def _records(raw: Iterator[bytes], input_format: str, key: str | None, key_delimiter: str | None,
             headers: list[tuple[str, bytes | None]], validate_json: bool) -> Iterator[Record]:
    kdelim = os.fsencode(unescape(key_delimiter)) if key_delimiter is not None else None
    if kdelim == b"":
        raise UsageError("--key-delimiter must not be empty", "e.g. -K ':'")
    for n, data in enumerate(raw, 1):
        if input_format == "json":
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise UsageError(f"line {n}: not UTF-8", "--input json reads JSON lines "
                                 "(binary goes base64-encoded in the envelope)") from None
            if not text.strip():
                continue
            yield parse_line(text, n)
            continue
        k = os.fsencode(key) if key is not None else None
        if kdelim is not None:
            k, sep, data = data.partition(kdelim)
            if not sep:
                raise UsageError(f"message {n} has no key delimiter {key_delimiter!r}",
                                 "write key<delimiter>value per message, or drop -K")
        if validate_json:
            try:
                json.loads(data)
            except (UnicodeDecodeError, ValueError) as exc:
                raise UsageError(f"message {n} is not valid JSON: {exc}",
                                 "fix the value or drop --json") from None
        yield Record(value=data, key=k, headers=list(headers))


@click.command()
@client_options
@output_option
@click.argument("values", nargs=-1)
@click.option("-t", "--topic", default=DEFAULT_TOPIC, envvar="KPOC_TOPIC", show_default=True,
              help="Topic to send to [env KPOC_TOPIC].")
@click.option("--file", type=click.Path(dir_okay=False, allow_dash=True),
              help="Read messages from a file (- for stdin) instead of VALUES.")
@old_flag("-f", "file", "--file (-f means a format elsewhere)",
          type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-D", "--delimiter", default="\\n", show_default=True,
              help="Message delimiter for stdin/--file (escapes like \\n, \\t, \\0 work).")
@click.option("-k", "--key", help="Key for every message.")
@click.option("-K", "--key-delimiter", help="Split each message into key<delim>value (kcat -K).")
@click.option("-H", "--header", "header", multiple=True, metavar="KEY=VALUE",
              help="Header for every message, repeatable; duplicates are kept. A bare KEY "
                   "sends a null value (as kcat -H and `kpoc consume` show it).")
@click.option("-p", "--partition", type=int, help="Partition (default: by key, or spread).")
@click.option("--json", "validate_json", is_flag=True,
              help="Check that every value is valid JSON before sending it.")
@click.option("--input", "input_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True,
              help="json: read `kpoc consume -o json` envelopes (lossless replay).")
@click.option("--keep-partition", is_flag=True,
              help="With --input json: send each message to its envelope's partition.")
@click.option("-n", "--count", type=int, help="Load mode: send N synthetic messages.")
@click.option("-s", "--size", type=int, default=100, show_default=True,
              help="Load mode: bytes per message.")
@click.option("-r", "--rate", type=float, help="Load mode: messages per second (default: max).")
@click.option("--latency", is_flag=True,
              help="Load mode: also sample delivery latency (a report per message; slower).")
@click.option("-q", "--quiet", is_flag=True, help="Print failures only.")
def produce(values: tuple[str, ...], topic: str, file: str | None, delimiter: str,
            key: str | None, key_delimiter: str | None, header: tuple[str, ...],
            partition: int | None, validate_json: bool, input_format: str, count: int | None,
            size: int, rate: float | None, latency: bool, quiet: bool, output: str,
            keep_partition: bool, **conn: Any) -> None:
    """Send messages to a topic and print a delivery report for each one.

    Messages come from VALUES, else from --file, else from stdin (one per line). Each is
    acknowledged by all in-sync replicas (acks=all, idempotent) or reported failed; the exit code
    is 8 if any was not acknowledged.

    \b
    Example:
      kpoc produce "hello kafka"                       # to topic teste
      printf 'k1:v1\\nk2:v2\\n' | kpoc produce -t teste -K :
      kpoc produce -t teste -H source=cli -H trace=1 '{"id":1}' --json
      kpoc consume -t teste -e -o json | kpoc produce -t copy --input json
      kpoc produce -t copy --input json --keep-partition < backup.jsonl
      kpoc produce --count 100000 --size 100          # load mode with a summary
      kpoc produce --count 10000 --rate 1000 --latency # … and delivery latency p50/p99
    """
    if keep_partition and (input_format != "json" or partition is not None):
        raise UsageError("--keep-partition needs --input json and no --partition",
                         "drop --keep-partition, or replay envelopes with --input json")
    config = config_from(conn)
    headers = [parse_header(h) for h in header]
    if count is not None:
        _load(config, topic, count, size, rate, latency, output)
        return
    reporter = _Reporter(output, quiet)
    raw = _values(values, file, delimiter)
    with Producer(config, on_report=reporter,
                  on_notice=lambda m: err.print(f"kpoc: {m}", markup=False)) as producer:
        producer.partitions(topic)
        producer.check_partition(topic, partition)
        for rec in _records(raw, input_format, key, key_delimiter, headers, validate_json):
            target = partition
            if keep_partition:
                if rec.partition is None:
                    raise UsageError("an envelope has no partition to keep",
                                     "drop --keep-partition, or add \"partition\": N")
                producer.check_partition(topic, rec.partition)
                target = rec.partition
            producer.send(topic, rec.value, rec.key, list(rec.headers) or None,
                          target, rec.timestamp if input_format == "json" else None)
    reporter.finish()


def _load(config: Any, topic: str, count: int, size: int, rate: float | None, latency: bool,
          output: str) -> None:
    check_load(count, size, rate)  # before the progress bar draws anything
    with Progress(TextColumn("[bold]producing[/]"), BarColumn(),
                  TextColumn("{task.completed:,}/{task.total:,} msgs"), TimeRemainingColumn(),
                  console=err, transient=True, disable=output == "json") as bar:
        task = bar.add_task("produce", total=count)
        summary = run_load(config, topic, count, size, rate,
                           progress=lambda n: bar.advance(task, n), latency=latency)
    d = summary.to_dict()
    if output == "json":
        emit_json(d)
    else:
        lat = d["latency_ms"]
        out.print(f"{d['acknowledged']:,} of {count:,} messages acknowledged to {topic} "
                  f"({d['bytes'] / 1e6:.1f} MB) in {d['seconds']:.2f} s: "
                  f"{d['msgs_per_s']:,.0f} msgs/s, {d['mb_per_s']:.2f} MB/s (producer ready "
                  f"after {d['ready_seconds']:.2f} s)" + (
                      f"; delivery latency p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms, "
                      f"max {lat['max']:.1f} ms" if lat else ""), markup=False)
    if summary.failed:
        raise DeliveryError(f"{summary.failed:,} of {count:,} messages not acknowledged "
                            f"({', '.join(f'{k}×{v}' for k, v in summary.errors.items())})",
                            "check `kpoc cluster status` and the topic's settings")
