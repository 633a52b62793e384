"""Just enough of Kafka's wire protocol for what librdkafka cannot tell kpoc.

- ``kpoc doctor``: ApiVersions (v3) and Metadata. librdkafka negotiates API versions but does not
  expose what the broker said; the answer (API ranges, supported and finalized features such as
  ``metadata.version`` and ``share.version``) tells which Kafka a broker runs.
- Group types (KIP-848 consumer groups and KIP-932 share groups): ListGroups v5 (the group's
  type), ConsumerGroupDescribe v1 (epochs, target assignment), ShareGroupDescribe v1 and
  DescribeShareGroupOffsets v1 (start offset and Kafka's own lag per partition). confluent-kafka
  2.16's admin API knows only classic and consumer groups and lists a share group as a dead
  classic one.

Every call here is bounded by ``timeout``, name resolution included. Plaintext listeners only.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ._version import __version__

METADATA = 3
FIND_COORDINATOR = 10
LIST_GROUPS = 16
API_VERSIONS = 18
CONSUMER_GROUP_DESCRIBE = 69
SHARE_GROUP_DESCRIBE = 77
DESCRIBE_SHARE_GROUP_OFFSETS = 90
UNSUPPORTED_VERSION = 35


T = TypeVar("T")


class WireError(Exception):
    """A broker could not be reached or answered something unreadable."""


@dataclass(frozen=True)
class ApiVersionsInfo:
    """What one broker answered to ApiVersions."""

    error_code: int
    api_keys: dict[int, tuple[int, int]]  # api key -> (min, max) version
    supported_features: dict[str, tuple[int, int]] = field(default_factory=dict)
    finalized_features: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class MetadataInfo:
    """The cluster as one broker describes it (Metadata v2, no topics)."""

    cluster_id: str | None
    controller_id: int
    brokers: list[tuple[int, str, int]]  # (node id, advertised host, advertised port)


def resolve(host: str, port: int, timeout: float) -> list[tuple]:
    """``getaddrinfo`` bounded by ``timeout`` (the C resolver takes no timeout of its own)."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["addrs"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True, name=f"resolve-{host}")
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise WireError(f"resolving {host} took over {timeout:g}s")
    if "error" in box:
        exc = box["error"]
        raise WireError(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}")
    addrs = box["addrs"]
    assert isinstance(addrs, list)
    return addrs


