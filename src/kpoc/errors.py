"""kpoc's own exceptions.

Domain code raises these; the CLI turns them into one line on stderr and an exit code, so a user
never sees a traceback for a problem they can fix. Each message says what happened, the bound that
was hit if any, and the fix.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ClusterError",
    "ConfigError",
    "DeliveryError",
    "KafkaUnavailable",
    "KpocError",
    "NotFound",
    "PrerequisiteError",
    "UsageError",
]


class KpocError(Exception):
    """Base of every error kpoc reports to a user. ``code`` is the Kafka error code
    (``confluent_kafka.KafkaError``) the error came from, if it came from one."""

    exit_code = 1

    def __init__(self, message: str, fix: str | None = None, *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.code = code

    def __str__(self) -> str:
        return f"{self.message}; {self.fix}" if self.fix else self.message


class UsageError(KpocError):
    """Bad input from the user: a flag, a value, a file."""

    exit_code = 2


class ConfigError(UsageError):
    """An invalid client or cluster setting (e.g. an unknown ``-X`` property)."""


class PrerequisiteError(KpocError):
    """Something the machine lacks: Java, Maven, a free port, a writable directory."""

    exit_code = 3


class ClusterError(KpocError):
    """The local cluster could not be started, stopped or inspected."""

    exit_code = 4


class KafkaUnavailable(KpocError):
    """No broker answered within the configured bound."""

    exit_code = 5


class NotFound(KpocError):
    """A topic, group, partition or node that does not exist."""

    exit_code = 6


class AuthError(KpocError):
    """Authentication failed or an ACL denied the operation."""

    exit_code = 7


class DeliveryError(KpocError):
    """One or more messages were not acknowledged by the cluster."""

    exit_code = 8
