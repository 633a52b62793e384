"""``kpoc chaos``: inject a fault into the local cluster under load and print the verdict."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ..chaos import SCENARIOS, SHARE_KILL, resolve, run
from ..chaos.queue import run_share_kill
from ..chaos.scenarios import reader_settings
from ..cluster import LocalCluster
from ..config import default_data_dir
from ..errors import KpocError, UsageError
from ._common import emit_json, err, group_protocol_option, out, output_option

_LIST = "\n".join(f"  {s.number} {s.name:<14} {s.title}" for s in SCENARIOS.values()) + (
    f"\n  {SHARE_KILL[0]} {SHARE_KILL[1]:<14} SIGKILL a share-group member mid-batch: its "
    "records redelivered, every redelivery counted")


class VerdictFailed(KpocError):
    """The scenario ran and the promise did not hold."""

    exit_code = 1


@click.command(epilog=f"\b\nScenarios:\n{_LIST}")
@click.argument("scenario")
@click.option("-n", "--messages", type=int, envvar="KPOC_CHAOS_MESSAGES",
              help="Messages to produce [env KPOC_CHAOS_MESSAGES; default 50000 for scenario 1, "
                   "20000 for the others].")
@click.option("-r", "--rate", type=float, envvar="KPOC_CHAOS_RATE",
              help="Messages per second, steady [env KPOC_CHAOS_RATE; default 1000].")
@click.option("--pause", type=float, default=2.0, show_default=True,
              help="Seconds a killed node stays down before it is restarted.")
@click.option("--keep-topic", is_flag=True, help="Keep the scenario's topic for inspection.")
@group_protocol_option
@click.option("--session-timeout-ms", type=int, envvar="KPOC_CHAOS_SESSION_TIMEOUT_MS",
              metavar="MS", help="The reading group's session.timeout.ms, classic protocol only "
              "[env KPOC_CHAOS_SESSION_TIMEOUT_MS; default kpoc consume's].")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="KPOC_DATA_DIR",
              help="The local cluster to use [env KPOC_DATA_DIR; default "
                   "~/.local/share/kpoc/cluster].")
@output_option
def chaos(scenario: str, messages: int | None, rate: float | None, pause: float,
          keep_topic: bool, group_protocol: str | None, session_timeout_ms: int | None,
          data_dir: Path | None, output: str) -> None:
    """Run a fault scenario on the local 3-node cluster and check no acknowledged message is lost.

    Creates a topic (3 partitions, RF 3, min.insync.replicas 2), reads it with a consumer group in
    a separate process, produces numbered messages at a steady rate with the idempotent producer
    (acks=all) and injects the fault while traffic flows. Then compares what was acknowledged with
    what was consumed, and times how long the reading group took to read again after each fault
    (group recovery). The reading group has kpoc consume's settings; --group-protocol and
    --session-timeout-ms change them. Exit code 0 only when the verdict holds. The cluster is
    left with every node running.

    SCENARIO is a number or a name from the list below.

    There is no -b/--bootstrap-servers: a scenario kills and restarts nodes, so it needs a local
    cluster that kpoc manages, chosen by --data-dir (KPOC_DATA_DIR); its address is read from
    there, and KPOC_BOOTSTRAP_SERVERS is ignored.

    \b
    Example:
      kpoc cluster up
      kpoc chaos 1                        # leader hard kill x3, 50000 messages
      kpoc chaos two-down --messages 5000 --rate 2000 -o json
      kpoc chaos 9 -n 3000 -r 100 --group-protocol consumer   # group recovery, KIP-848
    """
    if scenario.strip().lower() in (str(SHARE_KILL[0]), SHARE_KILL[1]):
        if group_protocol or session_timeout_ms is not None:
            raise UsageError(f"scenario {SHARE_KILL[0]} {SHARE_KILL[1]} reads with a share group: "
                             "--group-protocol and --session-timeout-ms do not apply",
                             "drop them, or pick a consumer-group scenario")
        _share_kill(data_dir, messages, rate, keep_topic, output)
        return
    sc = resolve(scenario)
    reader_settings(group_protocol, session_timeout_ms)  # bad options refused before any cluster
    cluster = LocalCluster(data_dir or default_data_dir())
    if cluster.state() is None:
        raise KpocError(f"no local cluster in {cluster.data_dir}",
                        "start one with `kpoc cluster up` (chaos needs one it can kill nodes of)")
    verdict = run(sc.number, cluster, messages=messages, rate=rate, pause=pause,
                  keep_topic=keep_topic, group_protocol=group_protocol,
                  session_timeout_ms=session_timeout_ms,
                  progress=lambda m: err.print(f"[dim]{m}[/]"))
    if output == "json":
        emit_json(verdict.to_dict())
    else:
        out.print(f"scenario {verdict.scenario} {verdict.name}: {verdict.title}", markup=False)
        table = Table("", "", box=None, pad_edge=False, show_header=False)
        for label, value in verdict.rows():
            table.add_row(label, value)
        out.print(table)
        for f in verdict.faults:
            rec = "-" if f["recovery_s"] is None else f"{f['recovery_s']:.1f} s"
            group = "-" if f["group_recovery_s"] is None else f"{f['group_recovery_s']:.1f} s"
            out.print(f"  t+{f['at_s']:.1f}s {f['fault']}: recovered in {rec}, group recovery "
                      f"{group}", markup=False)
        for cr in verdict.criteria:
            mark = "ok  " if cr.ok else "FAIL"
            out.print(f"  {mark} {cr.name}" + (f" ({cr.detail})" if cr.detail else ""),
                      markup=False)
        out.print(f"verdict: {'PASS' if verdict.ok else 'FAIL'} in {verdict.duration_s:.0f}s",
                  markup=False)
    if not verdict.ok:
        names = "; ".join(f"{c.name}: {c.detail}" for c in verdict.failures())
        raise VerdictFailed(f"scenario {verdict.scenario} {verdict.name} failed: {names}")


def _share_kill(data_dir: Path | None, messages: int | None, rate: float | None,
                keep_topic: bool, output: str) -> None:
    cluster = LocalCluster(data_dir or default_data_dir())
    st = cluster.state()
    if st is None:
        raise KpocError(f"no local cluster in {cluster.data_dir}", "start one with `kpoc "
                        "cluster up`")
    figures, criteria = run_share_kill(
        st.bootstrap_servers, messages or 5000, rate or 500, keep_topic=keep_topic,
        progress=lambda m: err.print(f"[dim]{m}[/]"))
    ok = all(c[1] for c in criteria)
    if output == "json":
        emit_json({"scenario": SHARE_KILL[0], "name": SHARE_KILL[1], **figures,
                   "verdict": "pass" if ok else "fail", "ok": ok,
                   "criteria": [{"name": n, "ok": k, "detail": d} for n, k, d in criteria]})
    else:
        for key, value in figures.items():
            out.print(f"{key:<20} {value}", markup=False)
        for name, k, detail in criteria:
            out.print(f"  {'ok  ' if k else 'FAIL'} {name} ({detail})", markup=False)
        out.print(f"verdict: {'PASS' if ok else 'FAIL'}", markup=False)
    if not ok:
        bad = "; ".join(f"{n}: {d}" for n, k, d in criteria if not k)
        raise VerdictFailed(f"scenario {SHARE_KILL[0]} {SHARE_KILL[1]} failed: {bad}")
