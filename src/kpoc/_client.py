"""Construction of librdkafka clients that stay quiet and report errors as kpoc errors.

librdkafka retries a refused connection forever (wrong password, untrusted certificate, wrong
``security.protocol``) and only says why in its log and ``error_cb``, which are served by
``poll()``. Every client built here records those reports in an :class:`ErrorTrap` tied to its
:class:`ClientConfig`, so when an operation fails or hits its bound, :func:`translate` and
:func:`unavailable` name the real cause in one line instead of "no broker answered".
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from ._kafka_errors import AUTH_FAILED, MEANINGS, STOP, UNAVAILABLE
from .config import ClientConfig, check_text, default_data_dir, validate_topic_name
from .errors import AuthError, ConfigError, KafkaUnavailable, KpocError, NotFound

T = TypeVar("T")


class _Recorder(logging.Handler):
    def __init__(self, trap: ErrorTrap) -> None:
        super().__init__(logging.DEBUG)
        self._trap = weakref.ref(trap)

    def emit(self, record: logging.LogRecord) -> None:
        trap = self._trap()
        if trap is not None:
            trap.note_log(record.getMessage())


class ErrorTrap:
    """What librdkafka reported asynchronously for the clients of one :class:`ClientConfig`.

    Used as the clients' ``error_cb``; also owns their ``logger`` (nothing reaches the terminal).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (monotonic time, code, text) and (monotonic time, log line): only recent ones count,
        # so a long-lived process is not told about a problem that has gone away.
        self._errors: deque[tuple[float, int, str]] = deque(maxlen=64)
        self._fails: deque[tuple[float, str]] = deque(maxlen=64)
        self._clients: list[weakref.ref] = []
        # A standalone Logger (not registered in logging's tree): it dies with the trap and
        # never propagates to the root logger.
        self.logger = logging.Logger("kpoc.librdkafka", logging.DEBUG)
        self.logger.addHandler(_Recorder(self))

    def __call__(self, err: KafkaError) -> None:
        with self._lock:
            self._errors.append((time.monotonic(), err.code(), err.str()))

    def note_log(self, message: str) -> None:
        if "FAIL" in message or "failed" in message:
            with self._lock:
                self._fails.append((time.monotonic(), message))

    def attach(self, client: object) -> None:
        """Remember ``client`` (weakly) so :meth:`serve` can deliver its pending reports."""
        # Producer/Consumer may not be weak-referenceable: their owners poll them anyway.
        with contextlib.suppress(TypeError):
            self._clients.append(weakref.ref(client))

    def serve(self) -> None:
        """Deliver queued reports of admin clients (they are only delivered by ``poll``)."""
        for ref in list(self._clients):
            client = ref()
            if client is None:
                self._clients.remove(ref)
            elif isinstance(client, AdminClient):
                with contextlib.suppress(Exception):
                    client.poll(0)

    def clear(self) -> None:
        with self._lock:
            self._errors.clear()
            self._fails.clear()

    def recent(self, within: float) -> tuple[list[tuple[int, str]], list[str]]:
        """Error reports and failure log lines of the last ``within`` seconds."""
        since = time.monotonic() - within
        with self._lock:
            return ([(c, t) for ts, c, t in self._errors if ts >= since],
                    [t for ts, t in self._fails if ts >= since])

    def diagnosis(self, config: ClientConfig, what: str) -> KpocError | None:
        """The connection problem behind a failure, as a kpoc error; None if nothing is known."""
        self.serve()
        errors, fails = self.recent(config.timeout + 5)
        texts = [t for _, t in errors] + fails
        user = str(config.properties.get("sasl.username", "")) or None
        protocol = str(config.properties.get("security.protocol", "plaintext")).lower()
        ca = config.properties.get("ssl.ca.location")
        target = config.bootstrap_servers
        if any(c in AUTH_FAILED for c, _ in errors) or any(
            "SASL authentication error" in t or "Authentication failed" in t for t in texts
        ):
            mech = config.properties.get("sasl.mechanism") or config.properties.get(
                "sasl.mechanisms", "SASL")
            return AuthError(
                f"{what}: authentication failed for user {user!r} ({mech}) at {target}",
                "check sasl.username and the password (KPOC_SASL_PASSWORD or the -F file); "
                "`kpoc cluster credentials` shows a local secure cluster's",
            )
        ssl = [t for c, t in errors if c == KafkaError._SSL] + [
            t for t in fails if "SSL handshake failed" in t]
        if ssl:
            if any("certificate verify failed" in t for t in ssl):
                where = f"the CA in ssl.ca.location ({ca})" if ca else "the system's CAs"
                return AuthError(
                    f"{what}: TLS handshake with {target} failed: the broker's certificate is "
                    f"not trusted by {where} (certificate verify failed)",
                    "set ssl.ca.location to the CA that signed it (a local secure cluster's: "
                    "<data-dir>/tls/ca.pem, already set in its client.properties)",
                )
            return AuthError(f"{what}: TLS handshake with {target} failed: {_short(ssl[-1])}",
                             "check the ssl.* properties")
        if protocol in ("plaintext", "sasl_plaintext") and any(
            "Disconnected" in t and "APIVERSION_QUERY" in t for t in fails
        ):
            return AuthError(
                f"{what}: {target} closed every {protocol.upper()} connection at the first "
                "request: the listener probably requires TLS",
                "set security.protocol=SASL_SSL, sasl.* and ssl.ca.location (for a local "
                f"secure cluster: -F {_local_client_file(config)})",
            )
        unresolved = _unresolved(errors)
        if unresolved:
            return KafkaUnavailable(
                f"no Kafka broker at {target} answered {what}: host "
                f"{', '.join(sorted(unresolved))} does not resolve (DNS)",
                "check the host name in --bootstrap-servers / KPOC_BOOTSTRAP_SERVERS")
        refused = sorted({m.group(1) for t in texts if (m := _REFUSED.search(t))})
        if refused:
            return KafkaUnavailable(
                f"no Kafka broker at {target} answered {what} within {config.timeout:g}s: "
                f"nothing listens at {', '.join(refused)} (connection refused)",
                "check the port, or start a local cluster with `kpoc cluster up`")
        if protocol == "ssl" and any("SSL connection closed by peer" in t for t in fails):
            return AuthError(
                f"{what}: {target} closed the TLS connection without answering: the listener "
                "probably requires SASL authentication (no credentials were given)",
                "set security.protocol=SASL_SSL, sasl.mechanism, sasl.username and the "
                "password (KPOC_SASL_PASSWORD or the -F file)",
            )
        return None

    def check(self, config: ClientConfig, what: str) -> None:
        """Raise at once if a report that retrying cannot fix (bad password, bad TLS) is in."""
        self.serve()
        errors, fails = self.recent(config.timeout + 5)
        fatal = any(c in STOP for c, _ in errors) or any(
            "SASL authentication error" in t or "SSL handshake failed" in t for t in fails)
        # No bootstrap host resolves: waiting will not make one appear.
        hosts = {b.strip().rsplit("://", 1)[-1] for b in config.bootstrap_servers.split(",")}
        fatal = fatal or hosts <= _unresolved(errors)
        if fatal:
            exc = self.diagnosis(config, what)
            if exc is not None:
                raise exc


