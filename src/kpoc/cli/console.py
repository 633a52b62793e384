"""``kpoc console``: serve the web console."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from pathlib import Path
from typing import Any

import click

from ..cluster import LocalCluster
from ..config import ClientConfig, default_data_dir
from ..errors import PrerequisiteError, UsageError
from ._common import client_options, config_from, err, out

#: Like --read-only's KPOC_CONSOLE_READ_ONLY; the old spelling still works, with a note.
READ_ONLY_TOKEN_ENV = "KPOC_CONSOLE_READ_ONLY_TOKEN"
_OLD_READ_ONLY_TOKEN_ENV = "KPOC_CONSOLE_READONLY_TOKEN"

MIN_TOKEN = 16


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def managed_cluster(config: ClientConfig, data_dir: Path | None) -> LocalCluster | None:
    """The local cluster, if kpoc manages the one ``config`` points at (for up/down facts)."""
    local = LocalCluster(data_dir or default_data_dir())
    try:
        st = local.state()
    except Exception:
        return None
    if not st:
        return None
    ours = {s.strip() for s in st.bootstrap_servers.split(",")}
    theirs = {s.strip() for s in config.bootstrap_servers.split(",")}
    return local if ours & theirs else None


def host_allow_list(bind: str, extra: tuple[str, ...]) -> list[str]:
    """Host names a browser may use for the console: loopback names, the bound address and
    ``--allowed-host``; bound to every interface without ``--allowed-host``, any (the token
    guards it: binding there needs one)."""
    if bind in ("0.0.0.0", "::") and not extra:
        return ["*"]
    named = [f"[{bind}]" if ":" in bind else bind, "localhost", "127.0.0.1", "[::1]"]
    return named + list(extra)


@click.command()
@client_options
@click.option("--host", default="127.0.0.1", show_default=True, envvar="KPOC_CONSOLE_HOST",
              help="Address to bind; anything but loopback requires a token: --auth-token, "
                   "else one generated and printed [env KPOC_CONSOLE_HOST].")
@click.option("--port", "http_port", default=8080, show_default=True, type=int,
              envvar="KPOC_CONSOLE_PORT", help="HTTP port [env KPOC_CONSOLE_PORT].")
@click.option("--read-only", is_flag=True, envvar="KPOC_CONSOLE_READ_ONLY",
              help="Hide and refuse (403) every mutating action [env KPOC_CONSOLE_READ_ONLY].")
@click.option("--auth-token", envvar="KPOC_CONSOLE_TOKEN", metavar="TOKEN",
              help=f"Require this token (≥ {MIN_TOKEN} characters): bearer header or login "
                   "page [env KPOC_CONSOLE_TOKEN].")
@click.option("--public-url", envvar="KPOC_CONSOLE_URL", metavar="URL",
              help="Where people open the console (e.g. a container's published port), for "
                   "the login link printed with a generated token [env KPOC_CONSOLE_URL].")
@click.option("--read-only-token", envvar=[READ_ONLY_TOKEN_ENV, _OLD_READ_ONLY_TOKEN_ENV],
              metavar="TOKEN",
              help="A second token that logs in with the read-only role: it can look at "
                   "everything and change nothing (needs --auth-token for the admin) "
                   f"[env {READ_ONLY_TOKEN_ENV}].")
@click.option("--sample-interval", default=5.0, show_default=True, type=float,
              envvar="KPOC_CONSOLE_SAMPLE_INTERVAL",
              help="Seconds between lag-history samples; 0 disables sampling "
                   "[env KPOC_CONSOLE_SAMPLE_INTERVAL].")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="KPOC_DATA_DIR",
              help="Local cluster directory, to show its brokers up/down and quorum leader "
                   "[env KPOC_DATA_DIR].")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              envvar="KPOC_CONSOLE_ALLOWED_HOSTS",
              help="Another host name (or name:port) browsers reach the console by; requests "
                   "naming any other Host are refused (DNS rebinding). Repeatable; '*' allows "
                   "any [env KPOC_CONSOLE_ALLOWED_HOSTS, space-separated].")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              envvar="KPOC_CONSOLE_ACCESS_LOG",
              help="One line per request on stderr: time, client, role, method, path, status "
                   "[env KPOC_CONSOLE_ACCESS_LOG].")
def console(host: str, http_port: int, read_only: bool, auth_token: str | None,
            public_url: str | None, read_only_token: str | None, sample_interval: float,
            data_dir: Path | None, allowed_hosts: tuple[str, ...], access_log: bool,
            **conn: Any) -> None:
    """Serve the web console: overview, topics, messages, consumer groups, lag history.

    Binds to 127.0.0.1 unless told otherwise. Bound elsewhere without --auth-token, it
    generates a token and prints it with a login link on stderr (as Jupyter does).
    The JSON API is under /api, its OpenAPI document at /openapi.json.

    \b
    Example:
      kpoc console                          # http://127.0.0.1:8080
      kpoc console --read-only --port 9000
      kpoc console --auth-token "$ADMIN_TOKEN" --read-only-token "$VIEWER_TOKEN"
      KPOC_CONSOLE_TOKEN=$(openssl rand -hex 16) kpoc console --host 0.0.0.0
      kpoc console --host 0.0.0.0           # prints a generated token and a login link
    """
    try:
        import uvicorn

        from ..console import create_app
    except ImportError as exc:
        raise PrerequisiteError(f"the web console needs {exc.name}, which is not installed",
                                "install the console extra: pip install 'kpoc[console]'")

    auth_token = auth_token or None  # an empty KPOC_CONSOLE_TOKEN (compose's default) is none
    if auth_token is not None and len(auth_token) < MIN_TOKEN:
        raise UsageError(f"--auth-token is {len(auth_token)} characters long",
                         f"use at least {MIN_TOKEN}, e.g. $(openssl rand -hex 16)")
    if _OLD_READ_ONLY_TOKEN_ENV in os.environ and READ_ONLY_TOKEN_ENV not in os.environ:
        err.print(f"kpoc: note: {_OLD_READ_ONLY_TOKEN_ENV} is deprecated; set "
                  f"{READ_ONLY_TOKEN_ENV} instead", markup=False)
    if read_only_token is not None:
        if not auth_token:
            raise UsageError("--read-only-token needs --auth-token (the admin's token) too",
                             f"set both, e.g. KPOC_CONSOLE_TOKEN and {READ_ONLY_TOKEN_ENV}")
        if len(read_only_token) < MIN_TOKEN or read_only_token == auth_token:
            raise UsageError("--read-only-token must be a different token of at least "
                             f"{MIN_TOKEN} characters", "e.g. $(openssl rand -hex 16)")
    generated = not is_loopback(host) and not auth_token
    if generated:  # beyond this machine, never without a token
        auth_token = secrets.token_hex(16)
    if not 0 < http_port < 65536:
        raise UsageError(f"--port {http_port} is out of range", "use 1..65535")
    if sample_interval < 0:
        raise UsageError("--sample-interval must be ≥ 0", "e.g. 5")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, http_port))
        except OSError as exc:
            raise PrerequisiteError(f"cannot listen on {host}:{http_port}: {exc.strerror}",
                                    "pick another --port")
    config = config_from(conn)
    app = create_app(config, read_only=read_only, auth=auth_token,
                     read_only_auth=read_only_token,
                     local_cluster=managed_cluster(config, data_dir),
                     sample_interval=sample_interval,
                     allowed_hosts=host_allow_list(host, allowed_hosts), access_log=access_log)
    shown = f"[{host}]" if ":" in host else host
    out.print(f"kpoc console on http://{shown}:{http_port}  (Kafka {config.bootstrap_servers}"
              f"{', read-only' if read_only else ''}; Ctrl-C stops)", markup=False)
    err.print("[dim]JSON API under /api · OpenAPI document: /openapi.json[/]")
    if generated:
        base = (public_url or f"http://{shown}:{http_port}").rstrip("/")
        err.print(f"no --auth-token given, so this run's token is {auth_token}\n"
                  f"log in at {base}/login with it (or send Authorization: Bearer <token>)",
                  markup=False)
    uvicorn.run(app, host=host, port=http_port, log_level="warning", access_log=False)
