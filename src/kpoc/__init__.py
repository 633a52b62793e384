"""kpoc: Kafka, done properly, from Python."""

from .config import ClientConfig, load_config
from .errors import (
    AuthError,
    ClusterError,
    ConfigError,
    DeliveryError,
    KafkaUnavailable,
    KpocError,
    NotFound,
    PrerequisiteError,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "ClientConfig",
    "ClusterError",
    "ConfigError",
    "DeliveryError",
    "KafkaUnavailable",
    "KpocError",
    "NotFound",
    "PrerequisiteError",
    "UsageError",
    "__version__",
    "load_config",
]
