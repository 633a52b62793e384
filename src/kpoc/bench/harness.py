"""The benchmark: kpoc against kcat and Kafka's Java tools, on identical work, same cluster.

Scenarios (each run ``runs`` times, the order of tools rotating every run so machine noise hits
all of them alike):

- produce: every line of one payload file, acks=all, into a fresh 3-partition RF 3 topic;
- consume: the same messages read back from the start of one topic;
- latency: end-to-end (send → receipt) percentiles, one message at a time as EndToEndLatency
  measures them, and for kpoc alone at a fixed rate;
- share (only with ``--only share``): a share group of 1 and of 4 members against a classic
  group of 1 reading the same amount (see :mod:`kpoc.bench._share`).
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from .._version import __version__
from ..cluster import KAFKA_VERSION, LocalCluster
from ..config import ClientConfig
from ..errors import PrerequisiteError
from . import _tools as t
from ._share import share_once
from ._tools import Sample
from .report import FIGURES

Progress = Callable[[str], None]

#: Producer settings every tool gets (Java and librdkafka share these names and meanings).
PRODUCER_PROPS = {
    "acks": "all",
    "linger.ms": "5",
    "batch.size": "262144",
    "compression.type": "lz4",
    "enable.idempotence": "true",
}
#: Settings that exist on one side only, listed with the results.
DIFFERENCES = [
    "librdkafka (kcat, kpoc): batch.num.messages=10000; local queue: kcat 100k messages "
    "(library default), kpoc's load mode 100k messages / 256 MiB; kpoc's load mode asks for "
    "failure reports only (delivery.report.only.error), kcat counts every report in C; Java "
    "has no per-batch message cap and a 32 MiB buffer.memory.",
    "consumers: library defaults (fetch.max.bytes 50 MiB, max.partition.fetch.bytes 1 MiB on "
    "both), kpoc with its own consumer defaults (fetch.queue.backoff.ms=10); kcat -C and kpoc "
    "assign partitions directly, ConsumerPerformance joins a group (its figure is "
    "fetch.nMsg.sec, which excludes the group join).",
    "warm-up: before the first measured run, unmeasured kpoc runs of the first produce "
    "scenario (8 in the full run) and one read-back warm the brokers' JIT for every tool.",
    "kcat is timed as process wall time minus a baseline (the quickest of 5 runs of the same "
    "kcat command on a 1-message file / 3-message topic: start, connect, tear down), measured "
    "in the same run (raw wall time if the run is under 4× the baseline, counted in "
    "kcat_unsubtracted); "
    "kpoc and the Java tools time themselves from first send (or subscription) to last "
    "ack (or message).",
    "latency, one at a time: kpoc and EndToEndLatency run the same experiment (send one "
    "message, wait for its acknowledgement and for the consumer to receive it, then send the "
    "next; linger.ms=0, acks=all, the first round trip left out by kpoc). EndToEndLatency "
    "prints whole milliseconds, truncated; kpoc's figures are exact, so the ratio slightly "
    "favours Java. EndToEndLatency's consumer sets fetch.max.wait.ms=0; kpoc's keeps the "
    "library default (500 ms), which does not delay a fetch once data is there.",
    "latency at a fixed rate: kpoc only (no peer tool sends at a fixed rate and measures "
    "send-to-receipt): kpoc's load mode (linger.ms=0, acks=all) with a kpoc consumer in "
    "another process; the first second of messages warms up connections and is not counted.",
]

TOOLS = {"produce": ("kcat", "java", "kpoc"), "consume": ("kcat", "java", "kpoc"),
         "latency": ("java", "kpoc"), "latency-rate": ("kpoc",),
         "share": ("classic", "share-1", "share-4")}
#: The Python API rows: (scenario, tool) → worker job (see kpoc.bench._api_jobs). "raw" is
#: confluent-kafka used directly, "sync" kpoc's sync Producer as the asyncio row's peer.
API_JOBS = {
    ("api-produce", "raw"): "raw-produce", ("api-produce", "kpoc"): "api-produce",
    ("api-consume", "raw"): "raw-consume", ("api-consume", "kpoc"): "api-consume",
    ("aio-produce", "sync"): "api-produce", ("aio-produce", "kpoc"): "aio-produce",
}
API_TITLES = {"api-produce": "API Producer.send", "api-consume": "API Consumer",
              "aio-produce": "API kpoc.aio gather"}
#: What EndToEndLatency sets for its producer; kpoc's latency runs use the same.
LATENCY_PROPS = {"linger.ms": "0", "acks": "all"}
TOOL_NAMES = {"kcat": "kcat", "java": "Kafka Java tool", "kpoc": "kpoc"}


@dataclass(frozen=True)
class Settings:
    quick: bool = False
    runs: int = 5
    produce: tuple[tuple[int, int], ...] = ((100, 1_000_000), (1024, 200_000))
    latency_rate: int = 5000
    latency_seconds: float = 30.0
    latency_size: int = 100
    java_latency_count: int = 1000
    memory_count: int = 10_000_000
    #: Share groups vs a classic group (``--only share``): messages × 100 B per sample.
    share_count: int = 100_000
    scenarios: tuple[str, ...] = ("produce", "consume", "latency", "api")
    #: Unmeasured kpoc runs of the first produce scenario before any measured one.
    warm_up_rounds: int = 8
    #: Messages (100 B) of the Python API rows, and of the asyncio row.
    api_count: int = 1_000_000
    aio_count: int = 100_000

    @classmethod
    def make(cls, quick: bool, runs: int | None, scenarios: tuple[str, ...]) -> Settings:
        if quick:
            return cls(quick=True, runs=runs or 1, produce=((100, 50_000), (1024, 10_000)),
                       latency_rate=1000, latency_seconds=5.0, java_latency_count=300,
                       memory_count=200_000, warm_up_rounds=1, share_count=20_000,
                       api_count=50_000, aio_count=20_000,
                       scenarios=scenarios or cls.scenarios)
        return cls(runs=runs or 5, scenarios=scenarios or cls.scenarios)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": "quick" if self.quick else "full", "runs": self.runs,
            "produce": [{"size": s, "count": c} for s, c in self.produce],
            "latency": {"rate": self.latency_rate, "seconds": self.latency_seconds,
                        "size": self.latency_size, "java_count": self.java_latency_count},
            "memory": {"count": self.memory_count, "size": 100},
            "warm_up": {"rounds": self.warm_up_rounds, "size": self.produce[0][0],
                        "count": self.produce[0][1], "tool": "kpoc", "then": "one read-back"},
            "producer_properties": PRODUCER_PROPS, "latency_properties": LATENCY_PROPS,
            "differences": DIFFERENCES,
            "java_heap": t.JAVA_HEAP, "scenarios": list(self.scenarios),
            "api": {"count": self.api_count, "aio_count": self.aio_count, "size": 100},
        }


@dataclass
class BenchScenario:
    name: str  # e.g. "produce-100"
    kind: str  # produce | consume | latency
    size: int
    count: int
    samples: list[Sample] = field(default_factory=list)
    rate: int | None = None  # a fixed-rate latency scenario
    title: str | None = None  # the Python API rows name what they compare


def _label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n % 1000 == 0 else str(n))


# -- payloads ----
_WORDS = ("order", "user", "click", "view", "cart", "checkout", "search", "home", "product",
          "price", "eur", "usd", "mobile", "desktop", "lisbon", "porto", "ok", "retry", "true",
          "false", "null", "session", "page", "item")


def payload_file(folder: Path, size: int, count: int) -> Path:
    """A file of ``count`` newline-separated ``size``-byte JSON-like payloads (made once)."""
    path = folder / f"payload-{size}x{count}.txt"
    if path.exists() and path.stat().st_size == (size + 1) * count:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    r = random.Random(size * 7919 + count)
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="ascii") as f:
        for i in range(count):
            head = (f'{{"seq":{i},"user":"u{r.randrange(100000)}",'
                    f'"event":"{r.choice(_WORDS)}","ts":{1764000000000 + i},"data":"')
            body = " ".join(r.choices(_WORDS, k=size // 4))
            f.write((head + body)[: size - 2] + '"}\n')
    tmp.replace(path)
    return path


# -- the cluster and topics ----
class Bench:
    def __init__(self, bootstrap: str, settings: Settings, workdir: Path,
                 progress: Progress) -> None:
        self.bootstrap = bootstrap
        self.settings = settings
        self.workdir = workdir
        self.progress = progress
        self.config = ClientConfig(bootstrap, {}, 30.0)
        self.topics: list[str] = []
        self.baselines: dict[str, float] = {}
        self.unsubtracted = 0

    def topic(self, prefix: str) -> str:
        """A fresh 3 × RF 3 topic, ready (every leader answers) when this returns."""
        from ..admin import Admin

        name = f"bench-{prefix}-{uuid.uuid4().hex[:8]}"
        with Admin(self.config) as admin:
            admin.create_topic(name, 3, 3)
        self.topics.append(name)
        return name

    def message_count(self, topic: str) -> int:
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "kpoc-bench-count"})
        try:
            md = c.list_topics(topic, timeout=10).topics[topic]
            return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                       for p in md.partitions)
        finally:
            c.close()

    def cleanup(self) -> None:
        from .._client import admin_client

        if self.topics:
            admin_client(self.config).delete_topics(self.topics, operation_timeout=30)

    # -- produce -----------------------------------------------------------------------------------
    def produce_once(self, tool: str, run: int, size: int, count: int, payload: Path,
                     produced: dict[int, str]) -> Sample:
        topic = self.topic(f"p{size}-{tool}")
        done = RUNNERS[tool].produce(self, run, topic, count, payload, 120 + count / 2000)
        if isinstance(done, Sample):
            return done
        p, seconds = done
        landed = self.message_count(topic)
        if landed != count:
            return Sample(tool, run, max_rss_mb=p.max_rss_mb, wall_s=p.wall_s,
                          error=f"{landed} of {count} messages landed in {topic}")
        produced.setdefault(size, topic)
        return _throughput(tool, run, count, size, seconds, p)

    def memory_once(self, run: int, count: int, size: int) -> Sample:
        """kpoc's load mode over many messages: its peak RSS must stay bounded."""
        topic = self.topic("memory")
        p = t.kpoc_job({"job": "produce-synthetic", "bootstrap": self.bootstrap, "topic": topic,
                        "count": count, "size": size, "properties": PRODUCER_PROPS,
                        "timeout": 30}, 120 + count / 2000)
        res = t.kpoc_result(p)
        if res is None:
            return t._fail("kpoc", run, p, "kpoc produce (memory)")
        landed = self.message_count(topic)
        if landed != count:
            return Sample("kpoc", run, max_rss_mb=p.max_rss_mb, wall_s=p.wall_s,
                          error=f"{landed} of {count} messages landed in {topic}")
        # 1 GB × 3 replicas for 10M × 100 B: not kept for the rest of the run.
        self._drop(topic)
        return _throughput("kpoc", run, count, size, float(res["seconds"]), p)

    def warm_up(self, payload: Path, count: int, rounds: int) -> None:
        """Unmeasured writes and a read-back before the first measured run. Fresh brokers run
        their produce path slowly at first (JIT): on new clusters, eight kpoc 1M × 100 B runs in
        a row took 6.5, 4.7, 3.4, 3.4, 3.1, 2.5, 2.2, 1.6 s (and 5.9 … 2.0 s with the heap
        preallocated, so it is not heap growth); kcat's runs drop the same way, so without this
        whichever tool ran first lost."""
        for r in range(rounds):
            before = len(self.topics)
            sample = self.produce_once("kpoc", -1 - r, 0, count, payload, {})
            self.progress(f"  warm-up round {r + 1}/{rounds}: "
                          + (sample.error or f"{sample.figures['msgs_per_s']:,.0f} msgs/s"))
            if len(self.topics) > before and r < rounds - 1:
                self._drop(self.topics.pop())
        if self.topics:
            self.consume_once("kpoc", -1, 0, count, self.topics[-1])

    def _drop(self, topic: str) -> None:
        from .._client import admin_client

        admin_client(self.config).delete_topics([topic], operation_timeout=30)

    # -- consume -----------------------------------------------------------------------------------
    def consume_once(self, tool: str, run: int, size: int, count: int, topic: str) -> Sample:
        done = RUNNERS[tool].consume(self, run, topic, count, 120 + count / 2000)
        if isinstance(done, Sample):
            return done
        p, seconds = done
        return _throughput(tool, run, count, size, seconds, p)

    # -- latency -----------------------------------------------------------------------------------
    def latency_once(self, tool: str, run: int) -> Sample:
        return RUNNERS[tool].latency(self, run, self.topic(f"e2e-{tool}"))

    def rate_latency_once(self, run: int) -> Sample:
        s = self.settings
        count = int(s.latency_rate * s.latency_seconds)
        base = {"bootstrap": self.bootstrap, "topic": self.topic("e2e-rate"), "count": count,
                "warmup": s.latency_rate, "properties": LATENCY_PROPS, "timeout": 30}
        return _kpoc_latency(run, base, s)

    # -- Python API --------------------------------------------------------------------------------
    def api_once(self, scenario: str, tool: str, run: int, count: int, payload: Path,
                 topic: str | None = None) -> Sample:
        """One Python API job; a produce job writes into a topic of its own, dropped after."""
        job = API_JOBS[(scenario, tool)]
        own = topic is None
        topic = topic or self.topic(f"{scenario}-{tool}")
        p = t.kpoc_job({"job": job, "bootstrap": self.bootstrap, "topic": topic,
                        "payload_file": str(payload), "count": count,
                        "properties": PRODUCER_PROPS}, 120 + count / 2000)
        if own:
            self._drop(topic)
            self.topics.remove(topic)
        res = t.kpoc_result(p)
        if res is None or res["messages"] != count:
            return t._fail(tool, run, p, f"{job} got {res and res['messages']}")
        sample = _throughput(tool, run, count, 100, float(res["seconds"]), p)
        if sample.figures:
            sample.figures["main_cpu_us"] = float(res["main_cpu_s"]) / count * 1e6
        return sample

    def kcat_seconds(self, wall: float, which: str) -> float:
        """kcat's wall time less its start-up baseline; the raw wall time (counted in
        ``kcat_unsubtracted``) when the run is too short for the subtraction to mean anything."""
        net = wall - self.baselines.get(which, 0.0)
        if net >= 0.25 * wall:
            return net
        self.unsubtracted += 1
        return wall

    def kcat_baselines(self) -> None:
        """kcat's own start, connect and tear-down time, subtracted from its wall time."""
        kcat = t.kcat_path()
        if kcat is None:
            return
        topic = self.topic("baseline")
        one = self.workdir / "one-line.txt"
        one.write_text("x\n")
        prod, cons = [], []
        # Five, not three: on a fresh cluster each broker's first idempotent producer waits for
        # a block of producer ids from the controller, so up to three runs can start cold.
        for _ in range(5):
            p = t.run_measured([kcat, "-P", "-q", "-b", self.bootstrap, "-t", topic,
                                *t.xargs(PRODUCER_PROPS)], 60, stdin_path=str(one))
            prod.append(p.wall_s)
        for _ in range(5):
            p = t.run_measured([kcat, "-C", "-q", "-e", "-o", "beginning", "-c", "3",
                                "-b", self.bootstrap, "-t", topic], 60, stdout_devnull=True)
            cons.append(p.wall_s)
        self.baselines = {"kcat-produce": min(prod), "kcat-consume": min(cons)}
        self.progress("kcat start-up baselines: produce {kcat-produce:.3f}s, "
                      "consume {kcat-consume:.3f}s".format(**self.baselines))


