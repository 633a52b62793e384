"""Turning raw samples into medians, ratios, a table, a JSON file and a PNG chart."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from ..errors import PrerequisiteError

#: The figure each kind of scenario is judged by, and whether higher is better.
PRIMARY = {"produce": ("msgs_per_s", True), "consume": ("msgs_per_s", True),
           "latency": ("p99_ms", False), "share": ("msgs_per_s", True)}
FIGURES = {"produce": ("msgs_per_s", "mb_per_s"), "consume": ("msgs_per_s", "mb_per_s"),
           "latency": ("p50_ms", "p99_ms", "p99_9_ms"), "share": ("msgs_per_s", "mb_per_s")}
TOOL_LABEL = {"kcat": "kcat", "java": "Java tool", "kpoc": "kpoc",
              "classic": "kpoc, classic group, 1 member", "share-1": "kpoc, share group, 1",
              "share-4": "kpoc, share group, 4",
              "raw": "confluent-kafka (raw)", "sync": "kpoc Producer (sync)"}
JAVA_TOOL = {"produce": "ProducerPerformance", "consume": "ConsumerPerformance",
             "latency": "EndToEndLatency"}


#: The Python API rows' second figure: CPU µs per message of the thread that runs the loop,
#: steadier than msgs/s on a machine whose load swings (the brokers and librdkafka's threads
#: share its cores).
MAIN_CPU = "main_cpu_us"


def main_cpu_lines(result: dict[str, Any]) -> list[str]:
    """One line per scenario with main-thread CPU figures: tool medians and kpoc ÷ peer
    (lower is better: a ratio under 1 is kpoc spending less)."""
    lines = []
    for sc in result["scenarios"]:
        cpu = {tool: e[MAIN_CPU]["median"] for tool, e in sc.get("tools", {}).items()
               if MAIN_CPU in e}
        if len(cpu) < 2 or "kpoc" not in cpu:
            continue
        peer = next(t for t in cpu if t != "kpoc")
        ratio = f", kpoc ÷ {TOOL_LABEL[peer]} {cpu['kpoc'] / cpu[peer]:.2f}×" if cpu[peer] else ""
        lines.append(f"{scenario_title(sc)}: main-thread CPU per message "
                     + ", ".join(f"{TOOL_LABEL[t]} {v:.2f} µs" for t, v in cpu.items()) + ratio)
    return lines


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Add per-tool medians (min, max) and kpoc ÷ best-peer ratios to ``result``, in place."""
    problems: list[str] = []
    for sc in result["scenarios"]:
        kind = sc["kind"]
        tools: dict[str, dict[str, Any]] = {}
        for tool in dict.fromkeys(x["tool"] for x in sc["samples"]):
            mine = [x for x in sc["samples"] if x["tool"] == tool]
            ok = [x for x in mine if not x["error"]]
            entry: dict[str, Any] = {"runs": len(mine), "ok": len(ok),
                                     "errors": [x["error"] for x in mine if x["error"]]}
            if ok:
                for fig in FIGURES[kind]:
                    entry[fig] = _stats([x["figures"][fig] for x in ok])
                if all(MAIN_CPU in x["figures"] for x in ok):
                    entry[MAIN_CPU] = _stats([x["figures"][MAIN_CPU] for x in ok])
                entry["max_rss_mb"] = _stats([x["max_rss_mb"] for x in ok])
            tools[tool] = entry
            for e in entry["errors"]:
                problems.append(f"{sc['name']} {tool}: {e}")
            if not ok:
                problems.append(f"{sc['name']} {tool}: no successful run")
            elif any(entry[f]["median"] <= 0 for f in FIGURES[kind]):
                problems.append(f"{sc['name']} {tool}: a zero figure")
        sc["tools"] = tools
        fig, higher = PRIMARY[kind]
        peers = {k: v[fig]["median"] for k, v in tools.items() if k != "kpoc" and fig in v}
        if peers and fig in tools.get("kpoc", {}):
            best = (max if higher else min)(peers, key=lambda k: peers[k])
            sc["ratio"] = {"figure": fig, "best_peer": best,
                           "value": tools["kpoc"][fig]["median"] / peers[best]
                           if peers[best] else 0.0}
    result["problems"] = problems
    return result


def _fmt(v: float, fig: str) -> str:
    if fig.endswith("_ms"):
        return f"{v:.1f}"
    if fig == "mb_per_s":
        return f"{v:.1f}"
    return f"{v:,.0f}"


