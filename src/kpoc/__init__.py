"""kpoc: Kafka, done properly, from Python.

    from kpoc import Admin, Consumer, DeliveryReport, Producer, Record

The library needs only confluent-kafka: importing kpoc loads neither the CLI (click, rich) nor
the web console (FastAPI). ``kpoc.aio`` has the asyncio forms of Producer and Consumer.
"""

from ._version import __version__
from .api import Admin, Consumer, Delivery, GroupEvent, Producer, client_config
from .config import ClientConfig, load_config
from .envelope import Record
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
from .producer import DeliveryReport

__all__ = [
    "Admin",
    "AuthError",
    "ClientConfig",
    "ClusterError",
    "ConfigError",
    "Consumer",
    "Delivery",
    "DeliveryError",
    "DeliveryReport",
    "GroupEvent",
    "KafkaUnavailable",
    "KpocError",
    "NotFound",
    "PrerequisiteError",
    "Producer",
    "Record",
    "UsageError",
    "__version__",
    "client_config",
    "load_config",
]
