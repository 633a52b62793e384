"""The harness's pure parts: parsing the peers' output, medians, ratios, table, chart."""

import subprocess
import sys
from pathlib import Path

from kpoc.bench import main_cpu_lines, markdown_table, summarise, write_json
from kpoc.bench._tools import (
    parse_consumer_performance,
    parse_end_to_end_latency,
    parse_producer_performance,
)
from kpoc.bench.harness import payload_file

PP_OUT = """Reading payloads from: /tmp/p.txt
Number of records read: 200000
200000 records sent, 41937.513105 records/sec (4.00 MB/sec), 388.61 ms avg latency, 1343.00 ms max
"""
CP_OUT = """start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, \
rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-11-25 14:37:48:373, 2026-11-25 14:37:54:954, 19.0735, 2.8983, 200000, 30390.5182, 3321, \
3260, 5.8508, 61349.6933
"""
E2E_OUT = "0\t429.49\nAvg latency: 20.5616 ms\nPercentiles: 50th = 14, 99th = 89, 99.9th = 304\n"


def test_parse_producer_performance_takes_the_summary_line():
    assert parse_producer_performance(PP_OUT) == (200000, 41937.513105)
    assert parse_producer_performance("Exception in thread main") is None


def test_parse_consumer_performance_reads_the_csv_row():
    row = parse_consumer_performance(CP_OUT)
    assert row is not None
    assert row["data.consumed.in.nMsg"] == 200000
    assert row["fetch.nMsg.sec"] == 61349.6933
    assert parse_consumer_performance("no header") is None


def test_parse_end_to_end_latency_percentiles():
    assert parse_end_to_end_latency(E2E_OUT) == {"p50_ms": 14.0, "p99_ms": 89.0,
                                                 "p99_9_ms": 304.0}


def _sample(tool, run, rate, error=None):
    figs = {} if error else {"msgs_per_s": rate, "mb_per_s": rate / 1e4, "seconds": 1.0}
    return {"tool": tool, "run": run, "figures": figs, "max_rss_mb": 50.0, "wall_s": 1.0,
            "error": error}


def _result(samples, kind="produce"):
    return {"started": "now", "machine": {"cores": 2}, "settings": {"mode": "full", "runs": 3},
            "scenarios": [{"name": f"{kind}-100", "kind": kind, "size": 100,
                           "count": 1_000_000, "samples": samples}]}


def test_summarise_medians_and_ratio_against_the_best_peer():
    samples = [_sample("kcat", r, v) for r, v in enumerate((100, 300, 200))]
    samples += [_sample("java", r, v) for r, v in enumerate((50, 60, 70))]
    samples += [_sample("kpoc", r, v) for r, v in enumerate((250, 210, 220))]
    res = summarise(_result(samples))
    sc = res["scenarios"][0]
    assert sc["tools"]["kcat"]["msgs_per_s"] == {"median": 200, "min": 100, "max": 300}
    assert sc["ratio"]["best_peer"] == "kcat"
    assert sc["ratio"]["value"] == 220 / 200
    assert res["problems"] == []
    table = markdown_table(res)
    assert "1.10× kcat" in table and "ProducerPerformance" in table


def test_summarise_reports_failed_and_zero_runs_as_problems():
    samples = [_sample("kcat", 0, 0.0), _sample("kpoc", 0, 0, error="boom")]
    res = summarise(_result(samples))
    assert any("kcat" in p and "zero" in p for p in res["problems"])
    assert any("kpoc" in p and "boom" in p for p in res["problems"])
    assert "failed: boom" in markdown_table(res)


def test_latency_ratio_prefers_lower(tmp_path: Path):
    lat = [
        {"tool": "java", "run": 0, "figures": {"p50_ms": 2, "p99_ms": 10, "p99_9_ms": 20},
         "max_rss_mb": 100, "wall_s": 1, "error": None},
        {"tool": "kpoc", "run": 0, "figures": {"p50_ms": 3, "p99_ms": 12, "p99_9_ms": 30},
         "max_rss_mb": 40, "wall_s": 1, "error": None},
    ]
    res = summarise(_result(lat, kind="latency"))
    assert res["scenarios"][0]["ratio"] == {"figure": "p99_ms", "best_peer": "java",
                                            "value": 1.2}
    # In a child process: matplotlib's native libraries loaded next to librdkafka's in this
    # (test session) process made librdkafka abort in a later test.
    doc = tmp_path / "result.json"
    write_json(res, doc)
    png = tmp_path / "chart.png"
    code = ("import json, sys; from pathlib import Path; from kpoc.bench import write_chart; "
            "write_chart(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))")
    subprocess.run([sys.executable, "-c", code, str(doc), str(png)], check=True, timeout=120)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_payload_file_lines_have_the_exact_size(tmp_path: Path):
    path = payload_file(tmp_path, 100, 500)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 501
    assert {len(x) for x in lines[:-1]} == {100}
    assert payload_file(tmp_path, 100, 500).read_bytes() == path.read_bytes()


def test_main_thread_cpu_medians_and_the_line_that_reports_them():
    samples = []
    for tool, rates, cpus in (("raw", (100, 300, 200), (2.0, 2.4, 2.2)),
                              ("kpoc", (250, 210, 220), (1.9, 2.1, 1.5))):
        for run, (rate, cpu) in enumerate(zip(rates, cpus, strict=True)):
            sample = _sample(tool, run, rate)
            sample["figures"]["main_cpu_us"] = cpu
            samples.append(sample)
    result = summarise(_result(samples))
    tools = result["scenarios"][0]["tools"]
    assert tools["kpoc"]["main_cpu_us"] == {"median": 1.9, "min": 1.5, "max": 2.1}
    assert main_cpu_lines(result) == [
        "produce 1M × 100 B: main-thread CPU per message confluent-kafka (raw) 2.20 µs, "
        "kpoc 1.90 µs, kpoc ÷ confluent-kafka (raw) 0.86×"]
    # Rows without the figure (the peers' tools) print no line.
    assert main_cpu_lines(summarise(_result([_sample("kcat", 0, 1), _sample("kpoc", 0, 2)]))) == []
