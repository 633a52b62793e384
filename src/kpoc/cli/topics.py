"""``kpoc topics``: create, list, describe, alter configs of and delete topics."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from ..admin import Admin
from ..config import parse_property
from ._common import client_options, config_from, emit_json, err, old_flag, out, output_option


@click.group()
def topics() -> None:
    """Create, list, describe, alter and delete topics.

    \b
    Example:
      kpoc topics create teste --partitions 3 --replication-factor 3
      kpoc topics describe teste
    """


def _admin(conn: dict[str, Any]) -> Admin:
    return Admin(config_from(conn))


@topics.command("list")
@client_options
@output_option
@click.option("--internal", is_flag=True, help="Include internal topics (__consumer_offsets …).")
def list_(output: str, internal: bool, **conn: Any) -> None:
    """List topics with partitions, replication factor, health and message count.

    \b
    Example:
      kpoc topics list
      kpoc topics list -o json | jq -r .name
    """
    with _admin(conn) as admin:
        infos = admin.list_topics(include_internal=internal)
    if output == "json":
        for t in infos:
            emit_json(t.summary())
        return
    table = Table("topic", "partitions", "rf", "under-replicated", "offline", "messages",
                  box=None, pad_edge=False)
    for t in infos:
        table.add_row(t.name, str(len(t.partitions)), str(t.replication_factor),
                      str(t.under_replicated), str(t.offline), str(t.messages))
    out.print(table)
    if not infos:
        err.print("no topics; create one with `kpoc topics create NAME`")


@topics.command()
@client_options
@output_option
@click.argument("name")
def describe(name: str, output: str, **conn: Any) -> None:
    """Per partition: leader, replicas, ISR, low/high watermark; and the topic's configs.

    \b
    Example:
      kpoc topics describe teste
    """
    with _admin(conn) as admin:
        t = admin.describe_topic(name)
    if output == "json":
        emit_json(t.to_dict())
        return
    out.print(f"topic {t.name}: {len(t.partitions)} partitions, replication factor "
              f"{t.replication_factor}, {t.messages} messages", markup=False)
    table = Table("partition", "leader", "replicas", "isr", "low", "high", "status",
                  box=None, pad_edge=False)
    for p in t.partitions:
        status = "offline" if p.offline else "under-replicated" if p.under_replicated else "ok"
        table.add_row(str(p.id), str(p.leader), ",".join(map(str, p.replicas)),
                      ",".join(map(str, p.isr)), str(p.low), str(p.high), status)
    out.print(table)
    if t.configs:
        out.print("configs (not default):")
        for k, v in t.configs.items():
            out.print(f"  {k}={v}", markup=False)


@topics.command()
@client_options
@output_option
@click.argument("name")
@click.option("--partitions", type=int, default=3, show_default=True,
              help="How many partitions (at least 1).")
@old_flag("-p", "partitions", "--partitions (-p means a partition elsewhere)", type=int)
@old_flag("-r", "replication_factor", "--replication-factor (-r means a rate elsewhere)",
          type=int)
@click.option("--replication-factor", type=int, default=3, show_default=True,
              help="At most the number of brokers.")
@click.option("-c", "--config", "configs", multiple=True, metavar="KEY=VALUE",
              help="Topic config, repeatable (e.g. -c retention.ms=86400000).")
def create(name: str, partitions: int, replication_factor: int, configs: tuple[str, ...],
           output: str, **conn: Any) -> None:
    """Create a topic and wait until every partition has a leader.

    \b
    Example:
      kpoc topics create teste --partitions 3 --replication-factor 3
      kpoc topics create logs -c retention.ms=86400000 -c cleanup.policy=delete
    """
    cfg = dict(parse_property(c, "--config", "retention.ms=86400000") for c in configs)
    with _admin(conn) as admin:
        t = admin.create_topic(name, partitions, replication_factor, cfg)
    if output == "json":
        emit_json(t.summary())
    else:
        out.print(f"created topic {name} ({partitions} partitions, replication factor "
                  f"{t.replication_factor})", markup=False)


@topics.command("alter-config")
@client_options
@output_option
@click.argument("name")
@click.option("-c", "--config", "configs", multiple=True, metavar="KEY=VALUE",
              help="Config to set, repeatable (e.g. -c max.message.bytes=2097152).")
@click.option("--delete", "deletes", multiple=True, metavar="KEY",
              help="Config to return to the broker's default, repeatable.")
def alter_config(name: str, configs: tuple[str, ...], deletes: tuple[str, ...], output: str,
                 **conn: Any) -> None:
    """Change an existing topic's configs; the ones not named stay as they are.

    \b
    Example:
      kpoc topics alter-config teste -c max.message.bytes=2097152
      kpoc topics alter-config teste -c retention.ms=86400000 --delete cleanup.policy
    """
    cfg = dict(parse_property(c, "--config", "max.message.bytes=2097152") for c in configs)
    with _admin(conn) as admin:
        after = admin.alter_topic_config(name, cfg, list(deletes))
    if output == "json":
        emit_json({"name": name, "configs": after})
        return
    out.print(f"altered topic {name}; configs (not default):", markup=False)
    for k, v in after.items():
        out.print(f"  {k}={v}", markup=False)


@topics.command()
@client_options
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(name: str, yes: bool, **conn: Any) -> None:
    """Delete a topic and all its messages.

    \b
    Example:
      kpoc topics delete old-topic --yes
    """
    with _admin(conn) as admin:
        if not yes:
            admin.partition_count(name)  # a missing topic is said before any question
            click.confirm(f"Delete topic {name!r} and all its messages?", abort=True, err=True)
        admin.delete_topic(name)
    out.print(f"deleted topic {name}", markup=False)