_RESOLVE_FAILED = re.compile(r"Failed to resolve '([^']+)'")
_REFUSED = re.compile(r"Connect to (?:ipv[46]#)?(\S+) failed: Connection refused")


def _unresolved(errors: list[tuple[int, str]]) -> set[str]:
    """host:port of the bootstrap servers librdkafka reported as not resolving."""
    return {m.group(1) for c, t in errors
            if c == KafkaError._RESOLVE and (m := _RESOLVE_FAILED.search(t))}


def _local_client_file(config: ClientConfig) -> str:
    """The admin client file of the local secure cluster at this address, if there is one."""
    d = default_data_dir()
    try:
        st = json.loads((d / "cluster.json").read_text())
    except (OSError, ValueError):
        st = {}
    if st.get("secure") and st.get("bootstrap_servers") == config.bootstrap_servers:
        return str(d / "client.properties")
    return "<data-dir>/client.properties"


def _short(text: str) -> str:
    return text.split(": ", 3)[-1][:200]


_traps: dict[int, ErrorTrap] = {}
_traps_lock = threading.Lock()


def trap_for(config: ClientConfig) -> ErrorTrap:
    """The :class:`ErrorTrap` shared by every client built from ``config``."""
    key = id(config)
    with _traps_lock:
        trap = _traps.get(key)
        if trap is None:
            trap = _traps[key] = ErrorTrap()
            weakref.finalize(config, _traps.pop, key, None)
        return trap


def base_properties(config: ClientConfig, defaults: Mapping[str, object] | None = None) -> dict:
    """Client properties with librdkafka's own logging routed away from the user's terminal.

    librdkafka logs every failed connection attempt to stderr; kpoc reports what matters itself,
    once, as a kpoc error (see :class:`ErrorTrap`).
    """
    props = config.client_properties(defaults)
    trap = trap_for(config)
    props.setdefault("logger", trap.logger)
    props.setdefault("error_cb", trap)
    return props


