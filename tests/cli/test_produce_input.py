"""What `kpoc produce` takes from argv and stdin: any bytes, kept byte for byte, or refused in one
line (a header name librdkafka cannot send) — never a traceback or a crash. Properties
(hypothesis) over the parsers, and a few arbitrary examples through the real CLI and cluster."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpoc.cli.produce import _records, _values, split_input
from kpoc.config import ClientConfig
from kpoc.consumer import Consumer, StartPosition
from kpoc.envelope import header_name_bytes
from kpoc.producer import parse_header

#: What a command line can carry: any bytes but NUL.
argv_bytes = st.binary(max_size=40).map(lambda b: b.replace(b"\x00", b""))


@given(st.lists(argv_bytes, min_size=1, max_size=5))
def test_argv_values_are_sent_as_the_bytes_typed(raw):
    # Python hands argv over decoded with surrogateescape (PEP 383); kpoc restores the bytes.
    assert list(_values(tuple(map(os.fsdecode, raw)), None, "\\n")) == raw


@given(argv_bytes, argv_bytes)
def test_header_names_and_values_keep_the_bytes_typed(name, value):
    arg = os.fsdecode(name + b"=" + value)
    if not name or b"=" in name:
        return  # the split is the user's own; covered by the bad-input table
    got_name, got_value = parse_header(arg)
    assert (header_name_bytes(got_name), got_value) == (name, value)


@given(st.binary(max_size=400), st.sampled_from([b"\n", b";", b"\x00", b"--", b"\r\n"]))
def test_stdin_splits_at_the_delimiter_and_keeps_every_byte(data, delim):
    parts = data.split(delim)
    if parts[-1] == b"":
        parts.pop()
    assert list(split_input(io.BufferedReader(io.BytesIO(data), 7), delim)) == parts


@given(st.lists(st.tuples(argv_bytes.filter(lambda b: b"\t" not in b), st.binary(max_size=30)
                          .filter(lambda b: b"\n" not in b)), min_size=1, max_size=5))
def test_key_delimiter_splits_each_line_into_key_and_value(pairs):
    lines = [k + b"\t" + v for k, v in pairs]
    recs = list(_records(iter(lines), "text", None, "\\t", [], False))
    assert [(r.key, r.value) for r in recs] == pairs


def _read_at(bootstrap: str, topic: str, partition: int, offset: int):
    with Consumer(ClientConfig(bootstrap, timeout=30), [topic], "kpoc-props",
                  StartPosition("offset", offset), [partition]) as c:
        return next(iter(c.records(count=1)))


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=argv_bytes, value=argv_bytes, hname=argv_bytes.filter(lambda b: b and b"=" not in b),
       hvalue=argv_bytes)
def test_arbitrary_argv_through_the_real_cli(cluster, make_topic, kpoc_env, key, value, hname,
                                             hvalue):
    topic = make_topic(partitions=1)
    r = subprocess.run([sys.executable, "-m", "kpoc", "produce", "-t", topic, "-o", "json",
                        "-k", key, "-H", hname + b"=" + hvalue, value or b"-"],
                       capture_output=True, timeout=120, env=kpoc_env)
    stderr = r.stderr.decode(errors="replace")
    assert "Traceback" not in stderr, stderr
    assert r.returncode == 0, stderr
    report = json.loads(r.stdout)
    rec = _read_at(cluster.bootstrap_servers, topic, report["partition"], report["offset"])
    # A header name that is not UTF-8 is sent as the bytes typed too (kpoc._rawproduce).
    assert (rec.key, rec.value) == (key, value or b"-")
    assert [(header_name_bytes(n), v) for n, v in rec.headers] == [(hname, hvalue)]
