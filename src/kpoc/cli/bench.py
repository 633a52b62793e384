"""``kpoc bench``: the benchmark harness, side by side with kcat and Kafka's Java tools."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.table import Table

from ..errors import KpocError
from ._common import emit_json, err, out, output_option

#: "share" (share groups against a classic group) runs only when asked for with --only.
_SCENARIOS = ("produce", "consume", "latency", "share", "api")


@click.command()
@click.option("--quick", is_flag=True,
              help="Small counts, one run: a smoke test in under 2 minutes.")
@click.option("--runs", type=click.IntRange(1, 20), envvar="KPOC_BENCH_RUNS",
              help="Runs per tool and scenario; the median is reported [env KPOC_BENCH_RUNS; "
                   "default 5, 1 with --quick].")
@click.option("--only", "only", multiple=True, type=click.Choice(_SCENARIOS),
              help="Run only this scenario (repeatable).")
@click.option("-b", "--bootstrap-servers", envvar="KPOC_BENCH_BOOTSTRAP_SERVERS",
              metavar="HOST:PORT,…",
              help="Use this 3-node cluster instead of starting one "
                   "[env KPOC_BENCH_BOOTSTRAP_SERVERS].")
@click.option("--port", type=int, default=28092, show_default=True, envvar="KPOC_BENCH_PORT",
              help="Client port of node 1 of the cluster the bench starts [env KPOC_BENCH_PORT].")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="KPOC_BENCH_DATA_DIR",
              help="Data dir of the cluster the bench starts [env KPOC_BENCH_DATA_DIR; "
                   "default a temporary dir, deleted afterwards].")
@click.option("--keep-cluster", is_flag=True, help="Leave the started cluster running.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("bench/results"), show_default=True, envvar="KPOC_BENCH_OUT",
              help="Where the JSON and PNG results go [env KPOC_BENCH_OUT].")
@output_option
def bench(quick: bool, runs: int | None, only: tuple[str, ...], bootstrap_servers: str | None,
          port: int, data_dir: Path | None, keep_cluster: bool, out_dir: Path,
          output: str) -> None:
    """Benchmark kpoc against kcat and Kafka's Java tools on one local 3-node cluster.

    Produce (1M × 100 B and 200k × 1 KiB, acks=all), consume the same back, end-to-end latency
    one message at a time (as EndToEndLatency measures it) and, for kpoc, at 5,000 msg/s for
    30 s; the Python API (api): kpoc's Producer.send and Consumer against raw confluent-kafka
    (1M × 100 B), and kpoc.aio's awaited sends against the sync Producer (100k); the time of
    `import kpoc`. Each the median of 5 runs with tools alternating. Prints
    one table with kpoc ÷ best-peer ratios and writes <out>/<mode>-<time>.json and .png.
    Exits non-zero if any figure is missing or zero.

    \b
    Example:
      kpoc bench --quick                 # smoke test, < 2 minutes
      kpoc bench                         # the full run, < 15 minutes
      kpoc bench --only produce --runs 5 -b 127.0.0.1:9092
    """
    from ..bench import (
        Settings,
        main_cpu_lines,
        markdown_table,
        run,
        summarise,
        table_rows,
        write_chart,
        write_json,
    )

    settings = Settings.make(quick, runs, only)
    workdir = out_dir / "tmp"
    workdir.mkdir(parents=True, exist_ok=True)
    result = run(settings, bootstrap=bootstrap_servers, port=port, data_dir=data_dir,
                 keep_cluster=keep_cluster, workdir=workdir,
                 progress=lambda m: err.print(f"[bench] {m}", markup=False))
    summarise(result)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = out_dir / f"{'quick' if quick else 'full'}-{stamp}"
    result["files"] = {"json": str(base.with_suffix(".json")), "png": str(base.with_suffix(".png"))}
    write_json(result, base.with_suffix(".json"))
    write_chart(result, base.with_suffix(".png"))
    if output == "json":
        emit_json(result)
    else:
        t = Table("scenario", "tool", "msgs/s · p50/p99/p99.9", "MB/s", "peak RSS MB",
                  "kpoc ÷ best peer")
        for row in table_rows(result):
            t.add_row(*row)
        out.print(t)
        for line in main_cpu_lines(result):
            out.print(line, markup=False)
        imports = result.get("import_time_ms", {})
        if imports:
            out.print("import time (ms, quickest of 5): " + ", ".join(
                f"{module} {ms:.0f}" for module, ms in imports.items()))
        out.print(f"results: {result['files']['json']}  chart: {result['files']['png']}")
        err.print(f"[bench] done in {result['elapsed_s']:.0f}s", markup=False)
    (out_dir / "tmp" / "last-table.md").write_text(markdown_table(result) + "\n")
    if result["problems"]:
        raise KpocError(
            f"benchmark incomplete: {len(result['problems'])} problem(s), first: "
            f"{result['problems'][0]}",
            f"see {result['files']['json']}",
        )
