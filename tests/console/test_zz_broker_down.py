"""A SIGKILLed broker shows as down in the browser.

Named to run after the other console tests: it kills a node, and tests that create RF-3 topics
must not run while it is down.
"""

from __future__ import annotations

import time

import pytest

from kpoc.errors import PrerequisiteError

from .conftest import SHOTS

pytestmark = pytest.mark.browser


def test_a_killed_broker_is_marked_down(page, cluster):
    manager = cluster.require_manager()
    victim = 3
    assert manager.kill_node(victim)
    try:
        page.goto("/")
        # The overview re-renders itself every 5 s; no reload needed.
        page.wait_for_selector(f'#brokers tr[data-broker="{victim}"].down', timeout=30_000)
        assert page.locator("#brokers .badge.bad").count() == 1
        page.wait_for_function(
            "parseInt(document.getElementById('urp').textContent) > 0", timeout=30_000)
        page.screenshot(path=str(SHOTS / "broker-down.png"), full_page=True)
    finally:
        _restart(manager, victim)


def _restart(manager, node: int) -> None:
    # While the node is down, clients reconnecting to its port can self-connect (a port inside
    # the ephemeral range, e.g. KPOC_TEST_PORT=37092) and hold it in TIME-WAIT for up to 60 s.
    deadline = time.monotonic() + 180
    while True:
        try:
            manager.start_node(node)
            return
        except PrerequisiteError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
