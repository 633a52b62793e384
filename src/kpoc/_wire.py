"""Just enough of Kafka's wire protocol for ``kpoc doctor``: one ApiVersions (v3) round trip.

librdkafka negotiates API versions but does not expose what the broker said; the answer (API
ranges, supported and finalized features such as ``metadata.version``) tells which Kafka a
broker runs. Every call here is bounded by ``timeout``, name resolution included.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field

from . import __version__

METADATA = 3
API_VERSIONS = 18
UNSUPPORTED_VERSION = 35


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
            raise WireError("truncated ApiVersions response")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        return int(struct.unpack(">h", self.take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self.take(4))[0])

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 35:
                raise WireError("malformed varint in ApiVersions response")

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
    flexible = version >= 3 and error != UNSUPPORTED_VERSION
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
