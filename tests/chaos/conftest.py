"""A 3-node cluster of the chaos tests' own, so killing nodes never disturbs the shared one.

It listens on KPOC_TEST_PORT+10.. (client) and +110.. (controller), lives for the module, and
costs one extra cluster start (~10 s on an idle 2-core machine).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from kpoc.cluster import LocalCluster


@pytest.fixture(scope="module")
def chaos_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    if os.environ.get("KPOC_BOOTSTRAP_SERVERS"):
        pytest.skip("chaos needs a kpoc-managed cluster it may kill (KPOC_BOOTSTRAP_SERVERS set)")
    port = int(os.environ.get("KPOC_TEST_PORT", "29092")) + 10
    manager = LocalCluster(tmp_path_factory.mktemp("chaos") / "cluster")
    try:
        manager.up(nodes=3, port=port, timeout=240)
        yield manager
    finally:
        manager.destroy()
