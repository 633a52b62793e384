"""Java and the Kafka jars: found, checked, fetched through Maven once."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ..errors import PrerequisiteError
from ._props import KAFKA_VERSION

POM = Path(__file__).with_name("pom.xml")
MIN_JAVA = 17
_MAVEN_TIMEOUT_S = 900


def find_java(env: Mapping[str, str] | None = None) -> str:
    """The ``java`` to run brokers with: ``KPOC_JAVA``, then ``JAVA_HOME``, then PATH."""
    env = os.environ if env is None else env
    candidates = [env.get("KPOC_JAVA")]
    if env.get("JAVA_HOME"):
        candidates.append(str(Path(env["JAVA_HOME"]) / "bin" / "java"))
    candidates.append(shutil.which("java"))
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    raise PrerequisiteError(
        "Java not found (KPOC_JAVA, JAVA_HOME and PATH)",
        f"install Java ≥ {MIN_JAVA} (apt-get install openjdk-17-jre-headless) "
        "or use --engine mock",
    )


def parse_java_major(version_output: str) -> int | None:
    """Major version from ``java -version`` output ('1.8.0_x' → 8, '17.0.15' → 17)."""
    m = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def check_java(java: str) -> int:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30
        ).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PrerequisiteError(f"cannot run {java}: {exc}", "check the Java installation")
    major = parse_java_major(out)
    if major is None or major < MIN_JAVA:
        raise PrerequisiteError(
            f"{java} is Java {major or 'unknown'}, Kafka {KAFKA_VERSION} needs ≥ {MIN_JAVA}",
            "set KPOC_JAVA or JAVA_HOME to a Java 17+ installation",
        )
    return major


def libs_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("KPOC_KAFKA_LIBS"):
        return Path(env["KPOC_KAFKA_LIBS"]).expanduser()
    cache = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "kpoc" / f"kafka-{KAFKA_VERSION}" / "libs"


def ensure_jars(env: Mapping[str, str] | None = None) -> Path:
    """Return the folder of Kafka's jars, fetching them with Maven on first use."""
    libs = libs_dir(env)
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if not mvn:
        raise PrerequisiteError(
            f"Kafka {KAFKA_VERSION} jars are not cached in {libs} and Maven (mvn) is not installed",
            "install Maven (apt-get install maven) or point KPOC_KAFKA_LIBS at Kafka's libs/",
        )
    cmd = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-Dkpoc.libs={libs}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_MAVEN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise PrerequisiteError(
            f"Maven did not fetch the Kafka jars within {_MAVEN_TIMEOUT_S}s",
            "check network access to Maven Central and retry",
        )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["(no output)"]
        raise PrerequisiteError(
            f"Maven failed to fetch the Kafka jars: {tail[0][:200]}",
            f"run `{' '.join(cmd)}` to see the full log",
        )
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise PrerequisiteError(f"Maven ran but {libs} has no kafka_2.13 jar", "check the pom")
    marker.write_text("\n".join(sorted(p.name for p in libs.glob("*.jar"))) + "\n")
    return libs