def _throughput(tool: str, run: int, count: int, size: int, seconds: float, p: t.Proc) -> Sample:
    if seconds <= 0:
        return Sample(tool, run, max_rss_mb=p.max_rss_mb, wall_s=p.wall_s,
                      error=f"non-positive duration {seconds:.3f}s")
    rate = count / seconds
    return Sample(tool, run, {"msgs_per_s": rate, "mb_per_s": rate * size / 1e6,
                              "seconds": seconds}, p.max_rss_mb, p.wall_s)


def _kpoc_latency(run: int, base: dict[str, Any], s: Settings) -> Sample:
    import json

    cons = subprocess.Popen(
        [sys.executable, "-m", "kpoc.bench._worker", json.dumps({**base, "job": "e2e-consume"})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready = cons.stdout.readline() if cons.stdout else ""  # bounded: consumer times out
        if ready.strip() != "ready":
            cons.kill()
            _, errtext = cons.communicate(timeout=30)
            return Sample("kpoc", run, error=f"latency consumer did not start: {errtext[-200:]}")
        p = t.kpoc_job({**base, "job": "e2e-produce", "size": s.latency_size,
                        "rate": s.latency_rate}, 60 + (s.latency_seconds + 1) * 2)
        if p.returncode != 0:
            cons.kill()
            return t._fail("kpoc", run, p, "kpoc latency producer")
        outtext, errtext = cons.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        cons.kill()
        cons.communicate()
        return Sample("kpoc", run, error="latency consumer did not finish within 90s")
    res = t.kpoc_result(t.Proc(cons.returncode, 0.0, 0.0, outtext, errtext))
    if res is None or res["messages"] < base["count"]:
        got = res["messages"] if res else 0
        return Sample("kpoc", run, error=f"latency consumer received {got} of {base['count']}")
    return Sample("kpoc", run, _latency_figures(res), p.max_rss_mb, p.wall_s)


def _latency_figures(res: dict[str, Any]) -> dict[str, float]:
    return {k: float(res[k]) for k in FIGURES["latency"]}

# -- the tools compared, one runner each ----
#: What a runner's produce or consume gives back: the process and the seconds the work took by
#: the tool's own account, or a failed :class:`Sample`.
Done = tuple[t.Proc, float] | Sample


class Runner(Protocol):
    """One tool of the comparison: how it writes a file's lines, reads a topic's messages and
    measures end-to-end latency, each as a measured child process."""

    def produce(self, bench: Bench, run: int, topic: str, count: int, payload: Path,
                bound: float) -> Done: ...

    def consume(self, bench: Bench, run: int, topic: str, count: int, bound: float) -> Done: ...

    def latency(self, bench: Bench, run: int, topic: str) -> Sample: ...


class KpocRunner:
    name = "kpoc"

    def produce(self, bench: Bench, run: int, topic: str, count: int, payload: Path,
                bound: float) -> Done:
        p = t.kpoc_job({"job": "produce", "bootstrap": bench.bootstrap, "topic": topic,
                        "payload_file": str(payload), "properties": PRODUCER_PROPS,
                        "timeout": 30}, bound)
        res = t.kpoc_result(p)
        if res is None:
            return t._fail(self.name, run, p, "kpoc produce")
        return p, float(res["seconds"])

    def consume(self, bench: Bench, run: int, topic: str, count: int, bound: float) -> Done:
        p = t.kpoc_job({"job": "consume", "bootstrap": bench.bootstrap, "topic": topic,
                        "count": count, "timeout": 30}, bound)
        res = t.kpoc_result(p)
        if res is None or res["messages"] != count:
            return t._fail(self.name, run, p, f"kpoc consume got {res and res['messages']}")
        return p, float(res["seconds"])

    def latency(self, bench: Bench, run: int, topic: str) -> Sample:
        s = bench.settings
        p = t.kpoc_job({"job": "e2e-pingpong", "bootstrap": bench.bootstrap, "topic": topic,
                        "count": s.java_latency_count, "size": s.latency_size,
                        "properties": LATENCY_PROPS, "timeout": 30},
                       60 + s.java_latency_count * 0.2)
        res = t.kpoc_result(p)
        if res is None or res["messages"] != s.java_latency_count:
            return t._fail(self.name, run, p, "kpoc ping-pong latency")
        return Sample(self.name, run, _latency_figures(res), p.max_rss_mb, p.wall_s)


class KcatRunner:
    name = "kcat"

    def _kcat(self, run: int) -> str | Sample:
        kcat = t.kcat_path()
        return kcat if kcat is not None else Sample(
            self.name, run, error="kcat is not installed (make system-deps)")

    def produce(self, bench: Bench, run: int, topic: str, count: int, payload: Path,
                bound: float) -> Done:
        kcat = self._kcat(run)
        if isinstance(kcat, Sample):
            return kcat
        p = t.run_measured([kcat, "-P", "-q", "-b", bench.bootstrap, "-t", topic,
                            *t.xargs(PRODUCER_PROPS)], bound, stdin_path=str(payload))
        if p.returncode != 0:
            return t._fail(self.name, run, p, "kcat -P")
        return p, bench.kcat_seconds(p.wall_s, "kcat-produce")

    def consume(self, bench: Bench, run: int, topic: str, count: int, bound: float) -> Done:
        kcat = self._kcat(run)
        if isinstance(kcat, Sample):
            return kcat
        p = t.run_measured([kcat, "-C", "-q", "-e", "-o", "beginning", "-c", str(count),
                            "-b", bench.bootstrap, "-t", topic], bound, stdout_devnull=True)
        if p.returncode != 0:
            return t._fail(self.name, run, p, "kcat -C")
        return p, bench.kcat_seconds(p.wall_s, "kcat-consume")

    def latency(self, bench: Bench, run: int, topic: str) -> Sample:
        return Sample(self.name, run, error="kcat has no end-to-end latency mode")


class JavaRunner:
    """Kafka's own performance tools (ProducerPerformance, ConsumerPerformance,
    EndToEndLatency), from the cluster's jars."""

    name = "java"

    def produce(self, bench: Bench, run: int, topic: str, count: int, payload: Path,
                bound: float) -> Done:
        p = t.run_measured(t.java_cmd(
            "ProducerPerformance", "--bootstrap-server", bench.bootstrap, "--topic", topic,
            "--num-records", str(count), "--throughput", "-1", "--payload-file",
            str(payload), "--command-property",
            *[f"{k}={v}" for k, v in PRODUCER_PROPS.items()]), bound)
        parsed = t.parse_producer_performance(p.stdout)
        if p.returncode != 0 or parsed is None:
            return t._fail(self.name, run, p, "ProducerPerformance")
        return p, parsed[0] / parsed[1] if parsed[1] else 0.0

    def consume(self, bench: Bench, run: int, topic: str, count: int, bound: float) -> Done:
        p = t.run_measured(t.java_cmd(
            "ConsumerPerformance", "--bootstrap-server", bench.bootstrap, "--topic", topic,
            "--num-records", str(count), "--timeout", "30000",
            "--group", f"kpoc-bench-{uuid.uuid4().hex[:8]}"), bound)
        row = t.parse_consumer_performance(p.stdout)
        if p.returncode != 0 or not row or row.get("data.consumed.in.nMsg") != count:
            return t._fail(self.name, run, p, "ConsumerPerformance")
        rate = row.get("fetch.nMsg.sec", 0.0)
        return p, count / rate if rate else 0.0

    def latency(self, bench: Bench, run: int, topic: str) -> Sample:
        s = bench.settings
        p = t.run_measured(t.java_cmd(
            "EndToEndLatency", "--bootstrap-server", bench.bootstrap, "--topic", topic,
            "--num-records", str(s.java_latency_count), "--producer-acks", "all",
            "--record-size", str(s.latency_size)), 60 + s.java_latency_count * 0.2)
        figs = t.parse_end_to_end_latency(p.stdout)
        if p.returncode != 0 or figs is None:
            return t._fail(self.name, run, p, "EndToEndLatency")
        return Sample(self.name, run, figs, p.max_rss_mb, p.wall_s)


RUNNERS: dict[str, Runner] = {r.name: r for r in (KpocRunner(), KcatRunner(), JavaRunner())}



# -- the whole run ----
def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        mem_gb = 0.0
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb,
            "os": platform.platform(), "python": platform.python_version(),
            "load_avg_start": [round(x, 2) for x in os.getloadavg()]}


def versions() -> dict[str, str]:
    import confluent_kafka

    v = confluent_kafka.version()
    return {"kpoc": __version__, "confluent_kafka": v[0] if isinstance(v, tuple) else str(v),
            "librdkafka (kpoc)": confluent_kafka.libversion()[0], "kcat": t.kcat_version(),
            "kafka": KAFKA_VERSION, "java": t.java_version()}


def run(
    settings: Settings,
    *,
    bootstrap: str | None = None,
    port: int = 28092,
    data_dir: Path | None = None,
    keep_cluster: bool = False,
    workdir: Path,
    progress: Progress,
) -> dict[str, Any]:
    """Run every scenario; return the raw results (see :mod:`kpoc.bench.report`)."""
    t0 = time.monotonic()
    if not t.libs_dir().exists():
        raise PrerequisiteError("Kafka's jars (Java tools) are not cached",
                                "run `kpoc cluster fetch` (or `make setup`)")
    own: LocalCluster | None = None
    tmp: str | None = None
    if bootstrap is None:
        if data_dir is None:
            tmp = tempfile.mkdtemp(prefix="kpoc-bench-")
            data_dir = Path(tmp) / "cluster"
        # Destroyed at the end unless kept: then it also dies with us, even on SIGKILL.
        own = LocalCluster(data_dir, owner=None if keep_cluster else os.getpid())
        progress(f"starting a 3-node cluster on port {port} in {data_dir}")
        try:
            bootstrap, _ = own.up(nodes=3, port=port, timeout=120)
        except BaseException:
            own.destroy()  # a cluster that did not come up in time still has JVMs running
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
    result: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(), "versions": versions(), "settings": settings.to_dict(),
        "cluster": {"bootstrap": bootstrap, "nodes": 3, "managed": own is not None},
    }
    bench = Bench(bootstrap, settings, workdir, progress)
    scenarios: list[BenchScenario] = []
    try:
        scenarios = _run_scenarios(bench, settings, progress)
    finally:
        with contextlib.suppress(Exception):
            bench.cleanup()
        if own is not None and not keep_cluster:
            own.destroy()
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
    result["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["kcat_baselines_s"] = {k: round(v, 3) for k, v in bench.baselines.items()}
    result["kcat_unsubtracted"] = bench.unsubtracted
    result["scenarios"] = [
        {"name": s.name, "kind": s.kind, "size": s.size, "count": s.count, "rate": s.rate,
         "title": s.title, "samples": [x.to_dict() for x in s.samples]} for s in scenarios
    ]
    result["import_time_ms"] = import_times()
    result["elapsed_s"] = round(time.monotonic() - t0, 1)
    return result


def import_times(runs: int = 5) -> dict[str, float]:
    """Cumulative ``python -X importtime`` of ``import kpoc`` (the library), of confluent-kafka
    alone and of kpoc's CLI, in ms: the quickest of ``runs`` fresh interpreters each."""
    best: dict[str, float] = {}
    for _ in range(runs):
        for module in ("kpoc", "confluent_kafka", "kpoc.cli"):
            p = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                               capture_output=True, text=True, timeout=60)
            last = p.stderr.strip().splitlines()[-1] if p.returncode == 0 else ""
            if last.startswith("import time:"):
                us = int(last.split("|")[1])
                best[module] = min(best.get(module, us / 1000), us / 1000)
    return best


