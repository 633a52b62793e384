"""The queue scenario: SIGKILL a share-group member mid-batch (KIP-932).

Three member processes read a fresh topic in a share group while numbered messages are produced.
At the checkpoint one member is killed while it holds acquired, unacknowledged records. Kafka
redelivers them to the others once their lock expires (the scenario sets the group's
``share.record.lock.duration.ms`` to the broker's minimum, 15 s) or the broker sees the member
gone. The verdict: no acknowledged message missing, and every redelivery counted (a record seen
again always carries a delivery count above 1).

Only a consumer dies here, so this runs on any cluster with share groups, not just kpoc's own.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..admin import Admin
from ..config import ClientConfig
from ..share import require_share_groups
from ._load import Checkpoint, Load
from .checker import Seen, check

MEMBERS = 3
LOCK_MS = 15_000  # group.share.min.record.lock.duration.ms
#: After the last report. Measured: the dead member's records came back ~45 s after it died
#: (its share session timing out, group.share.min.session.timeout.ms), not at the 15 s lock.
CATCH_UP_BOUND = 90.0


def _read(path: Path) -> list[tuple[int, int, int | None, int]]:
    """``partition offset seq delivery_count`` lines; a line torn by the kill is skipped."""
    out = []
    data = path.read_bytes() if path.exists() else b""
    for line in data[:data.rfind(b"\n") + 1].splitlines():
        p = line.split()
        if len(p) == 4:
            out.append((int(p[0]), int(p[1]), None if p[2] == b"-" else int(p[2]), int(p[3])))
    return out


def run_share_kill(bootstrap: str, messages: int, rate: float,
                   progress: Callable[[str], None] = lambda _m: None, keep_topic: bool = False
                   ) -> tuple[dict[str, Any], list[tuple[str, bool, str]]]:
    """Run the scenario; returns (figures, criteria as (name, ok, detail))."""
    config = ClientConfig(bootstrap, timeout=30)
    require_share_groups(config)
    topic = group = f"kpoc-chaos-share-kill-{uuid.uuid4().hex[:8]}"
    with Admin(config) as admin:
        admin.create_topic(topic, 3, 3, {"min.insync.replicas": "2"})
        admin.set_group_configs(group, {"share.auto.offset.reset": "earliest",
                                        "share.record.lock.duration.ms": str(LOCK_MS)})
    work = Path(tempfile.mkdtemp(prefix="kpoc-chaos-share-"))
    files = [work / f"member-{i}.txt" for i in range(MEMBERS)]

    def spawn(i: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "kpoc.chaos._share_worker", "--bootstrap", bootstrap,
             "--topic", topic, "--group", group, "--out", str(files[i])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    t0 = time.monotonic()
    procs = [spawn(i) for i in range(MEMBERS)]
    load = Load(bootstrap, topic, 3, messages, rate)
    cp = Checkpoint(int(0.4 * messages), threading.Event(), threading.Event())
    fault: dict[str, Any] = {}

    def script() -> None:
        cp.reached.wait(600)
        # Kill while the victim is in the middle of its batch: it has handled some records
        # since it last fetched and holds the rest acquired.
        deadline = time.monotonic() + 30
        while len(_read(files[0])) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        fault["read_before"] = len(_read(files[0]))
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        fault["at"] = time.monotonic()
        progress(f"t+{fault['at'] - t0:5.1f}s  SIGKILL share member 0 (pid {procs[0].pid}) "
                 f"after {fault['read_before']} records")
        cp.released.set()

    th = threading.Thread(target=script, daemon=True)
    th.start()
    caught_up = None
    try:
        load.run([cp])
        th.join(60)
        load.flush(60)
        acked = load.acked_keys()
        t_reports = time.monotonic()
        progress(f"t+{t_reports - t0:5.1f}s  {len(acked)} acknowledged; waiting for the "
                 "members (locked records come back after the lock)")
        while time.monotonic() - t_reports < CATCH_UP_BOUND:
            have = {(p, s) for f in files for p, _, s, _ in _read(f) if s is not None}
            if acked <= have:
                caught_up = time.monotonic() - t_reports
                break
            time.sleep(0.25)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        load.close()
    rows = [r for f in files for r in _read(f)]
    c = check(load.deliveries(), [Seen(p, o, s) for p, o, s, _ in rows], produced=load.sent)
    counts: dict[tuple[int, int], list[int]] = defaultdict(list)
    for part, off, _, dc in rows:
        counts[(part, off)].append(dc)
    again = {k: v for k, v in counts.items() if len(v) > 1}
    # Every copy after the first is a redelivery Kafka counted: its delivery counts are distinct
    # and at least one is above 1.
    uncounted = [k for k, v in again.items() if len(set(v)) != len(v) or max(v) < 2]
    redelivered = sum(1 for v in counts.values() if max(v) > 1)
    criteria = [
        ("a member was SIGKILLed mid-batch", "at" in fault,
         f"after {fault.get('read_before', 0)} records" if "at" in fault else "never"),
        ("no acknowledged message missing", c.missing == 0, f"{c.missing} missing"),
        ("nothing consumed that was not produced", c.unexpected == 0, f"{c.unexpected}"),
        ("the killed member's records were redelivered", redelivered > 0,
         f"{redelivered} record(s) delivered more than once"),
        ("every redelivery counted (delivery count > 1)", not uncounted,
         f"{len(uncounted)} seen again without a higher count"),
        (f"members caught up within {CATCH_UP_BOUND:g}s of the last report",
         caught_up is not None, "-" if caught_up is None else f"{caught_up:.1f}s"),
    ]
    figures = {"topic": topic, "produced": load.sent, "acknowledged": c.acknowledged,
               "consumed": c.consumed, "distinct": c.distinct, "missing": c.missing,
               "redelivered_records": redelivered, "catch_up_s": caught_up,
               "duration_s": round(time.monotonic() - t0, 1)}
    if all(ok for _, ok, _ in criteria):
        shutil.rmtree(work, ignore_errors=True)
    else:
        figures["workdir"] = str(work)
    if not keep_topic:
        try:
            with Admin(config) as admin:
                admin.delete_topic(topic)
        except Exception:
            pass
    return figures, criteria
