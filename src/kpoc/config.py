"""Client configuration: one frozen object, built at the edge from flags > env > config file.

librdkafka properties pass through untouched (``-X key=value``, as kcat); kpoc validates only what
it owns. Secrets never appear in ``repr`` so a config can be logged safely.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, UsageError

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TOPIC",
    "ClientConfig",
    "check_text",
    "default_data_dir",
    "escaped",
    "is_secret",
    "load_config",
    "parse_property",
    "read_config_file",
    "text_bytes",
    "validate_bootstrap",
    "validate_topic_name",
]

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_TIMEOUT = 10.0
#: The original "Kafka com Go" topic: what produce, consume, demo and doctor use by default.
DEFAULT_TOPIC = "teste"
_SECRET_MARKERS = ("password", "secret", "key.pem", "private", "token")


def is_secret(key: str) -> bool:
    """True for property names whose values must never be printed or logged."""
    k = key.lower()
    return any(m in k for m in _SECRET_MARKERS)


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where ``kpoc cluster`` keeps its nodes; ``KPOC_DATA_DIR`` overrides."""
    env = os.environ if env is None else env
    if env.get("KPOC_DATA_DIR"):
        return Path(env["KPOC_DATA_DIR"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kpoc" / "cluster"


def _local_cluster_bootstrap(env: Mapping[str, str]) -> str | None:
    """Bootstrap servers of the local cluster, if ``kpoc cluster up`` recorded one."""
    state = default_data_dir(env) / "cluster.json"
    try:
        return str(json.loads(state.read_text())["bootstrap_servers"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class ClientConfig:
    """Everything a kpoc client needs to reach a cluster.

    ``timeout`` bounds every network wait kpoc makes on the user's behalf (metadata, connect,
    flush), so no command hangs on an unreachable cluster.
    """

    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    properties: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT

    def client_properties(self, defaults: Mapping[str, object] | None = None) -> dict[str, object]:
        """librdkafka properties: kpoc's defaults, overridden by the user's own."""
        props: dict[str, object] = dict(defaults or {})
        props.update(self.properties)
        props["bootstrap.servers"] = self.bootstrap_servers
        return props

    def redacted(self) -> dict[str, str]:
        """The user's properties with secret values masked, for display."""
        return {k: ("***" if is_secret(k) else v) for k, v in self.properties.items()}

    def __repr__(self) -> str:
        return (
            f"ClientConfig(bootstrap_servers={self.bootstrap_servers!r}, "
            f"properties={self.redacted()!r}, timeout={self.timeout!r})"
        )


def check_text(value: str, what: str) -> str:
    """Text that librdkafka can take: confluent-kafka hands strings to C as UTF-8, and one
    that does not encode (text from a non-UTF-8 command line holds lone surrogates) becomes a
    NULL pointer — a crash (``-X $'\\xff=1'``, ``-g $'\\xff'``). Refused here instead."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{what} '{escaped(value)}' is not valid UTF-8",
                         f"give a UTF-8 {what}") from None
    return value


def text_bytes(text: str) -> bytes:
    """The bytes a string read from outside stood for (bytes that were not UTF-8 are held as
    lone surrogates, PEP 383); other lone surrogates as their UTF-8-style bytes."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def escaped(text: str) -> str:
    """``text`` for a one-line message: its bytes, non-printable ones as ``\\xff``."""
    return codecs.escape_encode(text_bytes(text))[0].decode("ascii")


_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def validate_topic_name(name: str) -> str:
    """Kafka's own rule, checked before a round trip so the message can say what is wrong."""
    if name in (".", "..") or not _TOPIC_NAME.match(name):
        raise UsageError(
            f"invalid topic name {name!r}",
            "use 1-249 characters from letters, digits, '.', '_' and '-'",
        )
    return name


_SCHEMES = ("plaintext", "ssl", "sasl_plaintext", "sasl_ssl")


def validate_bootstrap(servers: str) -> str:
    """``host[:port]`` items (librdkafka's protocol prefixes allowed); what is wrong in one of
    them is known at once, so it is said at once instead of after the connect bound."""
    check_text(servers, "bootstrap servers")
    for item in servers.split(","):
        entry = item.strip()
        if not item.isprintable() or any(c.isspace() for c in entry):
            raise ConfigError(f"bootstrap server '{escaped(item)}' holds a space or control "
                              "character", "separate servers with commas: host:port,host:port")
        scheme, sep, rest = entry.partition("://")
        if sep and scheme.lower() not in _SCHEMES:
            raise ConfigError(f"bootstrap server {entry!r} is a URL, not host:port",
                              f"drop '{scheme}://' (Kafka does not speak {scheme})")
        hostport = rest if sep else entry
        host, colon, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
        if not entry or not host:
            raise ConfigError(f"bootstrap server {entry!r} has no host", "e.g. 127.0.0.1:9092")
        if colon and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ConfigError(f"bootstrap server {entry!r}: port {port!r} is not 1-65535",
                              "e.g. 127.0.0.1:9092")
    return servers


def parse_property(text: str, flag: str = "-X", example: str = "linger.ms=5") -> tuple[str, str]:
    """Parse one ``key=value`` argument of ``flag``."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(
            f"invalid {flag} {text!r}: expected key=value", f"e.g. {flag} {example}"
        )
    return key, value.strip()


def read_config_file(path: str | Path) -> dict[str, str]:
    """Read a Java/kcat-style properties file (``key=value`` lines, ``#`` comments)."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist", "check the -F/KPOC_CONFIG_FILE path")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {p}: {exc}", "make it a readable text file")
    props: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        if "=" not in line:
            raise ConfigError(
                f"config file {p} line {n}: expected key=value, got {line[:40]!r}",
                "fix or comment out that line",
            )
        k, v = parse_property(line)
        props[k] = v
    return props


def _parse_timeout(value: str | float, source: str) -> float:
    try:
        t = float(value)
    except ValueError:
        raise ConfigError(f"invalid timeout {value!r} from {source}", "give seconds, e.g. 10")
    if not 0 < t <= 3600:
        raise ConfigError(f"timeout {t:g}s from {source} is out of range", "use 0 < seconds ≤ 3600")
    return t


def load_config(
    *,
    bootstrap_servers: str | None = None,
    properties: Iterable[str] = (),
    config_file: str | Path | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> ClientConfig:
    """Build the config: flags > ``KPOC_*`` environment > config file > local cluster > default."""
    env = os.environ if env is None else env
    file_path = config_file or env.get("KPOC_CONFIG_FILE")
    file_props = read_config_file(file_path) if file_path else {}
    flag_props = dict(parse_property(item) for item in properties)
    if bootstrap_servers == "" or flag_props.get("bootstrap.servers") == "":
        raise ConfigError("the bootstrap servers are empty",
                          "give HOST:PORT[,HOST:PORT…] with -b, or leave -b out for the local "
                          "cluster")
    bootstrap = (
        bootstrap_servers
        or flag_props.pop("bootstrap.servers", None)
        or env.get("KPOC_BOOTSTRAP_SERVERS")
        or file_props.pop("bootstrap.servers", None)
        or _local_cluster_bootstrap(env)
        or DEFAULT_BOOTSTRAP
    )
    validate_bootstrap(bootstrap)
    for key in flag_props:
        if is_secret(key) and not key.endswith((".location", ".url")):
            raise ConfigError(
                f"-X {key}=… would put a secret on the command line (shell history, ps)",
                "put it in a -F properties file (mode 0600); for sasl.password you can also "
                "use the environment variable KPOC_SASL_PASSWORD",
            )
    props = {**file_props, **flag_props}
    props.pop("bootstrap.servers", None)
    if env.get("KPOC_SASL_PASSWORD"):
        props["sasl.password"] = env["KPOC_SASL_PASSWORD"]
    if timeout is not None:
        t = _parse_timeout(timeout, "--timeout")
    elif env.get("KPOC_TIMEOUT"):
        t = _parse_timeout(env["KPOC_TIMEOUT"], "KPOC_TIMEOUT")
    else:
        t = DEFAULT_TIMEOUT
    return ClientConfig(bootstrap_servers=bootstrap, properties=props, timeout=t)
