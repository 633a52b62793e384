"""The console's lag sampler and `kpoc groups describe` through a SIGKILL of the coordinator.

librdkafka aborts a process (``rdkafka_queue.h … Assertion 'eonce->refcnt > 0'``, librdkafka
issue 4605) when a group description is in flight to a coordinator that dies; both the console's
lag sampler and `kpoc groups describe` make that call, in a child process (kpoc._isolated) whose
abort is contained. Everything under test runs as a real `kpoc` process, so an abort that got
through would show as a process killed by SIGABRT instead of killing pytest.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest

from kpoc.admin import Admin
from kpoc.config import ClientConfig
from kpoc.errors import KpocError

from .conftest import free_port, produce, wait_for
from .test_broker_down import _restart

pytestmark = pytest.mark.disrupts_cluster

#: How long the coordinator stays down while the sampler and describe run against the group.
OUTAGE_S = 15.0


def _last_sample(url: str, group: str) -> float:
    """When the console's newest lag sample of ``group`` was taken (0: none yet). Not a count:
    the history keeps a bounded number of samples, which a fast sampler fills in minutes."""
    try:
        r = httpx.get(f"{url}/api/groups/{group}/lag-history", timeout=10)
    except httpx.HTTPError:
        return 0.0
    samples = r.json().get("samples", []) if r.status_code == 200 else []
    return float(samples[-1]["time"]) if samples else 0.0


def _contained(stderr: str) -> bool:
    """No abort, or each one was a child's: the parent said so and asked again."""
    return stderr.count("Assertion") <= stderr.count("the admin process")


def _coordinator(admin: Admin, group: str) -> int | None:
    try:
        return admin.describe_group(group).coordinator
    except KpocError:  # a fresh topic's leaders may still move
        return None


@pytest.mark.timeout(600)  # a node restart takes 10-60 s on a loaded 2-core machine
def test_lag_sampler_and_describe_survive_a_coordinator_kill(
        cluster, kpoc_env, make_topic, unique_name, members, run_kpoc):
    manager = cluster.require_manager()
    topic, group = make_topic(), unique_name("g")
    produce(cluster.bootstrap_servers, topic, [f"v{i}" for i in range(30)])
    members(cluster.bootstrap_servers, group, topic, 2)
    with Admin(ClientConfig(cluster.bootstrap_servers, timeout=10)) as admin:
        coordinator = wait_for(lambda: _coordinator(admin, group), 60, "the group's coordinator")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    console = subprocess.Popen(
        [sys.executable, "-m", "kpoc", "console", "--port", str(port), "--sample-interval",
         "0.3", "--timeout", "3"], env=kpoc_env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    codes: list[int] = []
    try:
        wait_for(lambda: _last_sample(url, group) > 0, 60, "lag samples of the group")
        assert manager.kill_node(coordinator)
        try:
            end = time.monotonic() + OUTAGE_S
            while time.monotonic() < end:
                r = run_kpoc("groups", "describe", group, "--timeout", "3", timeout=60)
                codes.append(r.returncode)
                # A negative code is a signal: -6 is librdkafka's assertion abort.
                assert r.returncode >= 0 and _contained(r.stderr), r.stderr
                assert console.poll() is None, "the console died while its coordinator did"
        finally:
            _restart(manager, coordinator, cluster)  # the cluster handed back whole
        assert console.poll() is None, "the console died"
        # The sampler goes on: new samples of the group once its coordinator is back.
        back = time.time()
        try:
            wait_for(lambda: _last_sample(url, group) > back, 120, "new lag samples after it")
        except AssertionError as exc:
            history = httpx.get(f"{url}/api/groups/{group}/lag-history", timeout=10).json()
            listed = httpx.get(f"{url}/api/groups", timeout=30).text
            raise AssertionError(f"{exc}; sampler error: {history.get('sampler_error')}; "
                                 f"last sample {back - _last_sample(url, group):.0f} s before "
                                 f"the restart; /api/groups: {listed[:600]}") from None
        after = wait_for(lambda: run_kpoc("groups", "describe", group, "--timeout", "10",
                                          timeout=60).returncode == 0, 90, "describe to work")
        assert after
    finally:
        console.terminate()
        try:
            _, err = console.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            console.kill()
            _, err = console.communicate(timeout=10)
    # Stopped by our SIGTERM: uvicorn shuts down, then re-raises it (-15); an abort is -6.
    assert console.returncode in (0, -signal.SIGTERM) and _contained(err), \
        (console.returncode, err[-2000:])
    assert codes, "describe never ran while the coordinator was down"
