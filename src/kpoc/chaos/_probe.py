"""Group recovery, measured: ``kpoc consume`` processes whose output growth is timed.

Scenario 9 runs one per group setting (classic with two ``session.timeout.ms`` values, and the
KIP-848 consumer protocol), each in a group of its own, next to the chaos reader. When the
brokers come back, the time until each one's output grows again is how long its group took to
work again: a dynamic member can wait for the members the new coordinator reloaded from before
the crash to expire (issue 17, defect 4).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path


class Growth:
    """Samples a file's size every 0.2 s on a daemon thread, with the time of each sample."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                size = self.path.stat().st_size
            except OSError:
                size = 0
            self.samples.append((time.monotonic(), size))

    def size(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def grew_after(self, t: float) -> float | None:
        """Seconds from ``t`` until the file first grew past its size at ``t``."""
        base = max((s for ts, s in self.samples if ts <= t), default=0)
        return next((ts - t for ts, s in self.samples if ts > t and s > base), None)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class KpocConsumer:
    """A ``kpoc consume`` process in its own group, printing one offset per record; ``args``
    are its group options (``--group-protocol consumer``, ``-X session.timeout.ms=…``)."""

    def __init__(self, bootstrap: str, topic: str, group: str, workdir: Path,
                 args: list[str]) -> None:
        out = workdir / f"{group}.out"
        self._out = out.open("wb")
        self._err = out.with_suffix(".err").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kpoc", "consume", topic, "-g", group, "-b", bootstrap,
             "-q", "-f", "%o\\n", *args],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err)
        self.growth = Growth(out)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.growth.stop()
        self._out.close()
        self._err.close()
