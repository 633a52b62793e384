"""``kpoc doctor``: is this cluster usable from here, and is it safe?

Kafka's most repeated pain in containers: the bootstrap address works, but the brokers advertise
addresses (``advertised.listeners``) that this machine cannot reach, so every produce and fetch
fails after the first metadata request. The checks, each a plain function returning
:class:`Check` values with a fix:

- ``bootstrap``: some bootstrap server answers a metadata request within the bound;
- ``advertised``: every broker's advertised ``host:port`` resolves and accepts a TCP connection;
- ``version``: the brokers' Kafka release (from ApiVersions' ``metadata.version``), KRaft mode,
  and that all brokers run the same release;
- ``durability`` of a topic: replication factor ≥ 3, ``min.insync.replicas`` ≥ 2 (and ≤ RF),
  unclean leader election off, every replica in sync.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from confluent_kafka import KafkaException, libversion
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from ._client import make_client
from ._wire import ApiVersionsInfo, WireError, api_versions, connect, metadata
from .admin import BrokerInfo
from .cluster import KAFKA_VERSION
from .config import DEFAULT_TOPIC, ClientConfig

#: ``metadata.version`` feature levels → Kafka release (from Kafka 4.3.1's MetadataVersion).
METADATA_VERSIONS = {
    1: "3.0-IV1", 2: "3.1-IV0", 3: "3.2-IV0", 4: "3.3-IV0", 5: "3.3-IV1", 6: "3.3-IV2",
    7: "3.3-IV3", 8: "3.4-IV0", 9: "3.5-IV0", 10: "3.5-IV1", 11: "3.5-IV2", 12: "3.6-IV0",
    13: "3.6-IV1", 14: "3.6-IV2", 15: "3.7-IV0", 16: "3.7-IV1", 17: "3.7-IV2", 18: "3.7-IV3",
    19: "3.7-IV4", 20: "3.8-IV0", 21: "3.9-IV0", 22: "4.0-IV0", 23: "4.0-IV1", 24: "4.0-IV2",
    25: "4.0-IV3", 26: "4.1-IV0", 27: "4.1-IV1", 28: "4.2-IV0", 29: "4.2-IV1", 30: "4.3-IV0",
    31: "4.4-IV0",
}
MIN_RF = 3
MIN_ISR = 2
#: Each network step is bounded by min(--timeout, this), so a dozen brokers cannot add up to
#: minutes of waiting.
STEP_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    """One finding: ``ok`` or a problem with its ``fix``."""

    check: str
    subject: str
    ok: bool
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    bootstrap_servers: str
    checks: list[Check] = field(default_factory=list)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "ok": not self.problems,
            "problems": len(self.problems),
            "checks": [c.to_dict() for c in self.checks],
        }


def release_name(level: int) -> str:
    return METADATA_VERSIONS.get(level, f"metadata.version level {level}")


# -- the checks ---------------------------------------------------------------------------------
def bootstrap_addresses(bootstrap_servers: str) -> list[tuple[str, int]]:
    out = []
    for item in bootstrap_servers.split(","):
        host, _, port = item.strip().rpartition(":")
        if host and port.isdigit():
            out.append((host.strip("[]"), int(port)))
    return out


def check_bootstrap(config: ClientConfig, timeout: float) -> tuple[Check, list[BrokerInfo]]:
    """Ask the bootstrap servers, in turn, which brokers the cluster has and where they say they
    are. Raw Metadata requests: librdkafka drops the bootstrap connection once it has learned the
    advertised addresses, so it cannot describe a cluster whose addresses are wrong."""
    failures = []
    for host, port in bootstrap_addresses(config.bootstrap_servers):
        try:
            md = metadata(host, port, timeout)
        except WireError as exc:
            failures.append(str(exc))
            continue
        brokers = [BrokerInfo(nid, h, p) for nid, h, p in md.brokers]
        return Check(
            "bootstrap", config.bootstrap_servers, True,
            f"cluster {md.cluster_id} answered via {host}:{port}: {len(brokers)} broker(s), "
            f"controller {md.controller_id}",
        ), brokers
    why = "; ".join(failures) or "no host:port in the list"
    return Check(
        "bootstrap", config.bootstrap_servers, False,
        f"no bootstrap server answered a metadata request ({why})",
        "check the address (-b / KPOC_BOOTSTRAP_SERVERS) and that the brokers run "
        "(`kpoc cluster status`, `docker compose ps`); raise the bound with --timeout",
    ), []


def check_bootstrap_client(admin: Any, config: ClientConfig) -> tuple[Check, list[BrokerInfo]]:
    """The same question through librdkafka, for TLS/SASL listeners the raw requests cannot use
    (librdkafka may then fail to answer when the advertised addresses are wrong)."""
    try:
        md = admin.list_topics(timeout=config.timeout)
    except KafkaException as exc:
        return Check(
            "bootstrap", config.bootstrap_servers, False,
            f"no bootstrap server answered a metadata request within {config.timeout:g}s "
            f"({exc}); if the bootstrap address itself is right, the advertised ones may not be",
            "check the address (-b / KPOC_BOOTSTRAP_SERVERS), the security settings (-X/-F), "
            "and the brokers' advertised.listeners",
        ), []
    brokers = sorted((BrokerInfo(b.id, b.host, b.port) for b in md.brokers.values()),
                     key=lambda b: b.id)
    return Check(
        "bootstrap", config.bootstrap_servers, True,
        f"cluster {md.cluster_id}: {len(brokers)} broker(s), controller {md.controller_id}",
    ), brokers


def plaintext(config: ClientConfig) -> bool:
    return str(config.properties.get("security.protocol", "plaintext")).lower() == "plaintext"


def check_advertised(brokers: list[BrokerInfo], timeout: float) -> list[Check]:
    """Connect to each broker at the address it advertises, as every client will after bootstrap."""
    checks = []
    for b in brokers:
        subject = f"broker {b.id}"
        try:
            connect(b.host, b.port, timeout).close()
        except WireError as exc:
            checks.append(Check(
                "advertised", subject, False,
                f"advertises {b.address}, which this machine cannot reach: {exc}",
                f"clients connect to the advertised address after bootstrap, so every "
                f"produce/consume to broker {b.id} will fail. Set its advertised.listeners to "
                f"an address reachable from here: from the host, the published listener (e.g. "
                f"HOST://127.0.0.1:{9091 + b.id} in kpoc's docker-compose.yml, "
                f"-b 127.0.0.1:9092); inside the compose network, kafka-{b.id}:19092",
            ))
        else:
            checks.append(Check("advertised", subject, True, f"advertises {b.address}: reachable"))
    return checks


def _who(node_id: int) -> str:
    return f"broker {node_id}" if node_id >= 0 else "the bootstrap server"


def check_versions(targets: list[BrokerInfo], timeout: float) -> list[Check]:
    """Kafka release and mode from each reachable broker's ApiVersions answer."""
    answers: dict[int, ApiVersionsInfo] = {}
    failures: list[str] = []
    for b in targets:
        try:
            answers[b.id] = api_versions(b.host, b.port, timeout)
        except WireError as exc:
            failures.append(f"broker {b.id}: {exc}")
    client = f"client librdkafka {libversion()[0]}"
    if not answers:
        return [Check(
            "version", "cluster", False,
            "no broker answered ApiVersions (" + "; ".join(failures) + ")",
            "fix the reachability problems above first",
        )]
    checks = []
    mv_finalized = {nid: a.finalized_features.get("metadata.version") for nid, a in answers.items()}
    ranges = {nid: a.api_keys for nid, a in answers.items()}
    levels = {v[1] for v in mv_finalized.values() if v}
    if not levels:
        checks.append(Check(
            "version", "cluster", False,
            "the brokers report no finalized metadata.version: a ZooKeeper-mode or pre-3.3 "
            f"cluster ({client})",
            f"kpoc targets Apache Kafka in KRaft mode (tested with {KAFKA_VERSION}); upgrade the "
            "cluster, or start one with `kpoc cluster up` / `docker compose up`",
        ))
        return checks
    level = max(levels)
    supported = max(
        (a.supported_features.get("metadata.version", (0, 0))[1] for a in answers.values()),
        default=0,
    )
    detail = (f"Apache Kafka {release_name(level).split('-')[0]} in KRaft mode (metadata.version "
              f"{release_name(level)}, level {level}) on "
              f"{', '.join(_who(n) for n in sorted(answers))}; {client}")
    distinct = {tuple(sorted(r.items())) for r in ranges.values()}
    if len(distinct) > 1:
        checks.append(Check(
            "version", "cluster", False,
            detail + "; but the brokers support different API versions: mixed releases",
            "finish the rolling upgrade so every broker runs the same Kafka release",
        ))
    elif supported > level:
        checks.append(Check(
            "version", "cluster", False,
            detail + f"; the brokers support {release_name(supported)} but the cluster still "
            f"runs {release_name(level)}: a rolling upgrade was not finalized",
            "finalize it: kafka-features.sh --bootstrap-server <broker> upgrade --metadata "
            f"{release_name(supported).split('-')[0]}",
        ))
    else:
        checks.append(Check("version", "cluster", True, detail))
    if failures:
        checks.append(Check(
            "version", "cluster", False, "no ApiVersions answer from " + "; ".join(failures),
            "see the advertised-address problems above",
        ))
    return checks


