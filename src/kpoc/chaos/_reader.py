"""The chaos consumer: a separate process, so a scenario can SIGKILL it mid-batch.

The child (``python -m kpoc.chaos._worker``) reads the topic in a consumer group with the
at-least-once contract — a record's offset is stored only after the record is processed
(``enable.auto.offset.store=false`` + ``store_offsets``), stored offsets are committed every second
and on revoke — and "processes" a record by appending ``partition offset seq time`` to its output
file (the time it was read, so the verdict can tell how long the group took to read again after a
fault). Its group settings (protocol, session timeout) are kpoc's consumer's unless given.
The parent (:class:`Reader`) starts, kills and restarts it, and reads the files back.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from .checker import Seen


class Reader:
    """Parent side: one consumer process at a time, each incarnation writing its own file."""

    def __init__(self, bootstrap: str, topic: str, group: str, workdir: Path,
                 settings: dict[str, str] | None = None, static: bool = False) -> None:
        self.bootstrap, self.topic, self.group = bootstrap, topic, group
        self.settings, self.static = dict(settings or {}), static
        self.workdir = Path(workdir)
        self.proc: subprocess.Popen | None = None
        self.files: list[Path] = []
        self._pos: dict[Path, int] = {}
        self._seen: list[Seen] = []
        self.torn = 0  # incomplete last lines left by a killed incarnation

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> None:
        out = self.workdir / f"reader-{len(self.files)}.txt"
        out.touch()
        self.files.append(out)
        with out.with_suffix(".err").open("wb") as errf:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kpoc.chaos._worker", "--bootstrap", self.bootstrap,
                 "--topic", self.topic, "--group", self.group, "--out", str(out),
                 *(["--static"] if self.static else []),
                 *(arg for k, v in self.settings.items() for arg in ("--setting", f"{k}={v}"))],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf,
            )

    def last_error(self) -> str:
        """The last stderr line of the newest incarnation (why it died, if it did)."""
        if not self.files:
            return ""
        lines = self.files[-1].with_suffix(".err").read_text(errors="replace").splitlines()
        return lines[-1].strip() if lines else ""

    def rejoins(self) -> int:
        """How often a reader replaced its consumer after a fatal error (e.g. fenced)."""
        return sum(f.with_suffix(".err").read_text(errors="replace").count("rejoin: ")
                   for f in self.files)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no close, no final commit."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.poll(final=True)
            self.proc = None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM: the reader finishes its batch, commits and leaves the group."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.poll(final=True)
        self.proc = None

    def poll(self, final: bool = False) -> list[Seen]:
        """Records written since the last call (all incarnations), parsed."""
        new: list[Seen] = []
        for i, f in enumerate(self.files):
            pos = self._pos.get(f, 0)
            with f.open("rb") as fh:
                fh.seek(pos)
                data = fh.read()
            last_file = i == len(self.files) - 1
            cut = data.rfind(b"\n") + 1
            if (final or not last_file) and cut < len(data):
                self.torn += 1
                cut = len(data)  # never completed: skip it
            chunk, self._pos[f] = data[:cut], pos + cut
            for line in chunk.splitlines():
                parts = line.split()
                if len(parts) != 4:
                    continue
                seq = None if parts[2] == b"-" else int(parts[2])
                new.append(Seen(int(parts[0]), int(parts[1]), seq, float(parts[3])))
        self._seen.extend(new)
        return new

    @property
    def seen(self) -> list[Seen]:
        return self._seen

    def next_offsets(self) -> dict[int, int]:
        """Per partition, the offset after the last record processed so far."""
        nxt: dict[int, int] = {}
        for s in self._seen:
            nxt[s.partition] = max(nxt.get(s.partition, 0), s.offset + 1)
        return nxt

    def wait_for_new(self, since: int, timeout: float) -> float | None:
        """Seconds until more than ``since`` records have been read; None if not within bound."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            self.poll()
            if len(self._seen) > since:
                return time.monotonic() - t0
            time.sleep(0.05)
        return None

