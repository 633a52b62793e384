"""``kpoc acls``: list, add and remove topic, group and cluster ACLs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.table import Table

from ..acls import OPERATIONS, Acl, AclSpec, add_acls, list_acls, remove_acls
from ..errors import UsageError
from ._common import client_options, config_from, emit_json, err, out, output_option

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def acls() -> None:
    """Who may do what: ACLs of a cluster with an authorizer (`kpoc cluster up --secure`).

    Managing ACLs needs an admin's credentials (-F <data-dir>/client.properties on a local
    secure cluster). Everything no ACL allows is denied.

    \b
    Example:
      export KPOC_CONFIG_FILE=~/.local/share/kpoc/cluster/client.properties
      kpoc acls add --principal User:alice --operation read --operation write --topic orders
      kpoc acls add --principal User:alice --operation read --group orders-app
      kpoc acls list --topic orders
    """


def _selectors(required_principal: bool) -> Callable[[F], F]:
    def deco(f: F) -> F:
        opts = [
            click.option("--principal", "-P", required=required_principal,
                         help="User:NAME (a bare NAME means User:NAME)."),
            click.option("--operation", "operations", multiple=True, metavar="OP",
                         type=click.Choice(OPERATIONS, case_sensitive=False),
                         help=f"Repeatable: {', '.join(OPERATIONS)}."),
            click.option("--topic", help="A topic (with --prefixed: every topic it starts)."),
            click.option("--group", help="A consumer group (with --prefixed: a name prefix)."),
            click.option("--cluster", "on_cluster", is_flag=True,
                         help="The cluster itself (e.g. idempotent_write, describe)."),
            click.option("--prefixed", is_flag=True, help="NAME is a prefix, not a whole name."),
            click.option("--host", help="Client host the ACL applies to [default: any, *]."),
            click.option("--deny", is_flag=True, help="A DENY ACL (wins over any ALLOW)."),
        ]
        for opt in reversed(opts):
            f = opt(f)
        return f
    return deco


def _spec(principal: str | None, operations: tuple[str, ...], topic: str | None,
          group: str | None, on_cluster: bool, prefixed: bool, host: str | None,
          deny: bool | None) -> AclSpec:
    chosen = [x for x in (("topic", topic), ("group", group)) if x[1] is not None]
    if on_cluster:
        chosen.append(("cluster", None))
    if len(chosen) > 1:
        raise UsageError("give one resource: --topic, --group or --cluster")
    rtype, name = chosen[0] if chosen else (None, None)
    return AclSpec(rtype, name, principal, tuple(o.lower() for o in operations),
                   "prefixed" if prefixed else None, host, deny)


def _print(items: list[Acl], output: str, verb: str | None = None) -> None:
    if output == "json":
        for a in items:
            emit_json(a.to_dict())
        return
    if verb:
        for a in items:
            out.print(f"{verb} {a.permission.upper()} {a.principal} {a.operation.upper()} "
                      f"{a.resource} from {a.host}", markup=False)
        return
    table = Table("resource", "pattern", "principal", "permission", "operation", "host",
                  box=None, pad_edge=False)
    for a in items:
        table.add_row(f"{a.resource_type}:{a.resource_name}", a.pattern, a.principal,
                      a.permission, a.operation, a.host)
    out.print(table)


@acls.command("list")
@client_options
@output_option
@_selectors(required_principal=False)
def list_(output: str, principal: str | None, operations: tuple[str, ...], topic: str | None,
          group: str | None, on_cluster: bool, prefixed: bool, host: str | None, deny: bool,
          **conn: Any) -> None:
    """List ACLs; with --topic/--group, those that apply to it (incl. prefixed and *).

    \b
    Example:
      kpoc acls list
      kpoc acls list --topic orders
      kpoc acls list --principal User:alice -o json | jq -r .operation
    """
    spec = _spec(principal, operations, topic, group, on_cluster, prefixed, host,
                 True if deny else None)
    items = list_acls(config_from(conn), spec)
    _print(items, output)
    if not items and output != "json":
        err.print("no ACLs match")


@acls.command()
@client_options
@output_option
@_selectors(required_principal=True)
def add(output: str, principal: str, operations: tuple[str, ...], topic: str | None,
        group: str | None, on_cluster: bool, prefixed: bool, host: str | None, deny: bool,
        **conn: Any) -> None:
    """Allow (or --deny) a principal operations on one topic, group or the cluster.

    A producer needs WRITE on its topic; a consumer READ on its topic and READ on its group.

    \b
    Example:
      kpoc acls add -P User:alice --operation write --topic orders
      kpoc acls add -P User:alice --operation read --topic orders --operation describe
      kpoc acls add -P User:alice --operation read --group orders- --prefixed
    """
    if not operations:
        raise UsageError("which operation?", "give --operation, e.g. --operation read")
    spec = _spec(principal, operations, topic, group, on_cluster, prefixed, host, deny)
    _print(add_acls(config_from(conn), spec), output, verb="added")


@acls.command()
@client_options
@output_option
@_selectors(required_principal=False)
def remove(output: str, principal: str | None, operations: tuple[str, ...], topic: str | None,
           group: str | None, on_cluster: bool, prefixed: bool, host: str | None, deny: bool,
           **conn: Any) -> None:
    """Remove the ACLs on one topic, group or the cluster that match the other options.

    Without --principal/--operation every ACL on that resource goes. Prints what was removed.

    \b
    Example:
      kpoc acls remove -P User:alice --operation write --topic orders
      kpoc acls remove --topic orders            # every ACL on topic orders
    """
    spec = _spec(principal, operations, topic, group, on_cluster, prefixed, host,
                 True if deny else None)
    removed = remove_acls(config_from(conn), spec)
    _print(removed, output, verb="removed")
    if not removed and output != "json":
        err.print("no ACLs matched; nothing removed")
