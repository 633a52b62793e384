"""Construction of librdkafka clients that stay quiet and report errors as kpoc errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from .config import ClientConfig
from .errors import AuthError, ConfigError, KafkaUnavailable, KpocError

_quiet = logging.getLogger("kpoc.librdkafka")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False

T = TypeVar("T")


def base_properties(config: ClientConfig, defaults: Mapping[str, object] | None = None) -> dict:
    """Client properties with librdkafka's own logging routed away from the user's terminal.

    librdkafka logs every failed connection attempt to stderr; kpoc reports what matters itself,
    once, as a kpoc error.
    """
    props = config.client_properties(defaults)
    props.setdefault("logger", _quiet)
    props.setdefault("error_cb", lambda err: None)
    return props


def make_client(factory: Callable[[dict], T], props: dict[str, Any]) -> T:
    """Build a client, turning librdkafka's configuration errors into :class:`ConfigError`."""
    try:
        return factory(props)
    except (KafkaException, ValueError, TypeError) as exc:
        msg = str(exc.args[0].str() if isinstance(exc, KafkaException) else exc)
        raise ConfigError(f"invalid client configuration: {msg}", "check your -X/-F properties")


def admin_client(config: ClientConfig) -> AdminClient:
    return make_client(AdminClient, base_properties(config))


def translate(exc: KafkaException, config: ClientConfig, what: str) -> Exception:
    """Map a librdkafka error on ``what`` to the kpoc error a user can act on."""
    err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
    code = err.code() if err else None
    text = err.str() if err else str(exc)
    if err is not None and text.rstrip().endswith(":"):
        # Some admin errors carry only "RequestName: "; the code's name is what helps.
        text = f"{text.rstrip(': ')}: {err.name()}"
    if code in (KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN):
        return unavailable(config, what)
    if code in (
        KafkaError.SASL_AUTHENTICATION_FAILED,
        KafkaError._AUTHENTICATION,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    ):
        return AuthError(f"{what}: {text}", "check credentials and ACLs (kpoc acls list)")
    return KpocError(f"{what} failed: {text}")


def unavailable(config: ClientConfig, what: str) -> KafkaUnavailable:
    return KafkaUnavailable(
        f"no Kafka broker at {config.bootstrap_servers} answered {what} within {config.timeout:g}s",
        "check the address (--bootstrap-servers / KPOC_BOOTSTRAP_SERVERS), start a local cluster "
        "with `kpoc cluster up`, or raise the bound with --timeout / KPOC_TIMEOUT",
    )