def _order(tools: tuple[str, ...], run: int) -> list[str]:
    k = run % len(tools)
    return list(tools[k:] + tools[:k])


def _run_scenarios(bench: Bench, s: Settings, progress: Progress) -> list[BenchScenario]:
    out: list[BenchScenario] = []
    if "produce" in s.scenarios or "consume" in s.scenarios:
        size, count = s.produce[0]
        progress(f"warm-up: produce and read back {_label(count)} × {size} B, not measured")
        bench.warm_up(payload_file(bench.workdir, size, count), count, s.warm_up_rounds)
        bench.kcat_baselines()
        out += _run_throughput(bench, s, progress)
    if "produce" in s.scenarios:
        sc = BenchScenario("produce-100-memory", "produce", 100, s.memory_count)
        out.append(sc)
        progress(f"kpoc produce {_label(s.memory_count)} × 100 B: peak RSS (one run)")
        sample = bench.memory_once(0, s.memory_count, 100)
        _note(progress, sample)
        sc.samples.append(sample)
    if "api" in s.scenarios:
        out += _run_api(bench, s, progress)
    if "latency" in s.scenarios:
        out.append(_rounds(BenchScenario("latency", "latency", s.latency_size,
                                         s.java_latency_count),
                           s.runs, TOOLS["latency"], "end-to-end latency, one at a time",
                           bench.latency_once, progress))
        count = int(s.latency_rate * s.latency_seconds)
        out.append(_rounds(BenchScenario("latency-rate", "latency", s.latency_size, count,
                                         rate=s.latency_rate),
                           s.runs, TOOLS["latency-rate"],
                           f"end-to-end latency at {s.latency_rate:,} msg/s",
                           lambda tool, r: bench.rate_latency_once(r), progress))
    if "share" in s.scenarios:
        out.append(_rounds(BenchScenario("share", "share", 100, s.share_count), s.runs,
                           TOOLS["share"], f"share groups reading {_label(s.share_count)} "
                           "× 100 B", partial(_share_once, bench, s.share_count), progress))
    return out