def check_durability(admin: Any, topic: str, timeout: float, bootstrap: str = "HOST:PORT"
                     ) -> list[Check]:
    """Would an acknowledged write to ``topic`` survive losing one broker?"""
    subject = f"topic {topic}"
    try:
        md = admin.list_topics(topic, timeout=timeout).topics[topic]
    except KafkaException as exc:
        return [Check("durability", subject, False, f"cannot read its metadata: {exc}",
                      "fix the connection problems above first")]
    if md.error is not None:
        return [Check(
            "durability", subject, False, f"does not exist ({md.error.str()})",
            f"create it with 3 replicas: kpoc topics create {topic} --partitions 3 "
            f"--replication-factor {MIN_RF} -b {bootstrap}; or check another topic with --topic",
        )]
    try:
        fut = admin.describe_configs(
            [ConfigResource(ResourceType.TOPIC, topic)], request_timeout=timeout
        )
        configs = next(iter(fut.values())).result(timeout=timeout + 1)
    except Exception as exc:  # KafkaException or a timeout of the future
        return [Check("durability", subject, False, f"cannot read its configuration: {exc}",
                      "fix the connection problems above first")]
    parts = md.partitions.values()
    rf = min((len(p.replicas) for p in parts), default=0)
    isr = int(configs["min.insync.replicas"].value)
    unclean = configs["unclean.leader.election.enable"].value == "true"
    alter = (f"kafka-configs.sh --bootstrap-server {bootstrap} --alter --entity-type topics "
             f"--entity-name {topic} --add-config")
    checks = []
    if rf < MIN_RF:
        checks.append(Check(
            "durability", subject, False,
            f"replication factor {rf}: losing {rf} broker(s) loses acknowledged messages",
            f"use replication factor {MIN_RF} (needs ≥ {MIN_RF} brokers): recreate the topic with "
            f"--replication-factor {MIN_RF}, or add replicas with kafka-reassign-partitions.sh",
        ))
    else:
        checks.append(Check("durability", subject, True, f"replication factor {rf}"))
    if isr < MIN_ISR:
        checks.append(Check(
            "durability", subject, False,
            f"min.insync.replicas={isr}: an acks=all write is acknowledged by one copy",
            f"{alter} min.insync.replicas={MIN_ISR}",
        ))
    elif isr > rf:
        checks.append(Check(
            "durability", subject, False,
            f"min.insync.replicas={isr} exceeds the replication factor {rf}: every acks=all "
            "write fails",
            f"{alter} min.insync.replicas={min(MIN_ISR, rf)}",
        ))
    else:
        checks.append(Check("durability", subject, True, f"min.insync.replicas={isr}"))
    if unclean:
        checks.append(Check(
            "durability", subject, False,
            "unclean.leader.election.enable=true: an out-of-sync replica may become leader and "
            "drop acknowledged messages",
            f"{alter} unclean.leader.election.enable=false",
        ))
    else:
        checks.append(Check("durability", subject, True, "unclean leader election off"))
    lagging = sorted(p.id for p in parts if len(p.isrs) < len(p.replicas))
    if lagging:
        checks.append(Check(
            "durability", subject, False,
            f"partition(s) {', '.join(map(str, lagging))} have replicas out of sync",
            "start the missing brokers (`kpoc cluster status`); they catch up by themselves",
        ))
    return checks