def make_client(factory: Callable[[dict], T], props: dict[str, Any]) -> T:
    """Build a client, turning librdkafka's configuration errors into :class:`ConfigError`."""
    for key, value in props.items():
        check_text(key, "client property name")
        if isinstance(value, str):
            check_text(value, f"value of {key}")
    try:
        client = factory(props)
    except (KafkaException, ValueError, TypeError) as exc:
        msg = str(exc.args[0].str() if isinstance(exc, KafkaException) else exc)
        if "sasl.username and sasl.password must be set" in msg:
            raise AuthError(
                f"no credentials: security.protocol={props.get('security.protocol')} with "
                f"{props.get('sasl.mechanism') or props.get('sasl.mechanisms')} needs "
                "sasl.username and a password",
                "put sasl.username in the -F file and the password in KPOC_SASL_PASSWORD "
                "(or the file, mode 0600); never on the command line",
            )
        raise ConfigError(f"invalid client configuration: {msg}",
                          "check your -X/-F properties") from exc
    trap = props.get("error_cb")
    if isinstance(trap, ErrorTrap):
        trap.attach(client)
    return client


def admin_client(config: ClientConfig) -> AdminClient:
    return make_client(AdminClient, base_properties(config))


def principal(config: ClientConfig) -> str:
    """The principal the broker sees for ``config`` (as far as the client can tell)."""
    user = config.properties.get("sasl.username")
    return f"User:{user}" if user else "this client's principal"


def facts_of(config: ClientConfig, what: str = "", err: KafkaError | None = None,
             **facts: object) -> dict[str, object]:
    """The facts :data:`kpoc._kafka_errors.MEANINGS`' templates are filled with."""
    who = principal(config)
    user = config.properties.get("sasl.username")
    common: dict[str, object] = {
        "what": what, "servers": config.bootstrap_servers, "principal": who,
        "grant": who if who.startswith("User:") else "User:NAME",
        "account": f"User:{user}" if user else "this principal",
        "why": err.str() if err is not None else "", "name": err.name() if err is not None else ""}
    if isinstance(facts.get("operation"), str):
        facts["OPERATION"] = str(facts["operation"]).upper()
    return {**common, **facts}


def kafka_error(request: str, code: int, config: ClientConfig, what: str = "",
                err: KafkaError | None = None, **facts: object) -> KpocError:
    """The kpoc error ``request``'s row for ``code`` makes (the row must exist)."""
    return MEANINGS[request][code].make(code, facts_of(config, what, err, **facts))


def wait_metadata(client: Any, config: ClientConfig, what: str, topic: str | None = None,
                  timeout: float | None = None) -> Any:
    """``list_topics`` within the bound, stopping at once on an authentication or TLS failure."""
    bound = config.timeout if timeout is None else timeout
    deadline = time.monotonic() + bound
    trap = trap_for(config)
    while True:
        left = deadline - time.monotonic()
        try:
            return client.list_topics(topic, timeout=max(0.05, min(0.5, left)))
        except KafkaException as exc:
            trap.check(config, what)
            if time.monotonic() >= deadline:
                raise translate(exc, config, what) from exc


def topic_metadata(config: ClientConfig, topic: str, operation: str = "describe") -> Any:
    """Metadata of ``topic`` within the bound, through a short-lived admin client.

    Producers and consumers deliver librdkafka's reports only from their own poll loops; asking
    through an admin client lets a wrong password or an untrusted certificate be named at once.
    A topic the principal may not see raises :func:`denied` for ``operation``.
    """
    md = wait_metadata(admin_client(config), config, "a metadata request", topic)
    tmd = md.topics.get(topic)
    if tmd is not None and tmd.error is not None and tmd.error.code() in MEANINGS["*"]:
        raise kafka_error("access", KafkaError.TOPIC_AUTHORIZATION_FAILED, config,
                          err=tmd.error, topic=topic, operation=operation.lower())
    return md


def partition_count(config: ClientConfig, topic: str, operation: str,
                    client: Any = None) -> int:
    """How many partitions ``topic`` has; a missing topic is an error now, not after librdkafka's
    30 s metadata wait (topics are never auto-created on kpoc's clusters).

    With ``client`` (a producer or consumer about to use the topic), the topic also goes into
    that client's own metadata: otherwise librdkafka, finding no leader, retries on fixed timers
    — a producer's first message waited ~1 s, a consumer's first offset lookup after assign()
    500 ms."""
    validate_topic_name(topic)
    count = count_partitions(topic_metadata(config, topic, operation), topic, config)
    if client is not None:
        wait_metadata(client, config, "a metadata request", topic)
    return count


