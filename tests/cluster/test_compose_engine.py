"""The engine step of `make test-containers` (containers/engine.sh): when no Docker engine
answers and dockerd cannot start, one line and a non-zero exit, within its bound; never a hang.

A stand-in `dockerd` on PATH plays the engine that fails (as on a machine without cgroups) or
never answers; DOCKER_HOST points at a socket nobody serves, so `docker info` cannot answer.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

ENGINE = Path(__file__).parents[2] / "containers" / "engine.sh"


def _run(tmp_path: Path, dockerd_body: str, wait: int = 60) -> tuple[subprocess.CompletedProcess,
                                                                     float]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dockerd"
    fake.write_text(f"#!/bin/sh\n{dockerd_body}\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "DOCKER_HOST": f"unix://{tmp_path}/nobody.sock",
           "KPOC_DOCKERD_STATE": str(tmp_path / "state"), "KPOC_DOCKERD_WAIT": str(wait)}
    t = time.monotonic()
    r = subprocess.run(["bash", str(ENGINE), "start"], env=env, capture_output=True, text=True,
                       timeout=120)
    return r, time.monotonic() - t


def _one_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.fixture(autouse=True)
def _root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("engine.sh starts dockerd only as root (else it says so and fails)")


def test_an_engine_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    r, took = _run(tmp_path, 'echo "failed to start daemon: Devices cgroup isn\'t mounted" >&2\n'
                             "exit 1")
    line = _one_line(r)
    assert line.startswith("engine: dockerd exited at start: failed to start daemon: Devices "
                           "cgroup isn't mounted"), line
    assert took < 30
    assert not (tmp_path / "state" / "dockerd.pid").exists()


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_an_engine_that_never_answers_is_stopped_within_the_bound(tmp_path: Path) -> None:
    pid_file = tmp_path / "fake.pid"
    r, took = _run(tmp_path, f"echo $$ > {pid_file}; exec sleep 600", wait=3)
    line = _one_line(r)
    assert line.startswith("engine: dockerd did not answer within 3s"), line
    assert took < 60
    pid = int(pid_file.read_text())  # it did run, and engine.sh stopped it
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _gone(pid)