def scenario_title(sc: dict[str, Any]) -> str:
    if sc.get("title"):
        return str(sc["title"])
    if sc["kind"] == "latency":
        if sc.get("rate"):
            return f"end-to-end latency at {sc['rate']:,} msg/s, {sc['size']} B"
        return f"end-to-end latency, one at a time, {sc['size']} B"
    n = sc["count"]
    label = f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:g}k"
    size = "1 KiB" if sc["size"] == 1024 else f"{sc['size']} B"
    return f"{sc['kind']} {label} × {size}"


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """Rows: scenario, tool, figures 'median (min–max)', peak RSS, ratio."""
    rows = []
    for sc in result["scenarios"]:
        kind = sc["kind"]
        for tool, e in sc["tools"].items():
            name = TOOL_LABEL[tool] if tool != "java" else JAVA_TOOL[kind]
            if not e["ok"]:
                rows.append([scenario_title(sc), name, "failed: " + (e["errors"] or ["?"])[0][:60],
                             "", "", ""])
                continue
            figs = []
            for fig in FIGURES[kind]:
                s = e[fig]
                figs.append(f"{_fmt(s['median'], fig)} ({_fmt(s['min'], fig)}–"
                            f"{_fmt(s['max'], fig)})" if e["ok"] > 1 else _fmt(s["median"], fig))
            ratio = ""
            if tool == "kpoc" and "ratio" in sc:
                r = sc["ratio"]
                peer = TOOL_LABEL[r["best_peer"]] if r["best_peer"] != "java" else JAVA_TOOL[kind]
                ratio = f"{r['value']:.2f}× {peer}"
            rss = f"{e['max_rss_mb']['median']:.0f}" if e['max_rss_mb']['median'] else "-"
            if kind == "latency":
                rows.append([scenario_title(sc), name, " / ".join(figs) + " ms", "", rss, ratio])
            else:
                rows.append([scenario_title(sc), name, figs[0], figs[1], rss, ratio])
    return rows


HEADERS = ["scenario", "tool", "msgs/s · or p50 / p99 / p99.9", "MB/s", "peak RSS MB",
           "kpoc ÷ best peer"]


def markdown_table(result: dict[str, Any]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(result)]
    return "\n".join(lines)


def write_json(result: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    return path


def write_chart(result: dict[str, Any], path: Path) -> Path:
    """One panel per scenario: median bars with min–max whiskers for each tool."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PrerequisiteError("matplotlib is needed for the chart",
                                "pip install matplotlib (it is in kpoc's [dev] extra)")
    scs = [s for s in result["scenarios"] if s["tools"]]
    cols = min(3, max(1, len(scs)))
    rows = (len(scs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    colours = {"kcat": "#4c72b0", "java": "#dd8452", "kpoc": "#55a868", "classic": "#55a868",
               "share-1": "#8172b3", "share-4": "#937860", "raw": "#8172b3", "sync": "#937860"}
    for ax in axes.flat[len(scs):]:
        ax.axis("off")
    for ax, sc in zip(axes.flat, scs, strict=False):
        kind = sc["kind"]
        ok = {k: v for k, v in sc["tools"].items() if v["ok"]}
        if kind == "latency":
            figs = ["p50_ms", "p99_ms", "p99_9_ms"]
            width = 0.8 / max(1, len(ok))
            for i, (tool, e) in enumerate(ok.items()):
                xs = [j + i * width for j in range(len(figs))]
                med = [e[f]["median"] for f in figs]
                lo = [e[f]["median"] - e[f]["min"] for f in figs]
                hi = [e[f]["max"] - e[f]["median"] for f in figs]
                name = TOOL_LABEL[tool] if tool != "java" else JAVA_TOOL[kind]
                ax.bar(xs, med, width, yerr=[lo, hi], capsize=3, label=name,
                       color=colours[tool])
            ax.set_xticks([j + width * (len(ok) - 1) / 2 for j in range(len(figs))],
                          ["p50", "p99", "p99.9"])
            ax.set_ylabel("ms (lower is better)")
            ax.legend(fontsize=8)
        else:
            names, med, lo, hi, cs = [], [], [], [], []
            for tool, e in ok.items():
                s = e["msgs_per_s"]
                names.append(TOOL_LABEL[tool] if tool != "java" else JAVA_TOOL[kind])
                med.append(s["median"] / 1000)
                lo.append((s["median"] - s["min"]) / 1000)
                hi.append((s["max"] - s["median"]) / 1000)
                cs.append(colours[tool])
            ax.bar(range(len(names)), med, yerr=[lo, hi], capsize=4, color=cs)
            ax.set_xticks(range(len(names)), names, fontsize=8)
            ax.set_ylabel("thousand msgs/s (higher is better)")
        title = scenario_title(sc)
        if "ratio" in sc:
            title += f"\nkpoc ÷ best peer: {sc['ratio']['value']:.2f}×"
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    m = result["machine"]
    fig.suptitle(f"kpoc bench ({result['settings']['mode']}, median of "
                 f"{result['settings']['runs']}, whiskers min–max) — {m['cores']} cores, "
                 f"{result['started']}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
