"""``kpoc console``: a web console for a Kafka cluster, served from the package (works offline)."""

from .app import create_app

__all__ = ["create_app"]
