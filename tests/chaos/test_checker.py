"""The chaos checker on hand-made histories: no broker needed."""

from __future__ import annotations

import pytest

from kpoc.chaos import Delivery, Seen, check, format_value, parse_value, redelivery_bound
from kpoc.chaos._reader import Reader
from kpoc.chaos.checker import group_recovery
from kpoc.chaos.scenarios import (
    Fault,
    Verdict,
    offsets_partition,
    reader_settings,
    same_coordinator,
)
from kpoc.consumer import CLASSIC_ONLY
from kpoc.errors import UsageError


def _acked(n: int, partitions: int = 3) -> list[Delivery]:
    """n acknowledged messages, round-robin, offset == seq."""
    out, seqs = [], [0] * partitions
    for i in range(n):
        p = i % partitions
        out.append(Delivery(p, seqs[p], None, seqs[p]))
        seqs[p] += 1
    return out


def _read(deliveries: list[Delivery]) -> list[Seen]:
    return [Seen(d.partition, d.offset if d.offset is not None else d.seq, d.seq)
            for d in deliveries if d.error is None]


def test_a_clean_history_passes_with_exact_counts():
    d = _acked(30)
    c = check(d, _read(d))
    assert c.ok
    assert (c.produced, c.acknowledged, c.consumed, c.distinct) == (30, 30, 30, 30)
    assert (c.missing, c.duplicates, c.reordered, c.redelivered) == (0, 0, 0, 0)


def test_an_acknowledged_message_never_consumed_is_missing():
    d = _acked(30)
    seen = [s for s in _read(d) if (s.partition, s.seq) != (1, 4)]
    c = check(d, seen)
    assert c.missing == 1 and not c.ok
    assert c.samples["missing"] == ["p1#4"]


def test_a_failed_message_not_in_the_log_is_not_missing():
    d = _acked(9)
    d[4] = Delivery(1, 1, "_MSG_TIMED_OUT")
    seen = [s for s in _read(d)]
    c = check(d, seen)
    assert c.ok and c.failed == 1 and c.missing == 0 and c.failed_present == 0


def test_a_failed_message_found_anyway_is_possibly_persisted_not_a_violation():
    d = _acked(9)
    d[4] = Delivery(1, 1, "_MSG_TIMED_OUT")
    seen = [Seen(p, s, s) for p in range(3) for s in range(3)]
    c = check(d, seen)
    assert c.ok and c.failed_present == 1


def test_the_same_message_at_two_offsets_is_a_duplicate():
    d = [Delivery(0, s, None, s) for s in range(5)]
    seen = [Seen(0, o, s) for o, s in enumerate([0, 1, 2, 2, 3, 4])]
    c = check(d, seen)
    assert c.duplicates == 1 and not c.ok
    # and the copy shifted the later offsets: what was acknowledged at 3 now holds #2
    assert c.offset_mismatch == 2


def test_copies_of_a_failed_message_are_counted_apart_and_do_not_fail_the_check():
    # p0: #0 acknowledged; #1, #2 timed out but written, then written again after #3 — what
    # librdkafka may do after a message timeout bumps the producer epoch
    d = [Delivery(0, 0, None, 0), Delivery(0, 1, "_MSG_TIMED_OUT"),
         Delivery(0, 2, "_MSG_TIMED_OUT"), Delivery(0, 3, None, 3)]
    seen = [Seen(0, o, s) for o, s in enumerate([0, 1, 2, 3, 1, 2])]
    c = check(d, seen)
    assert (c.duplicates, c.duplicates_of_failed) == (2, 2)
    assert (c.reordered, c.reordered_failed) == (2, 2)
    assert c.ok and c.failed_present == 2
    # the same copies of an acknowledged message are a violation
    seen = [Seen(0, o, s) for o, s in enumerate([0, 1, 2, 3, 0])]
    c = check(d, seen)
    assert c.duplicates == 1 and c.duplicates_of_failed == 0 and not c.ok


def test_the_same_offset_read_twice_is_a_redelivery_not_a_duplicate():
    d = [Delivery(0, s, None, s) for s in range(5)]
    seen = [Seen(0, o, o) for o in (0, 1, 2, 3, 2, 3, 4)]
    c = check(d, seen)
    assert c.ok and c.redelivered == 2 and c.duplicates == 0 and c.distinct == 5


