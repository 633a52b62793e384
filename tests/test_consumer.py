"""kpoc.consumer against the real cluster: what was produced comes back, in order, once handled."""

from __future__ import annotations

import time

import pytest

from kpoc.config import ClientConfig
from kpoc.consumer import BATCH_BYTES, Consumer, GroupEvent, StartPosition, parse_start
from kpoc.errors import NotFound, UsageError
from kpoc.producer import DeliveryReport, Producer


@pytest.fixture
def config(cluster):
    return ClientConfig(cluster.bootstrap_servers, timeout=20)


def _produce(config, topic, messages):
    reports: list[DeliveryReport] = []
    with Producer(config, reports.append) as p:
        for m in messages:
            p.send(topic, **m)
    assert all(r.ok for r in reports), [r.error for r in reports if not r.ok]
    return sorted(reports, key=lambda r: r.seq)


def test_round_trip_preserves_everything(config, make_topic, unique_name):
    topic = make_topic()
    sent = [{"value": f"v{i}".encode(), "key": f"k{i % 5}".encode(),
             "headers": [("h", b"1"), ("h", f"{i}".encode()), ("bin", b"\x00\xff")]}
            for i in range(60)]
    sent.append({"value": b"\x80binary\xfe", "key": b"\xff\x00", "partition": 1})
    reports = _produce(config, topic, sent)
    events: list[GroupEvent] = []
    with Consumer(config, [topic], unique_name("g"), on_event=events.append) as c:
        got = list(c.records(exit_at_end=True))
    assert len(got) == len(sent)
    by_pos = {(r.partition, r.offset): r for r in got}
    for rep, msg in zip(reports, sent, strict=True):
        rec = by_pos[(rep.partition, rep.offset)]
        assert rec.value == msg["value"] and rec.key == msg["key"]
        assert list(rec.headers) == list(msg.get("headers", []))
    for p in range(3):  # order per partition: offsets rise, values in send order
        part = [r for r in got if r.partition == p]
        assert [r.offset for r in part] == sorted(r.offset for r in part)
        sent_order = [m["value"] for rep, m in zip(reports, sent, strict=True)
                      if rep.partition == p]
        assert [r.value for r in part] == sent_order
    assert events[0].kind == "assigned" and len(events[0].partitions) == 3


def test_offsets_committed_only_after_handling(config, make_topic, unique_name):
    topic, group = make_topic(1, 3), unique_name("g")
    _produce(config, topic, [{"value": f"{i}".encode()} for i in range(10)])
    with Consumer(config, [topic], group) as c:
        it = c.records()
        first = [next(it) for _ in range(4)]  # 4 handed over, 3 handled (4th not resumed)
    assert [r.value for r in first] == [b"0", b"1", b"2", b"3"]
    with Consumer(config, [topic], group) as c:
        rest = list(c.records(exit_at_end=True))
    assert [r.value for r in rest] == [f"{i}".encode() for i in range(3, 10)]


def test_batches_commit_a_list_once_the_next_is_asked_for(config, make_topic, unique_name):
    topic, group = make_topic(1, 3), unique_name("g")
    _produce(config, topic, [{"value": f"{i}".encode()} for i in range(30)])
    with Consumer(config, [topic], group) as c:
        it = c.batches(batch=10)
        first = next(it)
        assert 1 <= len(first) <= 10
        second = next(it)  # asking for it marks `first` handled; `second` is still in hand
        assert second[0].offset() == len(first)
    with Consumer(config, [topic], group) as c:
        rest = [m.value() for b in c.batches(exit_at_end=True) for m in b]
    assert rest == [f"{i}".encode() for i in range(len(first), 30)]


def test_batches_stop_at_count(config, make_topic, unique_name):
    topic = make_topic()
    _produce(config, topic, [{"value": b"x"} for _ in range(40)])
    with Consumer(config, [topic], unique_name("g"), start=parse_start("beginning")) as c:
        sizes = [len(b) for b in c.batches(count=25, batch=10)]
    assert sum(sizes) == 25 and max(sizes) <= 10


def test_batches_hold_about_half_a_mebibyte_of_values(config, make_topic, unique_name):
    # Big lists of big values are slower (the allocator hands their memory back to the kernel
    # and faults it in again): after the first list, the length follows the value size.
    topic = make_topic(1, 3)
    _produce(config, topic, [{"value": bytes([i]) * 100_000} for i in range(30)])
    with Consumer(config, [topic], unique_name("g"), start=parse_start("beginning")) as c:
        sizes = [len(b) for b in c.batches(count=30)]
    assert sum(sizes) == 30
    assert max(sizes[1:]) <= BATCH_BYTES // 100_000, sizes


@pytest.mark.parametrize("start,expected", [
    ("beginning", [0, 1, 2, 3, 4]), ("end", []), ("3", [3, 4]), ("-2", [3, 4]),
])
def test_start_positions(config, make_topic, unique_name, start, expected):
    topic = make_topic(1, 3)
    _produce(config, topic, [{"value": f"{i}".encode()} for i in range(5)])
    with Consumer(config, [topic], unique_name("g"), parse_start(start)) as c:
        got = [r.offset for r in c.records(exit_at_end=True)]
    assert got == expected


def test_start_at_timestamp(config, make_topic, unique_name):
    topic = make_topic(1, 3)
    _produce(config, topic, [{"value": b"old"}])
    time.sleep(0.05)
    cut = int(time.time() * 1000)
    time.sleep(0.05)
    _produce(config, topic, [{"value": b"new"}])
    with Consumer(config, [topic], unique_name("g"), StartPosition("timestamp", cut)) as c:
        assert [r.value for r in c.records(exit_at_end=True)] == [b"new"]


def test_offset_beyond_end_is_an_error(config, make_topic, unique_name):
    topic = make_topic(1, 3)
    _produce(config, topic, [{"value": b"only"}])
    with Consumer(config, [topic], unique_name("g"), parse_start("99")) as c, \
            pytest.raises(UsageError, match="beyond the end"):
        list(c.records(exit_at_end=True))


def test_manual_partitions(config, make_topic, unique_name):
    topic = make_topic()
    _produce(config, topic, [{"value": f"{i}".encode(), "partition": i % 3} for i in range(9)])
    with Consumer(config, [topic], unique_name("g"), partitions=[2]) as c:
        got = list(c.records(exit_at_end=True))
    assert {r.partition for r in got} == {2} and len(got) == 3
    with Consumer(config, [topic], unique_name("g"), partitions=[5]) as c, \
            pytest.raises(UsageError, match="out of range"):
        list(c.records())


def test_unknown_topic(config, unique_name):
    with Consumer(config, ["no-such-topic"], unique_name("g")) as c, \
            pytest.raises(NotFound, match="does not exist"):
        list(c.records())


def test_count(config, make_topic, unique_name):
    topic = make_topic()
    _produce(config, topic, [{"value": b"x"} for _ in range(20)])
    with Consumer(config, [topic], unique_name("g")) as c:
        assert len(list(c.records(count=7))) == 7


@pytest.mark.parametrize("text,kind,value", [
    ("beginning", "beginning", 0), ("END", "end", 0), ("42", "offset", 42), ("-5", "last", 5),
    ("@1732467000000", "timestamp", 1732467000000),
])
def test_parse_start(text, kind, value):
    assert parse_start(text) == StartPosition(kind, value)


@pytest.mark.parametrize("text", ["", "-0", "soon", "@", f"@{int(time.time() * 1000) + 10**9}"])
def test_parse_start_rejects(text):
    with pytest.raises(UsageError):
        parse_start(text)
