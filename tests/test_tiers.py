"""The fast tier (tests/conftest.py): which tests are fast, and what a fast test may not do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture
def starts_a_cluster(pytestconfig):
    """tests/conftest.py's predicate (imported by path: every conftest is named `conftest`)."""
    root = pytestconfig.pluginmanager.get_plugin(str(ROOT / "tests" / "conftest.py"))
    return root.starts_a_cluster


def test_a_fast_test_sees_no_broker_address(request):
    assert request.node.get_closest_marker("fast") is not None
    assert "KPOC_BOOTSTRAP_SERVERS" not in os.environ


def test_tests_that_use_a_broker_are_not_in_the_fast_tier():
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "fast",
         "-p", "no:cacheprovider", "tests/test_admin.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fast = {line.split("::")[1].split("[")[0] for line in proc.stdout.splitlines() if "::" in line}
    # test_admin.py mixes parsers and a bounded unreachable-cluster check with tests on a broker.
    assert fast == {"test_parse_reset_target", "test_parse_reset_target_rejects",
                    "test_invalid_topic_names", "test_unreachable_cluster_is_bounded"}


@pytest.mark.parametrize("argv", [
    ["java", "-cp", "libs/*", "kafka.Kafka", "server.properties"],
    ["java", "-cp", "libs/*", "kafka.tools.StorageTool", "format"],
    ["python3", "-m", "kpoc", "cluster", "up", "--port", "1"],
    ["python3", "-m", "kpoc", "cluster", "start", "2"],
    ["sh", "-c", "exit", "sh", "python3", "-m", "kpoc.cluster.mock", "1", "/nonexistent"],
])
def test_a_fast_test_cannot_launch_a_cluster(argv, starts_a_cluster):
    assert starts_a_cluster(argv)
    # Run through `true`, so nothing starts should the guard ever let one through.
    with pytest.raises(pytest.fail.Exception, match=r"is fast .* but starts a cluster"):
        subprocess.run(["true", *argv], timeout=5)


def test_other_commands_run(starts_a_cluster):
    assert not starts_a_cluster(["python3", "-m", "kpoc", "cluster", "status"])
    assert subprocess.run(["true", "cluster"], timeout=5).returncode == 0
