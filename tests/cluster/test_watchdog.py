"""The watchdog that ties a test session's Kafka nodes to the session (no broker: `sleep` stands
in for the JVM and for the pytest process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kpoc.cluster import _watchdog
from kpoc.cluster._watchdog import start_time
from kpoc.cluster.local import _WATCHDOG


def _launch(owner: int, log: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", "-S", _WATCHDOG, str(owner), str(log), *cmd],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
                          start_new_session=True)


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while any(start_time(p) is not None for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return all(start_time(p) is None for p in pids)


def test_the_command_dies_within_the_poll_of_its_owner_being_sigkilled(tmp_path):
    owner = subprocess.Popen(["sleep", "300"])
    pids: list[int] = []
    try:
        r = _launch(owner.pid, tmp_path / "log", "sh", "-c", "echo started; exec sleep 300")
        assert r.returncode == 0, r.stderr
        child = int(r.stdout)
        watchdog = _parent(child)
        pids = [child, watchdog]
        # Not our child (no zombie in a long session), and running while its owner runs.
        assert watchdog != os.getpid() and start_time(child) is not None
        owner.kill()
        owner.wait(10)
        assert _gone(pids, within=_watchdog.POLL + 10), "the command outlived its owner"
        assert (tmp_path / "log").read_text() == "started\n"
    finally:
        owner.kill()
        owner.wait(10)
        for pid in pids:
            if start_time(pid) is not None:
                os.kill(pid, signal.SIGKILL)


def test_the_watchdog_leaves_with_its_command(tmp_path):
    owner = subprocess.Popen(["sleep", "300"])
    try:
        r = _launch(owner.pid, tmp_path / "log", "sleep", "300")
        child = int(r.stdout)
        watchdog = _parent(child)
        os.kill(child, signal.SIGKILL)  # a node killed by a test: the watchdog reaps it, leaves
        assert _gone([child, watchdog], within=10)
        assert start_time(owner.pid) is not None
    finally:
        owner.kill()
        owner.wait(10)


def test_nothing_starts_for_an_owner_that_is_gone(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait(10)
    r = _launch(dead.pid, tmp_path / "log", "sleep", "300")
    assert r.returncode == 1 and f"process {dead.pid} is not running" in r.stderr
    assert r.stdout == "" and not (tmp_path / "log").exists()