def _rounds(sc: BenchScenario, runs: int, tools: tuple[str, ...], what: str,
            once: Callable[[str, int], Sample], progress: Progress) -> BenchScenario:
    """``runs`` rounds of ``once`` for every tool (in an order that alternates between
    rounds), each sample noted and kept in ``sc``."""
    for r in range(runs):
        for tool in _order(tools, r):
            progress(f"{what}: {tool} (run {r + 1}/{runs})")
            sample = once(tool, r)
            _note(progress, sample)
            sc.samples.append(sample)
    return sc


def _run_throughput(bench: Bench, s: Settings, progress: Progress) -> list[BenchScenario]:
    """Produce each payload size with every tool, then read a produced topic back with each."""
    out: list[BenchScenario] = []
    produced: dict[int, str] = {}
    for size, count in s.produce:
        payload = payload_file(bench.workdir, size, count)
        what = f"{size} B × {_label(count)}"
        if "produce" in s.scenarios:
            out.append(_rounds(
                BenchScenario(f"produce-{size}", "produce", size, count), s.runs,
                TOOLS["produce"], f"produce {what}",
                partial(_produce, bench, size, count, payload, produced), progress))
        if "consume" in s.scenarios:
            if size not in produced:
                progress(f"filling a topic for the consume test ({_label(count)} × {size} B)")
                bench.produce_once("kcat", 0, size, count, payload, produced)
            topic = produced.get(size)
            out.append(_rounds(
                BenchScenario(f"consume-{size}", "consume", size, count), s.runs,
                TOOLS["consume"], f"consume {what}",
                partial(_consume, bench, size, count, topic), progress))
    return out