def connect(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to ``host:port`` within ``timeout``; :class:`WireError` otherwise."""
    last: str = "no address"
    for family, socktype, proto, _, addr in resolve(host, port, timeout):
        s = socket.socket(family, socktype, proto)
        s.settimeout(timeout)
        try:
            s.connect(addr)
            return s
        except TimeoutError:
            last = f"no answer within {timeout:g}s"
        except OSError as exc:
            last = exc.strerror or str(exc)
        s.close()
    raise WireError(f"cannot connect to {host}:{port}: {last}")


# -- encoding -----------------------------------------------------------------------------------
def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _compact_str(s: str) -> bytes:
    raw = s.encode()
    return _uvarint(len(raw) + 1) + raw


def api_versions_request(correlation_id: int, version: int = 3) -> bytes:
    client_id = b"kpoc-doctor"
    header = struct.pack(">hhih", API_VERSIONS, version, correlation_id, len(client_id)) + client_id
    if version >= 3:
        header += _uvarint(0)  # header tagged fields
        body = _compact_str("kpoc") + _compact_str(__version__) + _uvarint(0)
    else:
        body = b""
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


# -- decoding -----------------------------------------------------------------------------------
class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise WireError("truncated response")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        return int(struct.unpack(">h", self.take(2))[0])

    def int8(self) -> int:
        return int(struct.unpack(">b", self.take(1))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self.take(4))[0])

    def int64(self) -> int:
        return int(struct.unpack(">q", self.take(8))[0])

    def compact_nullable_str(self) -> str | None:
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode(errors="replace")

    def compact_array(self, item: Callable[[], T]) -> list[T]:
        return [item() for _ in range(max(self.uvarint() - 1, 0))]

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 35:
                raise WireError("malformed varint in a response")

    def compact_str(self) -> str:
        n = self.uvarint() - 1
        return self.take(max(n, 0)).decode(errors="replace")

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def _features(r: _Reader) -> dict[str, tuple[int, int]]:
    out = {}
    for _ in range(r.uvarint() - 1):
        name = r.compact_str()
        a, b = r.int16(), r.int16()
        r.skip_tags()
        out[name] = (a, b)
    return out


def parse_api_versions(body: bytes, version: int) -> ApiVersionsInfo:
    """Parse a response body (after the correlation id)."""
    r = _Reader(body)
    error = r.int16()
    keys: dict[int, tuple[int, int]] = {}
    if error == UNSUPPORTED_VERSION and version >= 3:
        # The caller asks again at v0; what follows is not reliably v0-shaped (librdkafka's
        # mock cluster sends a compact array).
        return ApiVersionsInfo(error, keys)
    flexible = version >= 3
    count = r.uvarint() - 1 if flexible else r.int32()
    for _ in range(max(count, 0)):
        key, lo, hi = r.int16(), r.int16(), r.int16()
        if flexible:
            r.skip_tags()
        keys[key] = (lo, hi)
    supported: dict[str, tuple[int, int]] = {}
    finalized: dict[str, tuple[int, int]] = {}
    if flexible:
        r.int32()  # throttle_time_ms
        for _ in range(r.uvarint()):
            tag, size = r.uvarint(), r.uvarint()
            sub = _Reader(r.take(size))
            if tag == 0:
                supported = {k: (lo, hi) for k, (lo, hi) in _features(sub).items()}
            elif tag == 2:
                # FinalizedFeatures carry (max_version_level, min_version_level).
                finalized = {k: (lo, hi) for k, (hi, lo) in _features(sub).items()}
    return ApiVersionsInfo(error, keys, supported, finalized)


def _read_frame(s: socket.socket) -> bytes:
    def exact(n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise WireError("the broker closed the connection")
            buf += chunk
        return bytes(buf)

    (size,) = struct.unpack(">i", exact(4))
    if not 0 < size < 1 << 20:
        raise WireError(f"implausible response size {size}: is this a Kafka listener?")
    return exact(size)


def _nullable_str(r: _Reader) -> str | None:
    n = r.int16()
    return None if n < 0 else r.take(n).decode(errors="replace")


def metadata_request(correlation_id: int) -> bytes:
    """Metadata v2 for no topic: just the brokers, the controller and the cluster id."""
    client_id = b"kpoc-doctor"
    payload = struct.pack(">hhih", METADATA, 2, correlation_id, len(client_id)) + client_id
    payload += struct.pack(">i", 0)  # topics: empty array (v1+: none; null would be all)
    return struct.pack(">i", len(payload)) + payload


def parse_metadata(body: bytes) -> MetadataInfo:
    r = _Reader(body)
    brokers = []
    for _ in range(r.int32()):
        node_id = r.int32()
        host = _nullable_str(r) or ""
        port = r.int32()
        _nullable_str(r)  # rack
        brokers.append((node_id, host, port))
    cluster_id = _nullable_str(r)
    controller = r.int32()
    return MetadataInfo(cluster_id, controller, sorted(brokers))


def _round_trip(host: str, port: int, timeout: float, request: bytes, what: str) -> bytes:
    with connect(host, port, timeout) as s:
        try:
            s.sendall(request)
            return _read_frame(s)[4:]  # drop the correlation id (response header v0)
        except TimeoutError:
            raise WireError(f"{host}:{port} did not answer {what} within {timeout:g}s")
        except OSError as exc:
            raise WireError(f"{host}:{port}: {exc.strerror or exc}")


def metadata(host: str, port: int, timeout: float) -> MetadataInfo:
    """Ask one broker which brokers the cluster has, at the addresses they advertise.

    librdkafka cannot answer this for a misadvertised cluster: it drops the bootstrap connection
    as soon as it learns the (unreachable) advertised addresses.
    """
    return parse_metadata(_round_trip(host, port, timeout, metadata_request(1), "Metadata"))


def api_versions(host: str, port: int, timeout: float) -> ApiVersionsInfo:
    """Ask one broker for its API versions and features (v3, falling back as the broker asks)."""
    version = 3
    info = ApiVersionsInfo(UNSUPPORTED_VERSION, {})
    for attempt in range(2):
        body = _round_trip(host, port, timeout, api_versions_request(attempt + 1, version),
                           "ApiVersions")
        info = parse_api_versions(body, version)
        if info.error_code == UNSUPPORTED_VERSION and version == 3:
            version = 0
            continue
        return info
    return info


# -- groups: flexible requests (header v2, response header v1) ----------------------------------
@dataclass(frozen=True)
class ListedGroup:
    """One group as its coordinator lists it (ListGroups v5)."""

    group_id: str
    protocol_type: str
    state: str
    type: str  # classic | consumer | share | streams


@dataclass(frozen=True)
class DescribedMember:
    member_id: str
    client_id: str
    host: str
    member_epoch: int
    subscribed: list[str]
    assignment: list[tuple[str, int]]
    target_assignment: list[tuple[str, int]] | None = None  # KIP-848 only


@dataclass(frozen=True)
class DescribedGroup:
    """ConsumerGroupDescribe / ShareGroupDescribe v1 of one group."""

    error_code: int
    error_message: str | None
    group_id: str
    state: str
    group_epoch: int
    assignment_epoch: int
    assignor: str
    members: list[DescribedMember]


@dataclass(frozen=True)
class ShareOffset:
    """A share-partition's start offset and lag as Kafka computes them (DescribeShareGroupOffsets
    v1: records from the start offset to the high watermark not yet acknowledged)."""

    topic: str
    partition: int
    start_offset: int
    lag: int
    error_code: int


def _i8(n: int) -> bytes:
    return struct.pack(">b", n)


def _i32(n: int) -> bytes:
    return struct.pack(">i", n)


def _array(items: list[bytes]) -> bytes:
    return _uvarint(len(items) + 1) + b"".join(items)


_TAGS = _uvarint(0)


def flexible_request(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    """A request with header v2 (client id, then tagged fields) and ``body``."""
    client_id = b"kpoc"
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    payload = header + _TAGS + body
    return struct.pack(">i", len(payload)) + payload


def _flexible_call(host: str, port: int, timeout: float, api_key: int, version: int,
                   body: bytes, what: str) -> _Reader:
    r = _Reader(_round_trip(host, port, timeout,
                            flexible_request(api_key, version, 1, body), what))
    r.skip_tags()  # response header v1
    return r


def find_coordinator(host: str, port: int, timeout: float, group: str) -> tuple[int, str, int]:
    """The broker coordinating ``group`` (FindCoordinator v4+: node id, host, port)."""
    body = _i8(0) + _array([_compact_str(group)]) + _TAGS
    r = _flexible_call(host, port, timeout, FIND_COORDINATOR, 4, body, "FindCoordinator")
    r.int32()  # throttle

    def one() -> tuple[int, int, str, int, str | None]:
        r.compact_str()
        node, chost, cport, code = r.int32(), r.compact_str(), r.int32(), r.int16()
        msg = r.compact_nullable_str()
        r.skip_tags()
        return code, node, chost, cport, msg

    found = r.compact_array(one)
    if not found:
        raise WireError(f"FindCoordinator answered nothing for group {group!r}")
    code, node, chost, cport, msg = found[0]
    if code:
        raise WireError(f"no coordinator for group {group!r} yet (error {code}: {msg or ''})")
    return node, chost, cport


def list_groups(host: str, port: int, timeout: float) -> list[ListedGroup]:
    """Groups coordinated by this broker, with their type (ListGroups v5)."""
    body = _array([]) + _array([]) + _TAGS  # no state filter, no type filter
    r = _flexible_call(host, port, timeout, LIST_GROUPS, 5, body, "ListGroups")
    r.int32()
    code = r.int16()
    if code:
        raise WireError(f"{host}:{port} answered ListGroups with error {code}")

    def one() -> ListedGroup:
        g = ListedGroup(r.compact_str(), r.compact_str(), r.compact_str(), r.compact_str())
        r.skip_tags()
        return g

    return r.compact_array(one)


def _assignment(r: _Reader) -> list[tuple[str, int]]:
    def topic() -> list[tuple[str, int]]:
        r.take(16)  # topic id
        name = r.compact_str()
        parts = r.compact_array(r.int32)
        r.skip_tags()
        return [(name, p) for p in parts]

    out = [tp for t in r.compact_array(topic) for tp in t]
    r.skip_tags()
    return sorted(out)


def describe_group(host: str, port: int, timeout: float, group: str, share: bool
                   ) -> DescribedGroup:
    """ShareGroupDescribe v1 (``share``) or ConsumerGroupDescribe v1 of ``group``, asked of its
    coordinator at ``host:port``."""
    api = SHARE_GROUP_DESCRIBE if share else CONSUMER_GROUP_DESCRIBE
    body = _array([_compact_str(group)]) + _i8(0) + _TAGS
    r = _flexible_call(host, port, timeout, api, 1, body,
                       "ShareGroupDescribe" if share else "ConsumerGroupDescribe")
    r.int32()

    def member() -> DescribedMember:
        member_id = r.compact_str()
        if not share:
            r.compact_nullable_str()  # instance id
        r.compact_nullable_str()  # rack
        epoch, client, chost = r.int32(), r.compact_str(), r.compact_str()
        subscribed = r.compact_array(r.compact_str)
        if not share:
            r.compact_nullable_str()  # regex
        assignment = _assignment(r)
        target = None if share else _assignment(r)
        if not share:
            r.int8()  # member type
        r.skip_tags()
        return DescribedMember(member_id, client, chost, epoch, subscribed, assignment, target)

    def group_() -> DescribedGroup:
        code, msg = r.int16(), r.compact_nullable_str()
        gid, state, gepoch, aepoch = r.compact_str(), r.compact_str(), r.int32(), r.int32()
        assignor = r.compact_str()
        members = r.compact_array(member)
        r.int32()  # authorized operations
        r.skip_tags()
        return DescribedGroup(code, msg, gid, state, gepoch, aepoch, assignor, members)

    groups = r.compact_array(group_)
    if not groups:
        raise WireError(f"the coordinator described no group for {group!r}")
    return groups[0]


def share_group_offsets(host: str, port: int, timeout: float, group: str) -> list[ShareOffset]:
    """Start offset and lag of every partition ``group`` has state for (DescribeShareGroupOffsets
    v1, all topics), asked of its coordinator."""
    body = _array([_compact_str(group) + _uvarint(0) + _TAGS]) + _TAGS  # topics: null = all
    r = _flexible_call(host, port, timeout, DESCRIBE_SHARE_GROUP_OFFSETS, 1, body,
                       "DescribeShareGroupOffsets")
    r.int32()
    out: list[ShareOffset] = []

    def partition(topic: str) -> None:
        p, start = r.int32(), r.int64()
        r.int32()  # leader epoch
        lag, code = r.int64(), r.int16()
        r.compact_nullable_str()
        r.skip_tags()
        out.append(ShareOffset(topic, p, start, lag, code))

    def topic() -> None:
        name = r.compact_str()
        r.take(16)
        r.compact_array(lambda: partition(name))
        r.skip_tags()

    def group_() -> None:
        r.compact_str()
        r.compact_array(topic)
        code, msg = r.int16(), r.compact_nullable_str()
        r.skip_tags()
        if code:
            raise WireError(f"share group offsets of {group!r}: error {code} {msg or ''}".strip())

    r.compact_array(group_)
    return sorted(out, key=lambda o: (o.topic, o.partition))