def test_a_lower_number_after_a_higher_one_is_reordered():
    d = [Delivery(0, s, None) for s in range(5)]
    seen = [Seen(0, o, s) for o, s in enumerate([0, 2, 1, 3, 4])]
    c = check(d, seen)
    assert c.reordered == 1 and not c.ok
    assert c.samples["reordered"] == ["p0#1@2 after #2"]


def test_order_is_per_partition_and_by_offset_not_by_read_order():
    d = [Delivery(p, s, None) for p in (0, 1) for s in range(3)]
    # interleaved partitions and a redelivered tail: still in order within each partition
    seen = [Seen(1, 0, 0), Seen(0, 0, 0), Seen(1, 1, 1), Seen(0, 1, 1), Seen(0, 2, 2),
            Seen(1, 2, 2), Seen(0, 1, 1)]
    c = check(d, seen)
    assert c.ok and c.reordered == 0 and c.redelivered == 1


def test_a_record_nobody_produced_is_unexpected():
    d = _acked(3)
    seen = [*_read(d), Seen(0, 7, 99), Seen(2, 9, None)]
    c = check(d, seen)
    assert c.unexpected == 2 and not c.ok


def test_messages_without_a_report_are_unreported():
    d = _acked(6)
    c = check(d, _read(d), produced=8)
    assert c.unreported == 2 and not c.ok


def test_an_empty_run_is_trivially_consistent():
    c = check([], [])
    assert c.ok and c.produced == 0


@pytest.mark.parametrize(("written", "committed", "bound"), [
    ({0: 10, 1: 5}, {0: 10, 1: 5}, 0),
    ({0: 10, 1: 5}, {0: 7}, 8),
    ({0: 10}, {0: 12}, 0),
    ({}, {0: 3}, 0),
])
def test_redelivery_bound_is_what_was_processed_but_not_committed(written, committed, bound):
    assert redelivery_bound(written, committed) == bound


@pytest.mark.parametrize(("p", "seq", "size"), [(0, 0, 0), (2, 123456, 100), (1, 7, 10)])
def test_values_round_trip(p, seq, size):
    v = format_value(p, seq, size)
    assert parse_value(v) == (p, seq)
    assert len(v) >= size


@pytest.mark.parametrize("value", [None, b"", b"hello", b"kpoc-chaos p=x seq=1 ",
                                   b"kpoc-chaos q=1 seq=1 ", b"kpoc-chaos p=1"])
def test_foreign_values_are_not_parsed(value):
    assert parse_value(value) is None


def test_reader_files_parse_back_and_a_torn_last_line_is_dropped(tmp_path):
    r = Reader("unused:1", "t", "g", tmp_path)
    first = tmp_path / "reader-0.txt"
    first.write_text("0 0 0 5.0\n1 0 0 5.0\n0 1 - 5.5\n2 0 0 6.25\n1 1 1")  # killed mid-line
    r.files.append(first)
    assert [(s.partition, s.offset, s.seq, s.at) for s in r.poll(final=True)] == [
        (0, 0, 0, 5.0), (1, 0, 0, 5.0), (0, 1, None, 5.5), (2, 0, 0, 6.25)]
    assert r.torn == 1
    second = tmp_path / "reader-1.txt"
    second.write_text("1 1 1 7.0\n1 2")  # still being written: the tail waits for its newline
    r.files.append(second)
    assert [(s.partition, s.offset) for s in r.poll()] == [(1, 1)]
    with second.open("a") as f:
        f.write(" 2 8.0\n")
    assert [(s.partition, s.offset, s.seq, s.at) for s in r.poll()] == [(1, 2, 2, 8.0)]
    assert r.next_offsets() == {0: 2, 1: 3, 2: 1}


def test_group_recovery_counts_from_the_first_ack_after_the_fault_to_the_next_read():
    # The fault ends at 100. Writes are acknowledged again from 104; the group, waiting for a
    # member from before the crash, reads again only at 149: 45 s of group recovery.
    acked = [90.0, 95.0, 104.0, 104.5, 130.0]
    read = [90.1, 95.2, 149.0, 149.0, 150.0]
    assert group_recovery(acked, read, since=100.0) == pytest.approx(45.0)
    # A working group reads within a fetch round trip of the first acknowledgement.
    assert group_recovery(acked, [90.1, 95.2, 104.2], since=100.0) == pytest.approx(0.2)
    # Reads before the writes came back (the backlog) do not count as recovery.
    assert group_recovery([104.0], [101.0, 104.0], since=100.0) == pytest.approx(0.0)
    # The last records read a moment before the producer handled their acknowledgements.
    assert group_recovery([104.0, 104.3], [103.8], since=100.0) == pytest.approx(0.0)


