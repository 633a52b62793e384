"""Running each tool once on identical work, and reading its figures.

Every tool runs as a child process reaped with ``os.wait4``, which gives that process's own peak
RSS. A run returns a :class:`Sample`; a failed run returns one with ``error`` set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cluster import find_java, libs_dir

JAVA_HEAP = "1g"


@dataclass
class Proc:
    returncode: int
    wall_s: float
    max_rss_mb: float
    stdout: str
    stderr: str


@dataclass
class Sample:
    """One run of one tool: the figure(s) it produced, or why it failed."""

    tool: str
    run: int
    figures: dict[str, float] = field(default_factory=dict)
    max_rss_mb: float = 0.0
    wall_s: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "run": self.run, "figures": self.figures,
                "max_rss_mb": round(self.max_rss_mb, 1), "wall_s": round(self.wall_s, 3),
                "error": self.error}


def run_measured(
    cmd: Sequence[str], timeout: float, stdin_path: str | None = None,
    stdout_devnull: bool = False, env: Mapping[str, str] | None = None,
) -> Proc:
    """Run ``cmd`` to completion (killed after ``timeout``); wall time and peak RSS from wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errf:
        stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            start = time.monotonic()
            proc = subprocess.Popen(
                list(cmd), stdin=stdin,
                stdout=subprocess.DEVNULL if stdout_devnull else out, stderr=errf,
                env=dict(env) if env is not None else None,
            )
        finally:
            if stdin_path:
                stdin.close()  # type: ignore[union-attr]
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        errf.seek(0)
        rc = proc.returncode
        if rc == -9 and wall >= timeout:
            rc = 124
        return Proc(rc, wall, usage.ru_maxrss / 1024, out.read().decode(errors="replace"),
                    errf.read().decode(errors="replace"))


def _fail(tool: str, run: int, p: Proc, what: str) -> Sample:
    lines = [ln for ln in (p.stderr + p.stdout).strip().splitlines() if ln.strip()]
    why = "timed out" if p.returncode == 124 else f"exit {p.returncode}"
    last = lines[-1][:200] if lines else "(no output)"
    return Sample(tool, run, max_rss_mb=p.max_rss_mb, wall_s=p.wall_s,
                  error=f"{what}: {why}: {last}")


# -- kpoc ----
def kpoc_job(spec: dict[str, Any], timeout: float) -> Proc:
    return run_measured([sys.executable, "-m", "kpoc.bench._worker", json.dumps(spec)], timeout)


def kpoc_result(p: Proc) -> dict[str, Any] | None:
    if p.returncode != 0:
        return None
    for line in reversed(p.stdout.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    return None


# -- kcat ----
def kcat_path() -> str | None:
    return shutil.which("kcat") or shutil.which("kafkacat")


def kcat_version() -> str:
    kcat = kcat_path()
    if not kcat:
        return "not installed"
    try:
        text = subprocess.run([kcat, "-V"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(r"Version (\S+).*?librdkafka (\S+)", text, re.S)
    return f"kcat {m.group(1)}, librdkafka {m.group(2)}" if m else text.strip()[:80]


def xargs(props: Mapping[str, str]) -> list[str]:
    return [a for k, v in props.items() for a in ("-X", f"{k}={v}")]


# -- Java tools ----
def java_cmd(tool: str, *args: str) -> list[str]:
    return [find_java(), f"-Xmx{JAVA_HEAP}", "-cp", f"{libs_dir()}/*",
            f"org.apache.kafka.tools.{tool}", *args]


def java_version() -> str:
    try:
        text = subprocess.run([find_java(), "-version"], capture_output=True, text=True,
                              timeout=30).stderr
    except Exception:
        return "unknown"
    return text.strip().splitlines()[0] if text.strip() else "unknown"


def write_properties(path: Path, props: Mapping[str, str]) -> str:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    return str(path)


_PP = re.compile(r"(\d+) records sent, ([\d.]+) records/sec")


def parse_producer_performance(text: str) -> tuple[int, float] | None:
    """(records, records/s) from ProducerPerformance's final summary line."""
    found = _PP.findall(text)
    if not found:
        return None
    n, rate = found[-1]
    return int(n), float(rate)


def parse_consumer_performance(text: str) -> dict[str, float] | None:
    """The CSV row ConsumerPerformance prints under its header, as a dict."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if ln.startswith("start.time") and i + 1 < len(lines):
            keys = [k.strip() for k in ln.split(",")]
            vals = [v.strip() for v in lines[i + 1].split(",")]
            out: dict[str, float] = {}
            for k, v in zip(keys, vals, strict=False):
                try:
                    out[k] = float(v)
                except ValueError:
                    continue
            return out
    return None


_E2E = re.compile(r"50th = ([\d.]+), 99th = ([\d.]+), 99\.9th = ([\d.]+)")


def parse_end_to_end_latency(text: str) -> dict[str, float] | None:
    m = _E2E.search(text)
    if not m:
        return None
    return {"p50_ms": float(m.group(1)), "p99_ms": float(m.group(2)),
            "p99_9_ms": float(m.group(3))}
