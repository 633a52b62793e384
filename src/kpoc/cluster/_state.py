"""``<data-dir>/cluster.json``: what every engine records about the cluster it runs there."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ClusterError

STATE_FILE = "cluster.json"


def read_state(data_dir: Path) -> dict | None:
    """The recorded state, or None when there is no cluster in ``data_dir``."""
    path = data_dir / STATE_FILE
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        raise ClusterError(f"cluster state {path} is unreadable: {exc}",
                           "run `kpoc cluster destroy` to start afresh")
