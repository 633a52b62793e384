"""The container stack test runs only when asked for: ``-m containers`` (make test-containers)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "containers" in (config.getoption("markexpr") or ""):
        return
    left_out = [i for i in items if i.get_closest_marker("containers") is not None]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [i for i in items if i.get_closest_marker("containers") is None]
