"""The console's application factory: ``create_app(config, read_only=..., auth=...)``.

Pages are server-rendered Jinja templates (autoescaped everywhere) with a little JavaScript for
live charts; the JSON API under ``/api`` serves the same data, with its OpenAPI document at
``/openapi.json``. Every page and endpoint gets its facts from :class:`kpoc.admin.Admin`, the same
code as the CLI's ``topics`` and ``groups`` commands.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from confluent_kafka import KafkaException
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._client import translate
from .._version import __version__
from ..cluster import LocalCluster
from ..config import ClientConfig
from ..errors import AuthError, KafkaUnavailable, KpocError, NotFound, UsageError
from ._context import Console
from ._lag import LagHistory
from ._messages import Sender
from ._security import SESSION_COOKIE, Security, new_session_id

HERE = Path(__file__).parent


def _templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        # Every template is HTML: escape everything, whatever the file name.
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ms"] = _fmt_ms
    env.filters["duration"] = _fmt_duration
    return Jinja2Templates(env=env)


def _fmt_ms(ts: int | None) -> str:
    if ts is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts / 1000)) + f".{ts % 1000:03d}Z"


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.0f}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    return f"{s // 3600}h {s % 3600 // 60}m"


_STATUS = ((KafkaUnavailable, 503), (NotFound, 404), (UsageError, 400), (AuthError, 403))


def _status_of(exc: KpocError) -> int:
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            return code
    return 502


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path == "/api" or path == "/openapi.json"


def create_app(config: ClientConfig, *, read_only: bool = False, auth: str | None = None,
               read_only_auth: str | None = None, local_cluster: LocalCluster | None = None,
               sample_interval: float = 5.0, history: int = 720) -> FastAPI:
    """The console as an ASGI app; run it with uvicorn (``kpoc console`` does).

    ``auth`` is the admin's token, ``read_only_auth`` a read-only user's."""
    security = Security(auth, read_only, read_only_auth)
    console = Console(config, security, _templates(), LagHistory(config, sample_interval, history),
                      Sender(config), local_cluster)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        console.lag.start()
        try:
            yield
        finally:
            console.lag.stop()
            console.admin.close()

    app = FastAPI(
        title="kpoc console",
        version=__version__,
        description="A web console for a Kafka cluster: overview, topics, messages, consumer "
                    "groups and lag history. Mutating endpoints are POSTs that need the CSRF "
                    "token from GET /api/session (header X-CSRF-Token) unless authenticated "
                    "with a bearer token.",
        lifespan=lifespan,
        dependencies=[Depends(security.guard)],
        # Swagger UI loads its assets from a CDN, which the console never does (offline, CSP).
        docs_url=None,
        redoc_url=None,
    )
    app.state.console = console
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def session_and_auth(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        new_sid = None
        if not request.cookies.get(SESSION_COOKIE):
            new_sid = new_session_id()
        request.state.session_id = request.cookies.get(SESSION_COOKIE) or new_sid
        request.state.role = security.role(request)
        if request.state.role is None and not security.is_public(request.url.path):
            if _wants_json(request):
                response: Response = JSONResponse(
                    {"error": "authentication required",
                     "fix": "send Authorization: Bearer <token> (the console's --auth-token)"},
                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
            else:
                response = console.render(request, "login.html",
                                          {"next": request.url.path, "error": None},
                                          status_code=401)
        else:
            response = await call_next(request)
        if new_sid:
            response.set_cookie(SESSION_COOKIE, new_sid, httponly=True, samesite="strict")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'")
        return response

    @app.exception_handler(KpocError)
    async def kpoc_error(request: Request, exc: KpocError) -> Response:
        code = _status_of(exc)
        if _wants_json(request):
            return JSONResponse({"error": exc.message, "fix": exc.fix}, status_code=code)
        return console.render(request, "error.html", {"status": code, "error": exc.message,
                                                      "fix": exc.fix,
                                                      "unavailable": code == 503},
                              status_code=code)

    @app.exception_handler(KafkaException)
    async def kafka_error(request: Request, exc: KafkaException) -> Response:
        err = translate(exc, config, "a request")
        return await kpoc_error(request, err if isinstance(err, KpocError) else KpocError(str(err)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": exc.detail, "fix": None}, status_code=exc.status_code,
                                headers=exc.headers)
        return console.render(request, "error.html", {"status": exc.status_code,
                                                      "error": str(exc.detail), "fix": None,
                                                      "unavailable": False},
                              status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
            for e in exc.errors()[:5])
        if _wants_json(request):
            return JSONResponse({"error": f"invalid request: {problems}", "fix": None},
                                status_code=422)
        return console.render(request, "error.html", {"status": 422,
                                                      "error": f"invalid request: {problems}",
                                                      "fix": None, "unavailable": False},
                              status_code=422)

    from .routes import groups, messages, overview, session, topics

    for module in (session, overview, topics, messages, groups):
        app.include_router(module.router)
    return app