def test_group_recovery_is_zero_when_the_new_records_were_read_before_their_late_acks():
    # Leader killed at 100; the records produced after it were readable (and read) at 102-105,
    # but their retried produce requests were acknowledged only at 114.
    acked, read = [90.0, 114.0, 114.1], [90.1, 102.0, 105.0]
    assert group_recovery(acked, read, since=100.0, new_read_at=[102.0, 105.0]) == 0.0
    # Without reads of records produced after the fault, still no figure: the group read only
    # its backlog and never read again.
    assert group_recovery(acked, [90.1, 101.0], since=100.0, new_read_at=[]) is None


def test_group_recovery_is_none_when_the_group_never_read_again_or_nothing_came_back():
    assert group_recovery([90.0, 104.0], [90.1], since=100.0) is None  # never read again
    assert group_recovery([90.0], [90.1, 101.0], since=100.0) is None  # nothing acknowledged
    assert group_recovery([], [], since=0.0) is None


def test_the_verdict_reports_group_recovery_in_json_and_text():
    f = Fault("SIGKILL nodes 1 and 3", at=10.0, recover_from=30.0, recovery_s=12.0,
              group_recovery_s=44.6)
    v = Verdict(9, "outage-recovery", "t", "topic", 100, 10.0, check([], []), [],
                [f.to_dict(t0=0.0)], 12.0, 1.0, 99.0, group_recovery_s=44.6,
                reader_group={"group.protocol": "classic", "session.timeout.ms": "45000"})
    doc = v.to_dict()
    assert doc["group_recovery_s"] == 44.6 and doc["faults"][0]["group_recovery_s"] == 44.6
    assert doc["reader_group"]["session.timeout.ms"] == "45000"
    assert ("group recovery", "44.6 s (group.protocol=classic, session.timeout.ms=45000)"
            ) in v.rows()


@pytest.mark.parametrize(("protocol", "session_ms", "expected"), [
    (None, None, {"group.protocol": "classic", "session.timeout.ms": "10000"}),  # kpoc's
    ("classic", 10000, {"group.protocol": "classic", "session.timeout.ms": "10000"}),
    ("consumer", None, {"group.protocol": "consumer"}),
])
def test_the_reading_group_has_kpoc_consumes_settings(protocol, session_ms, expected):
    got = reader_settings(protocol, session_ms)
    assert got.items() >= expected.items()
    if protocol == "consumer":  # KIP-848: the broker assigns and keeps the session
        assert not set(got) & set(CLASSIC_ONLY)
    else:
        assert got["partition.assignment.strategy"] == "cooperative-sticky"


def test_a_session_timeout_with_the_consumer_protocol_is_refused():
    with pytest.raises(UsageError, match="classic-protocol setting"):
        reader_settings("consumer", 10000)
    with pytest.raises(UsageError, match="must be positive"):
        reader_settings("classic", 0)


@pytest.mark.parametrize(("group", "partitions", "expected"), [
    ("test", 2**31 - 1, 3556498),         # Java: "test".hashCode() == 3556498
    ("polygenelubricants", 50, 0),        # hashCode() == Integer.MIN_VALUE: Utils.abs gives 0
    ("hash-check-a", 10, 5),              # seen on a cluster: its commit grew partition 5
    ("kpoc-chaos-9-outage-recovery-fe7ea889", 10, 4),  # and this one partition 4
])
def test_a_groups_offsets_partition_is_kafkas(group, partitions, expected):
    assert offsets_partition(group, partitions) == expected


def test_probe_groups_are_named_to_share_the_readers_coordinator():
    name = same_coordinator("kpoc-chaos-9-x", "kpoc-chaos-9-x-kpoc-s45", 50)
    assert name.startswith("kpoc-chaos-9-x-kpoc-s45-")
    assert offsets_partition(name, 50) == offsets_partition("kpoc-chaos-9-x", 50)
