"""The chaos checker: what the producer was told against what a consumer read back.

Plain functions over plain data, so they are tested without a broker. A message is identified by
``(partition, seq)``: the producer numbers the messages of each partition 0, 1, 2 … and writes the
number into the value. A consumed record also carries the offset it was read at, which tells a
*re-delivery* (the same offset read twice, as at-least-once allows after a consumer crash) from a
*duplicate* (the same message written twice, at two offsets — what the idempotent producer must
prevent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

__all__ = [
    "Delivery",
    "DeliveryCheck",
    "Seen",
    "check",
    "format_value",
    "group_recovery",
    "parse_value",
    "redelivery_bound",
]

_PREFIX = b"kpoc-chaos"


def format_value(partition: int, seq: int, size: int = 0) -> bytes:
    """The value of message ``seq`` of ``partition``, padded with '.' to ``size`` bytes."""
    v = b"%s p=%d seq=%d " % (_PREFIX, partition, seq)
    return v + b"." * max(0, size - len(v))


def parse_value(value: bytes | None) -> tuple[int, int] | None:
    """``(partition, seq)`` from a value written by :func:`format_value`; None for anything else."""
    if not value or not value.startswith(_PREFIX):
        return None
    try:
        _, p, s = value.split(b" ", 3)[:3]
        if not (p.startswith(b"p=") and s.startswith(b"seq=")):
            return None
        return int(p[2:]), int(s[4:])
    except ValueError:
        return None


@dataclass(frozen=True)
class Delivery:
    """One produced message and what its delivery report said (``error`` None = acknowledged)."""

    partition: int
    seq: int
    error: str | None = None
    offset: int | None = None


@dataclass(frozen=True)
class Seen:
    """One record as a consumer read it. ``seq`` None: a value this run did not write; ``at``:
    when it was read (``time.monotonic()``, the same clock in every process of the host)."""

    partition: int
    offset: int
    seq: int | None
    at: float | None = None


@dataclass
class DeliveryCheck:
    """Counts a verdict is built from; the samples name a few offenders for the report."""

    produced: int = 0
    acknowledged: int = 0
    failed: int = 0
    unreported: int = 0
    consumed: int = 0
    distinct: int = 0
    missing: int = 0
    duplicates: int = 0
    reordered: int = 0
    duplicates_of_failed: int = 0
    reordered_failed: int = 0
    redelivered: int = 0
    unexpected: int = 0
    failed_present: int = 0
    offset_mismatch: int = 0
    samples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Nothing acknowledged lost, nothing written twice or out of order, nothing invented.

        Copies and disorder of messages reported *failed* do not count: a timed-out message is
        "possibly persisted", and after a timeout librdkafka bumps the producer epoch, so a
        retried in-flight batch may land twice (librdkafka issue 4953). They are counted apart.
        """
        return not (self.missing or self.duplicates - self.duplicates_of_failed
                    or self.reordered - self.reordered_failed or self.unexpected
                    or self.unreported or self.offset_mismatch)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def _sample(samples: dict[str, list[str]], kind: str, item: str, limit: int = 5) -> None:
    lst = samples.setdefault(kind, [])
    if len(lst) < limit:
        lst.append(item)