def committed_offsets(config: ClientConfig, group: str, tps: list[Any],
                      timeout: float | None = None) -> dict[tuple[str, int], int]:
    """``group``'s committed offsets of ``tps`` (TopicPartitions), asked through a consumer
    handle that never joins the group; partitions with no commit are left out.

    Not the admin API's ListConsumerGroupOffsets: librdkafka dereferences a null group handle in
    an admin client when the coordinator answers NOT_COORDINATOR (librdkafka issue 5040, open),
    which is what a coordinator that has just moved answers. A consumer has that handle."""
    from confluent_kafka import Consumer

    consumer = make_client(Consumer, base_properties(config, {
        "group.id": group, "enable.auto.commit": False}))
    try:
        got = consumer.committed(tps, timeout=config.timeout if timeout is None else timeout)
    except KafkaException as exc:
        raise translate(exc, config, f"list offsets of group {group!r}") from exc
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): tp.offset for tp in got
            if tp.error is None and tp.offset >= 0}


def count_partitions(md: Any, topic: str, config: ClientConfig) -> int:
    """How many partitions ``topic`` has in metadata ``md``; a missing topic is :func:`no_topic`."""
    tmd = md.topics.get(topic)
    if tmd is None or tmd.error is not None:
        code = tmd.error.code() if tmd is not None and tmd.error is not None else None
        if code in UNAVAILABLE:
            raise unavailable(config, "a metadata request")
        raise no_topic(config, topic, code)
    return len(tmd.partitions)


def no_topic(config: ClientConfig, topic: str, code: int | None = None) -> NotFound:
    """The one way kpoc says a topic does not exist."""
    error = kafka_error("topic", KafkaError.UNKNOWN_TOPIC_OR_PART, config, topic=topic)
    assert isinstance(error, NotFound)
    error.code = KafkaError.UNKNOWN_TOPIC_OR_PART if code is None else code
    return error


def result(future: Any, config: ClientConfig, what: str, request: str = "*",
           **facts: object) -> Any:
    """The result of an admin request's future within the bound. A Kafka error becomes
    :func:`translate`'s error for ``request`` (its row in the table of meanings, filled with
    ``facts``); it chains the Kafka error."""
    import concurrent.futures

    try:
        return future.result(timeout=config.timeout + 1)
    except concurrent.futures.TimeoutError:
        raise unavailable(config, what) from None
    except KafkaException as exc:
        raise translate(exc, config, what, request, **facts) from exc


def translate(exc: KafkaException | KafkaError, config: ClientConfig, what: str,
              request: str = "*", **facts: object) -> KpocError:
    """Map a librdkafka error on ``what`` to the kpoc error a user can act on: ``request``'s row
    in :data:`kpoc._kafka_errors.MEANINGS` if it has one for the code, else the connection's
    diagnosis or the ``"*"`` row, else the broker's own text. The error keeps the Kafka error
    code in ``.code`` and chains the Kafka error."""
    if isinstance(exc, KafkaError):
        exc = KafkaException(exc)
    err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
    error = _translate(err, exc, config, what, request, facts)
    if error.code is None and err is not None:
        error.code = err.code()
    error.__cause__ = exc
    return error


def _translate(err: KafkaError | None, exc: KafkaException, config: ClientConfig,
               what: str, request: str, facts: dict[str, object]) -> KpocError:
    code = err.code() if err else None
    own = MEANINGS.get(request, {}).get(code) if code is not None else None
    if own is not None:
        return own.make(code, facts_of(config, what, err, **facts))
    text = err.str() if err else str(exc)
    if err is not None and text.rstrip().endswith(":"):
        # Some admin errors carry only "RequestName: "; the code's name is what helps.
        text = f"{text.rstrip(': ')}: {err.name()}"
    if code in UNAVAILABLE:
        return unavailable(config, what)
    if code in AUTH_FAILED:
        return trap_for(config).diagnosis(config, what) or AuthError(
            f"{what}: authentication failed: {text}", "check sasl.username and the password")
    common = MEANINGS["*"].get(code) if code is not None else None
    if common is not None:
        return common.make(code, facts_of(config, what, err, **facts))
    return KpocError(f"{what} failed: {text}")


def unavailable(config: ClientConfig, what: str) -> KpocError:
    """Nothing answered within the bound: say why if librdkafka told us, else what to check."""
    cause = trap_for(config).diagnosis(config, what)
    if cause is not None:
        return cause
    return KafkaUnavailable(
        f"no Kafka broker at {config.bootstrap_servers} answered {what} within {config.timeout:g}s",
        "check the address (--bootstrap-servers / KPOC_BOOTSTRAP_SERVERS), start a local cluster "
        "with `kpoc cluster up`, or raise the bound with --timeout / KPOC_TIMEOUT",
    )
