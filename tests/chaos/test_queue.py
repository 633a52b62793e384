"""The queue scenario on the shared cluster: only a share-group member dies, no broker."""

from __future__ import annotations

from kpoc.chaos.queue import run_share_kill


def test_sigkilled_share_member_loses_nothing_and_redeliveries_are_counted(cluster):
    figures, criteria = run_share_kill(cluster.bootstrap_servers, 1500, 500)
    failed = [c for c in criteria if not c[1]]
    assert not failed, (failed, figures)
    assert figures["missing"] == 0 and figures["redelivered_records"] > 0
