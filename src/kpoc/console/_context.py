"""What every route needs (:class:`Console`, stored on ``app.state.console``), and ``retry``.

Routes import this module, never :mod:`kpoc.console.app`, which imports the routes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from .._isolated import AdminProcess
from .._kafka_errors import TRANSIENT
from .._version import __version__
from ..admin import Admin
from ..cluster import LocalCluster
from ..config import ClientConfig
from ..errors import AuthError, KafkaUnavailable, KpocError, NotFound, UsageError
from ._lag import LagHistory
from ._messages import Sender
from ._security import Security


@dataclass
class Console:
    """Everything a route needs, stored on ``app.state.console``."""

    config: ClientConfig
    security: Security
    templates: Jinja2Templates
    lag: LagHistory
    sender: Sender
    local: LocalCluster | None = None
    admin: Admin = field(init=False)
    #: Group listings and descriptions, in a child process: librdkafka can abort the process
    #: when a group coordinator is lost mid-request (see :mod:`kpoc._isolated`).
    groups: AdminProcess = field(init=False)

    def __post_init__(self) -> None:
        self.admin = Admin(self.config)
        self.groups = AdminProcess(self.config)

    def render(self, request: Request, name: str, context: dict[str, Any] | None = None,
               status_code: int = 200) -> Response:
        ctx = {"read_only": self.security.request_read_only(request),
               "signed_in": getattr(request.state, "role", None) is not None,
               "auth": self.security.enabled,
               "csrf_token": self.security.csrf_token(request), "version": __version__,
               "bootstrap": self.config.bootstrap_servers, **(context or {})}
        return self.templates.TemplateResponse(request, name, ctx, status_code=status_code)


_STATUS = ((KafkaUnavailable, 503), (NotFound, 404), (UsageError, 400), (AuthError, 403))


def status_of(exc: KpocError) -> int:
    """The HTTP status a kpoc error answers with."""
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            return code
    return 502


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


T = TypeVar("T")


def retry(fn: Callable[[], T], attempts: int = 12, pause: float = 0.4) -> T:
    """``fn()``, retried on metadata races between brokers (never on other errors): right after
    a topic is created or while one is deleted, a watermark request may fail for a moment with
    one of :data:`~kpoc._kafka_errors.TRANSIENT`'s codes; a page should not."""
    for i in range(attempts):
        try:
            return fn()
        except KpocError as exc:
            if isinstance(exc, NotFound) or i == attempts - 1 or exc.code not in TRANSIENT:
                raise
            time.sleep(pause)
    raise AssertionError("unreachable")
