"""Options and output helpers shared by every command group."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console

from ..config import ClientConfig, load_config
from ..consumer import GROUP_PROTOCOLS

F = TypeVar("F", bound=Callable[..., Any])

#: Set once stdout's reader has gone (``kpoc produce … | head -1``); the command exits 141.
stdout_gone = False


def drop_stdout() -> None:
    """Send the rest of stdout to /dev/null and carry on: a producer whose report reader went
    away still sends, and reports, every message it was given (rich's own handling exits 1
    there, from inside a delivery report, leaving the rest unsent)."""
    global stdout_gone
    stdout_gone = True
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class _Stdout(Console):
    def on_broken_pipe(self) -> None:
        self.quiet = True
        drop_stdout()


#: Human output goes to stdout; progress and diagnostics to stderr.
out = _Stdout(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def client_options(f: F) -> F:
    """Connection options every client command takes (kcat's -b, -X, -F)."""
    opts = [
        click.option("-b", "--bootstrap-servers", envvar="KPOC_BOOTSTRAP_SERVERS",
                     metavar="HOST:PORT,…",
                     help="Brokers to contact [env KPOC_BOOTSTRAP_SERVERS; default: the local "
                          "cluster from `kpoc cluster up`, else 127.0.0.1:9092]."),
        click.option("-X", "properties", multiple=True, metavar="KEY=VALUE",
                     help="librdkafka property, repeatable (e.g. -X linger.ms=5)."),
        click.option("-F", "--config-file", envvar="KPOC_CONFIG_FILE",
                     type=click.Path(dir_okay=False),
                     help="Properties file (key=value lines) [env KPOC_CONFIG_FILE]."),
        click.option("--timeout", type=float, envvar="KPOC_TIMEOUT", metavar="SECONDS",
                     help="Bound on every network wait [env KPOC_TIMEOUT; default 10]."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def old_flag(flag: str, dest: str, use: str, value: Any = None, **kw: Any) -> Callable[[F], F]:
    """A hidden option kept for old scripts: ``flag`` still sets parameter ``dest`` (to what it
    was given, or to ``value`` for a flag), with a deprecation note naming ``use`` on stderr.
    One short flag means one thing across kpoc (the flag table in the README)."""
    name = "old_" + dest

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            old = kwargs.pop(name)
            if old is not None and old is not False and old != ():
                err.print(f"kpoc: note: {flag} is deprecated here; use {use}", markup=False)
                kwargs[dest] = old if value is None else value
            return f(*args, **kwargs)

        return click.option(flag, name, hidden=True, **kw)(wrapper)  # type: ignore[return-value]

    return decorate


def group_protocol_option(f: F) -> F:
    """``--group-protocol classic|consumer`` (env KPOC_GROUP_PROTOCOL), for every group reader."""
    return click.option(
        "--group-protocol", type=click.Choice(GROUP_PROTOCOLS), envvar="KPOC_GROUP_PROTOCOL",
        help="classic (client-side rebalances) or consumer (KIP-848: the broker assigns, no "
             "stop-the-world rebalance) [env KPOC_GROUP_PROTOCOL; default classic].")(f)


def output_option(f: F) -> F:
    return click.option(
        "-o", "--output", type=click.Choice(["text", "json"]), default="text",
        envvar="KPOC_OUTPUT", show_default=True,
        help="text for people, json for scripts (one JSON document/line) [env KPOC_OUTPUT].",
    )(f)


def build_config(
    bootstrap_servers: str | None,
    properties: tuple[str, ...],
    config_file: str | None,
    timeout: float | None,
) -> ClientConfig:
    return load_config(
        bootstrap_servers=bootstrap_servers,
        properties=properties,
        config_file=config_file,
        timeout=timeout,
    )


def config_from(conn: dict[str, Any]) -> ClientConfig:
    """The config of a command decorated with :func:`client_options` (its ``**conn``)."""
    return build_config(conn["bootstrap_servers"], conn["properties"], conn["config_file"],
                        conn["timeout"])


def emit_json(obj: Any) -> None:
    try:
        sys.stdout.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        drop_stdout()
