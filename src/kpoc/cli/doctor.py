"""``kpoc doctor``: find why a cluster is unreachable or unsafe, and say how to fix it."""

from __future__ import annotations

import click

from ..config import DEFAULT_TOPIC
from ..doctor import diagnose
from ..errors import KpocError
from ._common import build_config, client_options, emit_json, err, out, output_option


@click.command()
@client_options
@output_option
@click.option("--topic", default=DEFAULT_TOPIC, show_default=True, envvar="KPOC_DOCTOR_TOPIC",
              help="Topic whose durability settings to check [env KPOC_DOCTOR_TOPIC].")
@click.option("--no-topic", is_flag=True, help="Skip the topic check (e.g. as a healthcheck).")
def doctor(bootstrap_servers: str | None, properties: tuple[str, ...], config_file: str | None,
           timeout: float | None, output: str, topic: str, no_topic: bool) -> None:
    """Check that the cluster is reachable from here, and safe; print each problem with its fix.

    \b
    Checks, each bounded by --timeout:
      bootstrap   a bootstrap server answers a metadata request
      advertised  every broker's advertised host:port is reachable from this machine
                  (the classic Docker/Kafka mistake: bootstrap works, everything after fails)
      version     Kafka release and KRaft mode (ApiVersions), the same on every broker
      durability  the topic has replication factor >= 3, min.insync.replicas >= 2,
                  unclean leader election off, replicas in sync

    Exit code 0 when every check passes, 1 when any finds a problem.

    \b
    Example:
      kpoc doctor
      kpoc doctor -b 127.0.0.1:9092 --topic orders -o json | jq '.checks[] | select(.ok | not)'
    """
    config = build_config(bootstrap_servers, properties, config_file, timeout)
    report = diagnose(config, None if no_topic else topic,
                      progress=lambda m: err.print(f"[dim]{m}[/]"))
    if output == "json":
        emit_json(report.to_dict())
    else:
        for c in report.checks:
            mark = "[green]ok[/]     " if c.ok else "[red]PROBLEM[/]"
            out.print(f"{mark}  {c.check:<10}  {c.subject}: ", end="")
            out.print(c.detail, markup=False)
            if c.fix:
                out.print(f"{'':9}   fix: ", end="")
                out.print(c.fix, markup=False)
    if report.problems:
        n = len(report.problems)
        raise KpocError(f"{n} problem{'s' if n > 1 else ''} found", "see the fixes above")
