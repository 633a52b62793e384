"""The wheel and sdist, installed into a fresh venv, give a working `kpoc` (slow: builds and
installs from the package index)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

import kpoc

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.slow


def _run(cmd: list[str], timeout: float = 600, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (wheel,) = out.glob("kpoc-*.whl")
    (sdist,) = out.glob("kpoc-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


def _pip_install(root: Path, what: str) -> None:
    proc = _run([str(root / "bin" / "python"), "-m", "pip", "install", "-q",
                 "--disable-pip-version-check", what])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.fixture(scope="module")
def bare(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[Path, dict[str, subprocess.CompletedProcess[str]]]:
    """A fresh venv with the wheel alone (`pip install kpoc`): what its library and its `kpoc`
    command did, before the `venv` fixture adds the extras."""
    root = tmp_path_factory.mktemp("venv") / "v"
    proc = _run([sys.executable, "-m", "venv", str(root)])
    assert proc.returncode == 0, proc.stderr
    _pip_install(root, str(dist["wheel"]))
    seen = {
        "freeze": _run([str(root / "bin" / "python"), "-m", "pip", "freeze"]),
        "import": _run([str(root / "bin" / "python"), "-c",
                        "from kpoc import Producer, Consumer, Admin, DeliveryReport, Record; "
                        "import kpoc.aio; print('ok')"], cwd=root),
        "command": _run([str(root / "bin" / "kpoc"), "--version"], cwd=root),
    }
    return root, seen


@pytest.fixture(scope="module")
def venv(bare: tuple[Path, dict[str, subprocess.CompletedProcess[str]]],
         dist: dict[str, Path]) -> Path:
    """The same venv with the wheel's [console] extra (the CLI and the web console) added."""
    root = bare[0]
    _pip_install(root, f"{dist['wheel']}[console]")
    return root


def test_bare_wheel_is_the_library_only_and_its_command_says_what_to_install(bare):
    _, seen = bare
    installed = {line.split("==")[0].lower() for line in seen["freeze"].stdout.splitlines()}
    assert "confluent-kafka" in installed
    assert not installed & {"click", "rich", "fastapi", "uvicorn", "jinja2", "cryptography"}
    assert seen["import"].stdout.strip() == "ok", seen["import"].stderr
    command = seen["command"]
    assert command.returncode == 3 and command.stdout == ""
    assert command.stderr.count("\n") == 1 and "Traceback" not in command.stderr
    assert "pip install 'kpoc[cli]'" in command.stderr


def _package_data() -> list[str]:
    """Non-Python files under src/kpoc that must ship (pom, console templates and assets)."""
    src = ROOT / "src" / "kpoc"
    return sorted(
        str(p.relative_to(src.parent)) for p in src.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    )


def test_wheel_and_sdist_carry_the_package_data(dist):
    wanted = _package_data()
    assert "kpoc/cluster/pom.xml" in wanted
    names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    assert set(wanted) <= names, set(wanted) - names
    with tarfile.open(dist["sdist"]) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    assert {f"src/{w}" for w in wanted} <= members
    assert "README.md" in members and "pyproject.toml" in members


@pytest.fixture
def venv_env(venv: Path, kpoc_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in kpoc_env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def run_venv(venv: Path, venv_env: dict[str, str], tmp_path: Path
             ) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the venv's `kpoc` from an empty directory, so nothing of the checkout is importable."""
    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(venv / "bin" / "kpoc"), *args], input=input,
                              capture_output=True, text=True, timeout=120, env=venv_env,
                              cwd=tmp_path)
    return run


def test_venv_kpoc_is_the_installed_wheel(venv, venv_env, tmp_path, run_venv):
    proc = run_venv("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"kpoc, version {kpoc.__version__}"
    where = _run([str(venv / "bin" / "python"), "-c",
                  "import kpoc, pathlib; p = pathlib.Path(kpoc.__file__).parent; "
                  "print(p); print((p / 'cluster' / 'pom.xml').is_file())"],
                 env=venv_env, cwd=tmp_path)
    location, has_pom = where.stdout.split()
    assert str(venv) in location and str(ROOT) not in location
    assert has_pom == "True"
    console = run_venv("console", "--help")  # imports the web stack the wheel depends on
    assert console.returncode == 0 and "Example" in console.stdout, console.stderr


def test_venv_kpoc_talks_to_the_cluster(run_venv, make_topic, cluster):
    topic = make_topic()
    proc = run_venv("doctor", "--topic", topic, "-o", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    if cluster.manager is not None:
        status = run_venv("cluster", "status", "-o", "json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["running"] == 3


def test_venv_kpoc_produces_and_consumes(run_venv, make_topic, unique_name):
    topic = make_topic()
    sent = [f"from-the-wheel-{i}" for i in range(5)]
    proc = run_venv("produce", "-t", topic, "-k", "w", *sent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_venv("consume", topic, "-g", unique_name("g"), "--from", "beginning", "-e",
                    "-o", "json", "-q")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["value"] for r in records] == sent  # one key, one partition: order kept
    assert {r["topic"] for r in records} == {topic}
