"""The demo is the seed's diagram: it must show exactly one idle consumer and lag reaching 0."""

from __future__ import annotations

from kpoc.config import ClientConfig
from kpoc.demo import run_demo


def test_demo_shows_one_idle_consumer_and_drains(cluster, unique_name):
    lines: list[str] = []
    topic = unique_name("demo")
    result = run_demo(ClientConfig(cluster.bootstrap_servers, timeout=30), lines.append,
                      topic=topic, group=unique_name("g"), messages=25)
    assert result.delivered == 25 and result.failed == 0
    assert len(result.idle) == 1
    assert result.final_lag == 0
    assert sum(sum(parts.values()) for parts in result.received.values()) >= 25
    assert result.received[result.idle[0]] == {}
    # The demo's keys cover every partition: each of the three assigned consumers reads some.
    assert sorted(p for parts in result.received.values() for p in parts) == [0, 1, 2]
    assert "nothing (no key landed" not in "\n".join(lines)
    text = "\n".join(lines)
    for step in range(1, 7):
        assert f"[{step}/6]" in text
    assert "(idle: no partition left for it)" in text
    assert text.rstrip().count("nothing (idle)") == 1
    # Act two: the same four consumers in a share group on the same topic all receive records.
    assert len(result.shared) == 4 and all(n > 0 for n in result.shared.values()), \
        result.shared
    assert "4 of 4 consumers received records" in text


def test_demo_cli_runs_to_completion(run_kpoc, unique_name):
    r = run_kpoc("demo", "--no-cluster", "-n", "5", "-t", unique_name("demo"), "-g",
                 unique_name("g"))
    assert r.returncode == 0, r.stderr
    assert "5 delivered, 0 failed" in r.stdout and "final lag 0" in r.stdout
