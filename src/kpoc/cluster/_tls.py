"""A private certificate authority and per-node certificates for ``kpoc cluster up --secure``.

Everything is generated locally with the ``cryptography`` package: one CA (its key is used once to
sign the node certificates and never written to disk, so nobody can mint more), then one key and
certificate per node, valid for ``127.0.0.1`` and ``localhost``, usable both as TLS server and as
TLS client (the nodes authenticate each other with these certificates: mutual TLS).

Private keys are written with mode 0600 from the start (never world-readable, not even briefly).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "kpoc local CA"
VALID_DAYS = 825


def node_common_name(node_id: int) -> str:
    return f"kpoc-node-{node_id}"


def node_principal(node_id: int) -> str:
    """The Kafka principal of a node authenticated by its certificate (default SSL mapping)."""
    return f"User:CN={node_common_name(node_id)}"


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (created 0600, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class NodeCert:
    node_id: int
    key_pem: str  # PKCS#8, unencrypted
    cert_pem: str


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def generate(node_ids: list[int], host: str = "127.0.0.1") -> tuple[str, list[NodeCert]]:
    """A fresh CA certificate (PEM) and one signed key+certificate per node."""
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=VALID_DAYS)
    ca_key = _key()
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(CA_NAME))
        .issuer_name(_name(CA_NAME))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    sans: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        sans.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        sans.append(x509.DNSName(host))
    if host != "127.0.0.1":
        sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    nodes = []
    for nid in node_ids:
        key = _key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(node_common_name(nid)))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        nodes.append(NodeCert(nid, _key_pem(key), _cert_pem(cert)))
    return _cert_pem(ca), nodes


def properties_pem(pem: str) -> str:
    """A PEM block as one ``server.properties`` value (Java line continuations)."""
    return " \\\n    ".join(pem.strip().splitlines())
