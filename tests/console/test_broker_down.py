"""A SIGKILLed broker shows as down in the browser.

It kills a node of the session cluster and hands the cluster back as it found it: the node
restarted and every partition's replicas in sync again, so no test before or after depends on the
order. The console under test runs as the real `kpoc console` process, so its Kafka clients live
outside pytest while the node dies and comes back.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from kpoc.errors import ClusterError, PrerequisiteError

from .conftest import SHOTS, free_port, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.disrupts_cluster]


@pytest.fixture
def console_process(kpoc_env):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kpoc", "console", "--port", str(port),
                             "--sample-interval", "0"], env=kpoc_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return httpx.get(f"{url}/api/session", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 60, "kpoc console to answer")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_killed_broker_is_marked_down(browser, console_process, cluster):
    manager = cluster.require_manager()
    victim = 3
    ctx = browser.new_context(base_url=console_process, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    page.goto("/")
    assert page.locator("#brokers .badge.ok").count() == 3
    assert manager.kill_node(victim)
    try:
        # The overview re-renders itself every 5 s; no reload needed. "Within a few seconds":
        # the page marks the node down on the next refresh or the one after.
        page.wait_for_selector(f'#brokers tr[data-broker="{victim}"].down', timeout=20_000)
        assert page.locator("#brokers .badge.bad").count() == 1
        page.wait_for_function(
            "parseInt(document.getElementById('urp').textContent) > 0", timeout=30_000)
        page.screenshot(path=str(SHOTS / "broker-down.png"), full_page=True)
    finally:
        ctx.close()
        _restart(manager, victim, cluster)


def _restart(manager, node: int, cluster) -> None:
    # While the node is down, clients reconnecting to its port can self-connect when the port is
    # inside the ephemeral range (e.g. KPOC_TEST_PORT=37092) and hold it in TIME-WAIT a while.
    deadline = time.monotonic() + 240
    while True:
        try:
            manager.start_node(node)
            break
        except ClusterError:
            break  # started but slow to rejoin on a loaded machine: wait below
        except PrerequisiteError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    admin = cluster.admin()

    def whole() -> bool:
        md = admin.list_topics(timeout=5)
        return len(md.brokers) == 3 and all(
            len(p.isrs) == len(p.replicas) for t in md.topics.values()
            for p in t.partitions.values())

    wait_for(whole, max(deadline - time.monotonic(), 60),
             f"node {node} to rejoin and every replica to be back in sync")
