"""Secure-mode configuration as plain data (no cluster needed)."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from kpoc.cluster import node_specs
from kpoc.cluster._secure import (
    INTERNAL_PORT_OFFSET,
    java_argfile,
    new_credentials,
    scram_args,
    secure_properties,
)
from kpoc.cluster._tls import generate


def test_listeners_ports_and_super_users():
    specs = node_specs(3, 40000)
    props = secure_properties(specs[1], specs, Path("/d"))
    assert props["listeners"] == ("SASL_SSL://127.0.0.1:40001,CONTROLLER://127.0.0.1:40101,"
                                  f"INTERNAL://127.0.0.1:{40001 + INTERNAL_PORT_OFFSET}")
    assert props["inter.broker.listener.name"] == "INTERNAL"
    assert props["super.users"].split(";") == [
        "User:admin", "User:CN=kpoc-node-1", "User:CN=kpoc-node-2", "User:CN=kpoc-node-3"]
    assert props["ssl.keystore.location"] == "/d/node-2/tls/node.pem"


def test_credentials_are_random_and_hidden_from_repr():
    a, b = new_credentials(), new_credentials()
    assert a.users["admin"] != b.users["admin"] and len(a.users["admin"]) >= 32
    assert a.users["admin"] not in repr(a)
    assert scram_args(a)[1] == f"SCRAM-SHA-512=[name=admin,password={a.users['admin']}]"


def test_argfile_quotes_every_argument():
    text = java_argfile(["-cp", "/a b/*", 'x"y', "c:\\d"])
    assert text.splitlines() == ['"-cp"', '"/a b/*"', '"x\\"y"', '"c:\\\\d"']


def test_node_certificates_chain_to_the_ca_and_name_the_node():
    ca_pem, nodes = generate([1, 2])
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    for n in nodes:
        cert = x509.load_pem_x509_certificate(n.cert_pem.encode())
        cert.verify_directly_issued_by(ca)
        assert cert.subject.rfc4514_string() == f"CN=kpoc-node-{n.node_id}"
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "localhost" in san.get_values_for_type(x509.DNSName)
        assert "BEGIN PRIVATE KEY" in n.key_pem
