"""``retry`` decides on the Kafka error code, never on the words of a message."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from kpoc.console._context import retry
from kpoc.errors import KpocError, NotFound


def _failing(errors: list[KpocError]):
    calls = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "ok"

    return fn, calls


def test_a_transient_code_is_retried_until_it_passes():
    fn, calls = _failing([KpocError("x", code=KafkaError.LEADER_NOT_AVAILABLE),
                          KpocError("y", code=KafkaError.UNKNOWN_TOPIC_OR_PART)])
    assert retry(fn, pause=0) == "ok" and len(calls) == 3


@pytest.mark.parametrize("error", [
    KpocError("list offsets failed: Leader not available"),  # the words, not the code
    KpocError("boom", code=KafkaError.TOPIC_AUTHORIZATION_FAILED),
    NotFound("topic 'x' does not exist", code=KafkaError.UNKNOWN_TOPIC_OR_PART),
])
def test_anything_else_is_raised_at_once(error):
    fn, calls = _failing([error])
    with pytest.raises(KpocError) as info:
        retry(fn, pause=0)
    assert info.value is error and len(calls) == 1


def test_the_last_attempt_raises():
    fn, calls = _failing([KpocError("x", code=KafkaError.NOT_LEADER_FOR_PARTITION)] * 5)
    with pytest.raises(KpocError):
        retry(fn, attempts=3, pause=0)
    assert len(calls) == 3
