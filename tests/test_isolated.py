"""kpoc._isolated: group admin calls in a child process that may die (librdkafka issue 4605)."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from kpoc._isolated import AdminProcess
from kpoc.config import ClientConfig
from kpoc.errors import ClusterError, KafkaUnavailable, NotFound


def _fake_python(tmp_path: Path, body: str) -> str:
    """An executable standing in for the child's interpreter: what the child does, scripted."""
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_a_child_killed_by_sigabrt_is_replaced_and_the_call_answered(cluster, caplog):
    with AdminProcess(ClientConfig(cluster.bootstrap_servers)) as groups:
        before = {g.group_id for g in groups.list_groups()}
        pid = groups.pid
        assert pid is not None
        os.kill(pid, signal.SIGABRT)  # what librdkafka's failed assertion does
        deadline = time.monotonic() + 30
        while os.path.exists(f"/proc/{pid}") and "zombie" not in _state(pid):
            assert time.monotonic() < deadline, "the child did not die of SIGABRT"
            time.sleep(0.05)
        with caplog.at_level(logging.WARNING, "kpoc.isolated"):
            after = {g.group_id for g in groups.list_groups()}
        assert before <= after
        assert groups.deaths == 1 and groups.pid not in (None, pid)
        # Found dead when the call began, or dying under it: either way said, and counted once.
    assert "(killed by SIGABRT)" in caplog.text


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def test_kafka_errors_come_back_as_kpoc_errors(cluster, unique_name):
    with AdminProcess(ClientConfig(cluster.bootstrap_servers)) as groups:
        with pytest.raises(NotFound, match="does not exist"):
            groups.describe_group(unique_name("no-such-group"))
        assert groups.deaths == 0


def test_a_second_death_raises_a_cluster_error_naming_the_signal(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "kill -ABRT $$"))
    groups = AdminProcess(ClientConfig("127.0.0.1:1"))
    with pytest.raises(ClusterError, match=r"admin process died \(killed by SIGABRT\) during "
                                           r"describe_group.*issue 4605"):
        groups.describe_group("g")
    assert groups.deaths == 2 and groups.pid is None


def test_a_child_that_never_answers_is_killed_at_the_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "exec sleep 300"))
    groups = AdminProcess(ClientConfig("127.0.0.1:1"), bound=1.0)
    groups.start()
    pid = groups.pid
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match="list_groups got no answer within 1 s"):
        groups.list_groups()
    assert time.monotonic() - started < 15
    assert groups.pid is None and not Path(f"/proc/{pid}/cmdline").exists()


def test_a_dropped_admin_process_takes_its_child_with_it():
    groups = AdminProcess(ClientConfig("127.0.0.1:1"))
    groups.start()
    pid = groups.pid
    assert pid is not None and Path(f"/proc/{pid}").exists()
    del groups
    gc.collect()
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, "the child outlived its AdminProcess"
        time.sleep(0.05)


def test_a_child_whose_call_timed_out_is_replaced():
    """A librdkafka handle that timed out after a coordinator's loss can stay wedged: the
    child goes with its call, the next call gets a new one."""
    groups = AdminProcess(ClientConfig("127.0.0.1:1", timeout=1))
    with groups:
        groups.start()
        first = groups.pid
        with pytest.raises(KafkaUnavailable, match=r"127\.0\.0\.1:1"):
            groups.list_groups()
        assert groups.pid is None and not Path(f"/proc/{first}/cmdline").exists()
        with pytest.raises(KafkaUnavailable):
            groups.describe_group("g")
        assert groups.deaths == 0
