"""``kpoc groups``: consumer groups, their members, lag, and offset resets."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from .._isolated import AdminProcess
from ..admin import Admin, parse_reset_target
from ._common import client_options, config_from, emit_json, err, out, output_option


@click.group()
def groups() -> None:
    """Consumer groups: list, describe (members, assignment, lag), reset offsets.

    \b
    Example:
      kpoc groups list
      kpoc groups describe kpoc
    """


@groups.command("list")
@client_options
@output_option
def list_(output: str, **conn: Any) -> None:
    """List groups with type (classic, consumer, share), state, members and total lag.

    \b
    Example:
      kpoc groups list -o json
    """
    with AdminProcess(config_from(conn)) as admin:  # survives librdkafka's abort (_isolated)
        summaries = admin.list_groups(with_lag=True)
    if output == "json":
        for g in summaries:
            emit_json(g.to_dict())
        return
    table = Table("group", "type", "state", "members", "lag", box=None, pad_edge=False)
    for g in summaries:
        table.add_row(g.group_id, g.type.lower(), g.state, str(g.members), str(g.total_lag))
    out.print(table)
    if not summaries:
        err.print("no consumer groups yet; start one with `kpoc consume --group NAME`")


@groups.command()
@client_options
@output_option
@click.argument("group")
def describe(group: str, output: str, **conn: Any) -> None:
    """Type, state, members (client id, host, partitions), committed offset and lag.

    The type is classic, consumer (KIP-848: group and member epochs, target assignment) or
    share (KIP-932: partitions shared by members, start offset and Kafka's share lag). Members
    with no partitions are flagged idle: a classic or consumer group with more members than
    partitions always has some.

    \b
    Example:
      kpoc groups describe kpoc
    """
    with AdminProcess(config_from(conn)) as admin:  # survives librdkafka's abort (_isolated)
        g = admin.describe_group(group)
    if output == "json":
        emit_json(g.to_dict())
        return
    epochs = ("" if g.group_epoch is None else
              f", group epoch {g.group_epoch}, assignment epoch {g.assignment_epoch}")
    out.print(f"group {g.group_id}: {g.type.lower()}, {g.state}, {len(g.members)} member(s), "
              f"assignor {g.assignor or '-'}{epochs}, total lag {g.total_lag}", markup=False)
    share = g.type == "SHARE"
    if g.members:
        cols = ["member", "client id", "host", "partitions"]
        target = any(m.target_assignment is not None for m in g.members)
        cols += ["epoch"] if g.group_epoch is not None else []
        cols += ["target (KIP-848)"] if target else []
        mt = Table(*cols, box=None, pad_edge=False)
        for m in g.members:
            parts = ", ".join(f"{t}[{p}]" for t, p in m.assignment) or "(idle: no partitions)"
            row = [m.member_id[-12:], m.client_id, m.host, parts]
            row += [str(m.member_epoch)] if g.group_epoch is not None else []
            if target:
                row.append("= current" if m.target_assignment == m.assignment else ", ".join(
                    f"{t}[{p}]" for t, p in m.target_assignment or []) or "(none)")
            mt.add_row(*row)
        out.print(mt)
    if g.lags:
        lt = Table("topic", "partition", "start offset" if share else "committed", "high", "lag",
                   *(["shared by"] if share else []), box=None, pad_edge=False)
        for p in g.lags:
            row = [p.topic, str(p.partition), "-" if p.committed is None else str(p.committed),
                   str(p.high), "-" if p.lag is None else str(p.lag)]
            if share:
                row.append(f"{len(p.shared_by)} member(s)")
            lt.add_row(*row)
        out.print(lt)
    if g.lag_note:
        err.print(f"note: {g.lag_note}", markup=False)


@groups.command("reset-offsets")
@client_options
@output_option
@click.argument("group")
@click.option("-t", "--topic", required=True, help="Topic whose offsets to reset.")
@click.option("--to", "target", required=True,
              help="earliest (or beginning) | latest (or end) | <offset> | @<timestamp ms>.")
@click.option("-p", "--partition", "partitions", type=int, multiple=True,
              help="Only these partitions (repeatable; default all).")
@click.option("--dry-run", is_flag=True, help="Show the new offsets without writing them.")
def reset_offsets(group: str, topic: str, target: str, partitions: tuple[int, ...],
                  dry_run: bool, output: str, **conn: Any) -> None:
    """Move a group's committed offsets; refused while the group has members.

    \b
    Example:
      kpoc groups reset-offsets kpoc --topic teste --to earliest
      kpoc groups reset-offsets kpoc -t teste --to @1732467000000 --dry-run
    """
    parsed = parse_reset_target(target)
    with Admin(config_from(conn)) as admin:
        changes = admin.reset_offsets(group, topic, parsed, list(partitions) or None, dry_run)
    if output == "json":
        for c in changes:
            emit_json({**c.to_dict(), "dry_run": dry_run})
        return
    verb = "would move" if dry_run else "moved"
    for c in changes:
        prev = "-" if c.previous is None else c.previous
        out.print(f"{group} {c.topic}[{c.partition}]: {verb} {prev} -> {c.new}", markup=False)
