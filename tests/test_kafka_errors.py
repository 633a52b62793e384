"""The one table from Kafka error codes to kpoc errors (kpoc._kafka_errors) and its users."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException

from kpoc._client import no_topic, translate
from kpoc._kafka_errors import COMMON_FACTS, FACTS, MEANINGS
from kpoc.config import ClientConfig
from kpoc.errors import AuthError, KpocError, NotFound, UsageError
from kpoc.producer import _describe

CONFIG = ClientConfig("127.0.0.1:1", timeout=1)
SRC = Path(__file__).parents[1] / "src" / "kpoc"


def _fields(template: str | None) -> set[str]:
    return {f.split(".")[0].split("[")[0]
            for _, f, _, _ in string.Formatter().parse(template or "") if f}


@pytest.mark.parametrize("request_name", sorted(MEANINGS))
def test_every_row_uses_only_the_facts_its_request_supplies(request_name):
    allowed = COMMON_FACTS | FACTS[request_name]
    for code, row in MEANINGS[request_name].items():
        used = _fields(row.message) | _fields(row.fix)
        assert used <= allowed, (request_name, KafkaError(code).name(), used - allowed)


def test_a_request_row_wins_keeps_the_code_and_chains_the_cause():
    error = translate(KafkaException(KafkaError(KafkaError.GROUP_ID_NOT_FOUND)), CONFIG,
                      "describe group 'g'", "group", group="g")
    assert type(error) is NotFound
    assert str(error) == ("consumer group 'g' does not exist; list groups with "
                          "`kpoc groups list`")
    assert error.code == KafkaError.GROUP_ID_NOT_FOUND
    assert isinstance(error.__cause__, KafkaException)


def test_a_code_without_a_row_for_the_request_falls_back_to_the_brokers_text():
    error = translate(KafkaError(KafkaError.GROUP_ID_NOT_FOUND, "no such group"), CONFIG,
                      "delete topic 't'", "topic", topic="t")
    assert type(error) is KpocError
    assert error.message == "delete topic 't' failed: no such group"
    assert error.code == KafkaError.GROUP_ID_NOT_FOUND


def test_the_brokers_text_fills_a_template():
    error = translate(KafkaError(KafkaError.INVALID_CONFIG, "bad retention.ms"), CONFIG,
                      "create topic 't'", "create topic", topic="t", replication_factor=3,
                      brokers=3)
    assert type(error) is UsageError
    assert error.message == "invalid topic config: bad retention.ms"


def test_a_consumer_denied_names_the_acl_to_add():
    error = translate(KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED), CONFIG, "consume",
                      "consume", topic="t", group="g", operation="read")
    assert type(error) is AuthError
    assert error.message == ("not authorised: this client's principal may not READ group 'g' "
                             "(GROUP_AUTHORIZATION_FAILED)")
    assert error.fix is not None and error.fix.endswith(
        "kpoc acls add --principal User:NAME --operation read --group g")


def test_no_topic_keeps_the_code_it_is_given():
    assert no_topic(CONFIG, "t").code == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert no_topic(CONFIG, "t", KafkaError._UNKNOWN_TOPIC).code == KafkaError._UNKNOWN_TOPIC


def test_a_failed_delivery_carries_the_fix_from_the_table():
    text, name = _describe(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "too big"))
    assert name == "MSG_SIZE_TOO_LARGE"
    assert text.startswith("MSG_SIZE_TOO_LARGE: too big; raise the topic's max.message.bytes")
    text, _ = _describe(KafkaError(KafkaError.INVALID_RECORD, "bad"))
    assert text == "INVALID_RECORD: bad"


#: Codes modules other than the table may name: events that are not errors, librdkafka's
#: connection reports the error trap reads, and the keys of rows looked up by name.
OUTSIDE_THE_TABLE = {"_PARTITION_EOF", "_NO_OFFSET", "_QUEUE_FULL", "_SSL", "_RESOLVE",
                     "TOPIC_AUTHORIZATION_FAILED", "UNKNOWN_TOPIC_OR_PART",
                     "GROUP_ID_NOT_FOUND"}


def test_no_module_but_the_table_decides_on_other_kafka_codes():
    named: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        if path.name == "_kafka_errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "KafkaError" and node.attr.isupper()):
                named.setdefault(node.attr, set()).add(str(path.relative_to(SRC)))
    extra = {code: sorted(files) for code, files in named.items()
             if code not in OUTSIDE_THE_TABLE}
    assert not extra, f"decide on these codes in kpoc._kafka_errors: {extra}"