def _quiet_admin(config: ClientConfig) -> AdminClient:
    """An admin client that logs nothing, through no Python callback.

    Against a misadvertised broker librdkafka logs a failed connection every 100 ms from its own
    threads; routing that through a Python ``logger`` crashed the interpreter (SIGSEGV) now and
    then when the client was collected. ``log_level=0`` silences it at the source.
    """
    return make_client(AdminClient, config.client_properties({"log_level": 0}))


def diagnose(
    config: ClientConfig,
    topic: str | None = DEFAULT_TOPIC,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Run every check against the cluster ``config`` points at; never raises for a finding."""
    say = progress or (lambda _: None)
    step = min(config.timeout, STEP_TIMEOUT)
    report = Report(config.bootstrap_servers)
    say(f"asking {config.bootstrap_servers} for metadata")
    secured = not plaintext(config)
    if secured:
        first, brokers = check_bootstrap_client(_quiet_admin(config), config)
    else:
        first, brokers = check_bootstrap(config, step)
    report.checks.append(first)
    if not first.ok:
        return report
    say(f"connecting to {len(brokers)} advertised address(es)")
    advertised = check_advertised(brokers, step)
    report.checks.extend(advertised)
    reachable = [b for b, c in zip(brokers, advertised, strict=True) if c.ok]
    say("asking the brokers for their API versions")
    if secured:
        report.checks.append(Check(
            "version", "cluster", True,
            "not checked: kpoc doctor reads broker versions over PLAINTEXT listeners only "
            f"(security.protocol={config.properties.get('security.protocol')})",
        ))
    elif reachable:
        report.checks.extend(check_versions(reachable, step))
    else:  # ask the bootstrap servers themselves, which did answer
        host, port = bootstrap_addresses(config.bootstrap_servers)[0]
        report.checks.extend(check_versions([BrokerInfo(-1, host, port)], step))
    if topic and not reachable:
        report.checks.append(Check(
            "durability", f"topic {topic}", False,
            "not checked: no broker is reachable at the address it advertises, so no Kafka "
            "client (kpoc included) can read the topic from here",
            "fix the advertised addresses above, then run kpoc doctor again",
        ))
    elif topic:
        say(f"checking topic {topic}")
        first_server = config.bootstrap_servers.split(",")[0].strip()
        report.checks.extend(
            check_durability(_quiet_admin(config), topic, config.timeout, first_server))
    return report
