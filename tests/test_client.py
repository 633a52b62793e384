"""kpoc._client's translation of librdkafka errors: the Kafka code survives."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from kpoc._client import translate
from kpoc.config import ClientConfig
from kpoc.errors import AuthError, KafkaUnavailable, KpocError

CONFIG = ClientConfig("127.0.0.1:1", timeout=1)


@pytest.mark.parametrize("code,cls", [
    (KafkaError.LEADER_NOT_AVAILABLE, KpocError),
    (KafkaError._TRANSPORT, KafkaUnavailable),
    (KafkaError.TOPIC_AUTHORIZATION_FAILED, AuthError),
])
def test_translate_keeps_the_kafka_code(code, cls):
    error = translate(KafkaException(KafkaError(code)), CONFIG, "list offsets")
    assert type(error) is cls and error.code == code