def check(deliveries: Iterable[Delivery], seen: Iterable[Seen], produced: int | None = None
          ) -> DeliveryCheck:
    """Compare delivery reports with consumed records.

    - **missing**: acknowledged, never consumed — the promise broken.
    - **duplicates**: one message found at more than one offset (counted once per extra copy);
      ``duplicates_of_failed`` of them are copies of messages reported failed.
    - **reordered**: in a partition, read in offset order, a message whose number is lower than
      one before it; ``reordered_failed`` of them are messages reported failed.
    - **redelivered**: a record consumed again at an offset already consumed (allowed by
      at-least-once; reported, and bounded by the caller).
    - **unexpected**: a record this run did not produce, or a value it cannot read.
    - **failed_present**: reported failed but in the log anyway — a timed-out message is only
      "possibly persisted", so this is information, not a violation.
    - **offset_mismatch**: an acknowledged offset holding another message.
    - **unreported**: produced without any delivery report (``produced`` minus reports).
    """
    c = DeliveryCheck()
    acked: dict[tuple[int, int], int | None] = {}
    failed: set[tuple[int, int]] = set()
    for d in deliveries:
        key = (d.partition, d.seq)
        if d.error is None:
            acked[key] = d.offset
        else:
            failed.add(key)
    c.acknowledged, c.failed = len(acked), len(failed)
    reports = c.acknowledged + c.failed
    c.produced = reports if produced is None else produced
    c.unreported = max(0, c.produced - reports)

    at_offset: dict[tuple[int, int], int | None] = {}
    for s in seen:
        c.consumed += 1
        if (s.partition, s.offset) in at_offset:
            c.redelivered += 1
            continue
        at_offset[(s.partition, s.offset)] = s.seq
    c.distinct = len(at_offset)

    copies: dict[tuple[int, int], int] = {}
    last: dict[int, int] = {}
    for (partition, offset), seq in sorted(at_offset.items()):
        if seq is None:
            c.unexpected += 1
            _sample(c.samples, "unexpected", f"p{partition}@{offset}")
            continue
        key = (partition, seq)
        if key not in acked and key not in failed:
            c.unexpected += 1
            _sample(c.samples, "unexpected", f"p{partition}#{seq}@{offset}")
        copies[key] = copies.get(key, 0) + 1
        if copies[key] > 1:
            c.duplicates += 1
            c.duplicates_of_failed += key in failed
            _sample(c.samples, "duplicates", f"p{partition}#{seq}@{offset}")
        if partition in last and seq < last[partition]:
            c.reordered += 1
            c.reordered_failed += key in failed
            _sample(c.samples, "reordered", f"p{partition}#{seq}@{offset} after #{last[partition]}")
        last[partition] = max(seq, last.get(partition, seq))

    for key, acked_at in sorted(acked.items()):
        if key not in copies:
            c.missing += 1
            _sample(c.samples, "missing", f"p{key[0]}#{key[1]}")
        elif acked_at is not None and acked_at >= 0 and (
                at_offset.get((key[0], acked_at), key[1]) != key[1]):
            c.offset_mismatch += 1
            _sample(c.samples, "offset_mismatch", f"p{key[0]}#{key[1]}@{acked_at}")
    c.failed_present = sum(1 for key in failed if key in copies)
    return c


def group_recovery(acked_at: Iterable[float], read_at: Iterable[float], since: float,
                   new_read_at: Sequence[float] = ()) -> float | None:
    """How long the reading group took to consume again after a fault, in seconds.

    Counted from the first acknowledgement at or after ``since`` (the fault's end as the group can
    see it: the cluster takes writes again, so there is something new to read) to the first record
    read at or after that acknowledgement. A group that works reads it within a fetch round trip;
    a group that waits (for a member that will never rejoin, for a coordinator) shows the wait.
    None: nothing was acknowledged after ``since``, or nothing was read after that.

    A consumer can read a record a moment before its producer has handled the record's
    acknowledgement (both follow the same high watermark): reads up to :data:`ACK_SLACK` seconds
    before it count, as 0. Without that, a short run whose last records were read just before
    their acknowledgements were handled had no recovery figure at all.

    ``new_read_at``: when records *produced at or after* ``since`` were read. An acknowledgement
    can come seconds after its record was readable (a produce request that timed out on the
    producer's side while the leader changed, retried, and deduplicated by the broker). When
    every record read after the first such acknowledgement came more than ACK_SLACK before it,
    but records produced after the fault were read, the group had read the new records before
    the producer knew they were written: 0. (Seen in CI, leader-kill: the third kill's
    acknowledgements came 14 s after the fault, every new record had been read already.)
    """
    avail = min((t for t in acked_at if t >= since), default=None)
    if avail is None:
        return None
    read = min((t for t in read_at if t >= avail - ACK_SLACK), default=None)
    if read is None:
        return 0.0 if new_read_at else None
    return max(read - avail, 0.0)


#: Seconds a read may precede the acknowledgement it answers (see :func:`group_recovery`).
ACK_SLACK = 1.0


def redelivery_bound(written: Mapping[int, int], committed: Mapping[int, int]) -> int:
    """Records processed but not committed when a consumer died: what it may see again.

    ``written``: per partition, the next offset after the last record processed;
    ``committed``: per partition, the group's committed offset (absent = nothing committed, so
    everything processed from the start of the partition, offset 0 here, counts).
    """
    return sum(max(0, nxt - committed.get(p, 0)) for p, nxt in written.items())
