"""Share-group consumption against a classic group, same topic, same run (``kpoc bench``).

A sample: N member processes join a fresh group (``classic``: a consumer group, 1 member;
``share-1`` / ``share-4``: a share group) on a fresh 3-partition topic. Once the group has
assigned every member — and one share heartbeat (5 s) later, so each member knows it — kpoc's
load mode writes ``count`` messages. Each member stamps its first and last record (wall clock,
one machine); the figure is ``count / (last − first)`` over all members. Members run until the
group's lag, as Kafka defines it for the group's type, is 0.

``python -m kpoc.bench._share '<json>'`` is one member.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

from ..admin import Admin
from ..config import ClientConfig
from ..errors import KpocError
from ._tools import Sample

HEARTBEAT_S = 6.0  # group.share.heartbeat.interval.ms (5 s) and a margin


def _member(spec: dict[str, Any]) -> int:
    from ..consumer import Consumer
    from ..share import ShareReader

    config = ClientConfig(spec["bootstrap"], timeout=30)
    n, first, last = 0, 0.0, 0.0
    reader: Any
    if spec["mode"] == "classic":
        reader = Consumer(config, [spec["topic"]], spec["group"])
        stream = reader.messages()
    else:
        reader = ShareReader(config, [spec["topic"]], spec["group"], start="end")
        stream = reader.deliveries()
    signal.signal(signal.SIGTERM, lambda *_: reader.stop())
    with reader:
        for _ in stream:
            last = time.time()
            if not n:
                first = last
            n += 1
    print(json.dumps({"messages": n, "first": first, "last": last}), flush=True)
    return 0


def share_once(bootstrap: str, mode: str, members: int, count: int, size: int, run: int,
               topic: str, group: str) -> Sample:
    """One sample of ``mode`` (classic | share) with ``members`` member processes."""
    from ..load import run_load

    tool = "classic" if mode == "classic" else f"share-{members}"
    config = ClientConfig(bootstrap, timeout=30)
    spec = {"bootstrap": bootstrap, "topic": topic, "group": group, "mode": mode}
    procs = [subprocess.Popen([sys.executable, "-m", "kpoc.bench._share", json.dumps(spec)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(members)]
    try:
        with Admin(config) as admin:
            admin.wait_members(group, members, "SHARE" if mode == "share" else None, 90)
            if mode == "share":
                time.sleep(HEARTBEAT_S)
            run_load(config, topic, count, size)
            _drained(admin, group, count, procs)
    except KpocError as exc:
        return Sample(tool, run, error=str(exc))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
    rows = []
    for p in procs:
        try:
            out, errs = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            return Sample(tool, run, error="a member did not stop within 60s")
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        if p.returncode != 0 or not lines:
            return Sample(tool, run, error=f"member failed: {errs.strip()[-300:]}")
        rows.append(json.loads(lines[-1]))
    got = sum(r["messages"] for r in rows)
    active = [r for r in rows if r["messages"]]
    if got < count or not active:
        return Sample(tool, run, error=f"{got} of {count} received")
    seconds = max(r["last"] for r in active) - min(r["first"] for r in active)
    rate = count / seconds if seconds > 0 else 0.0
    return Sample(tool, run, {"msgs_per_s": rate, "mb_per_s": rate * size / 1e6,
                              "seconds": seconds, "members_with_records": len(active),
                              "received": got})


def _drained(admin: Admin, group: str, count: int, procs: list[subprocess.Popen]) -> None:
    """Until the group's lag is 0 on every partition that holds records (bounded)."""
    deadline = time.monotonic() + 120 + count / 2000
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise KpocError("a member exited early")
        info = admin.describe_group(group)
        held = [x for x in info.lags if x.high]
        if (sum(x.high or 0 for x in held) >= count
                and all(x.lag == 0 for x in held)):
            return
        time.sleep(0.5)
    raise KpocError(f"group {group} still had lag after the bound")


if __name__ == "__main__":
    sys.exit(_member(json.loads(sys.argv[1])))