def _produce(bench: Bench, size: int, count: int, payload: Path, produced: dict[int, str],
             tool: str, run: int) -> Sample:
    return bench.produce_once(tool, run, size, count, payload, produced)


def _consume(bench: Bench, size: int, count: int, topic: str | None, tool: str,
             run: int) -> Sample:
    if not topic:
        return Sample(tool, run, error="no topic could be filled to consume")
    return bench.consume_once(tool, run, size, count, topic)


def _share_once(bench: Bench, count: int, tool: str, run: int) -> Sample:
    """One share-groups run: ``classic`` (one consumer) or ``share-N`` (N share members)."""
    topic = bench.topic(f"share-{tool}")
    mode, members = ("classic", 1) if tool == "classic" else ("share", int(tool.split("-")[1]))
    return share_once(bench.bootstrap, mode, members, count, 100, run, topic, topic)


def _run_api(bench: Bench, s: Settings, progress: Progress) -> list[BenchScenario]:
    """kpoc's Python API against raw confluent-kafka doing the same work (100 B payloads)."""
    payload = payload_file(bench.workdir, 100, s.api_count)
    filled: dict[int, str] = {}
    progress(f"filling a topic for the API consume rows ({_label(s.api_count)} × 100 B)")
    bench.produce_once("kpoc", 0, 100, s.api_count, payload, filled)
    out = []
    for name, kind, count in (("api-produce", "produce", s.api_count),
                              ("api-consume", "consume", s.api_count),
                              ("aio-produce", "produce", s.aio_count)):
        tools = tuple(tool for scenario, tool in API_JOBS if scenario == name)
        out.append(_rounds(
            BenchScenario(name, kind, 100, count,
                          title=f"{API_TITLES[name]}, {_label(count)} × 100 B"),
            s.runs, tools, f"{name} {_label(count)}",
            partial(_api, bench, name, count, payload, kind == "consume", filled.get(100)),
            progress))
    return out


def _api(bench: Bench, name: str, count: int, payload: Path, consume: bool,
         topic: str | None, tool: str, run: int) -> Sample:
    if consume and topic is None:
        return Sample(tool, run, error="no topic could be filled to consume")
    return bench.api_once(name, tool, run, count, payload, topic if consume else None)



def _note(progress: Progress, s: Sample) -> None:
    if s.error:
        progress(f"  failed: {s.error}")
    elif "msgs_per_s" in s.figures:
        progress(f"  {s.figures['msgs_per_s']:,.0f} msgs/s, peak RSS {s.max_rss_mb:.0f} MB")
    else:
        progress("  p50 {p50_ms:.1f} ms, p99 {p99_ms:.1f} ms, p99.9 {p99_9_ms:.1f} ms".format(
            **s.figures))
