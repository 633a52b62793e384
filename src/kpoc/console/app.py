"""The console's application factory: ``create_app(config, read_only=..., auth=...)``.

Pages are server-rendered Jinja templates (autoescaped everywhere) with a little JavaScript for
live charts; the JSON API under ``/api`` serves the same data, with its OpenAPI document at
``/openapi.json``. Every page and endpoint gets its facts from :class:`kpoc.admin.Admin`, the same
code as the CLI's ``topics`` and ``groups`` commands.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._client import translate
from .._version import __version__
from ..cluster import LocalCluster
from ..config import ClientConfig
from ..errors import KpocError
from ._context import Console, status_of
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
    env.filters["iso"] = _fmt_iso
    env.filters["duration"] = _fmt_duration
    return Jinja2Templates(env=env)


def _fmt_ms(ts: int | None) -> str:
    if ts is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts / 1000)) + f".{ts % 1000:03d} UTC"


def _fmt_iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts / 1000)) + f".{ts % 1000:03d}Z"


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.0f}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    return f"{s // 3600}h {s % 3600 // 60}m"


def _log_access(enabled: bool, method: str, request: Request, role: Any, status: int,
                started: float) -> None:
    """Who did what: one line per request on stderr (never a token, cookie or query value)."""
    if not enabled:
        return
    client = request.client.host if request.client else "-"
    who = getattr(role, "value", None) or "anonymous"
    ms = (time.perf_counter() - started) * 1000
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {client} {who} "
          f"{method} {request.url.path!r} {status} {ms:.0f}ms", file=sys.stderr,
          flush=True)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path == "/api" or path == "/openapi.json"


def create_app(config: ClientConfig, *, read_only: bool = False, auth: str | None = None,
               read_only_auth: str | None = None, local_cluster: LocalCluster | None = None,
               sample_interval: float = 5.0, history: int = 720,
               allowed_hosts: Sequence[str] | None = None, access_log: bool = False) -> FastAPI:
    """The console as an ASGI app; run it with uvicorn (``kpoc console`` does).

    ``auth`` is the admin's token, ``read_only_auth`` a read-only user's. ``allowed_hosts``
    (host names, optionally ``host:port``; ``*`` for any) is what a request's ``Host`` and a
    mutating request's ``Origin`` must name, against DNS rebinding; None checks nothing (an
    app embedded in tests). ``access_log`` writes one line per request on stderr."""
    security = Security(auth, read_only, read_only_auth, allowed_hosts)
    console = Console(config, security, _templates(), LagHistory(config, sample_interval, history),
                      Sender(config), local_cluster)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        console.lag.start()
        try:
            yield
        finally:
            console.lag.stop()
            console.groups.close()
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

    _add_session_and_auth(app, console, access_log)
    _add_error_pages(app, console)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    from .routes import acls, brokers, groups, messages, overview, session, topics

    for module in (session, overview, brokers, topics, messages, groups, acls):
        app.include_router(module.router)
    return app


def _add_session_and_auth(app: FastAPI, console: Console, access_log: bool) -> None:
    """The middleware every request passes: Host/Origin check, session cookie, role, login,
    security headers, the access log; HEAD answered as the GET it mirrors."""
    security = console.security

    @app.middleware("http")
    async def session_and_auth(request: Request,
                               call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        method = request.method
        head = method == "HEAD"
        if head:  # answered as the GET it mirrors, without the body
            request.scope["method"] = "GET"
        refused = security.refuse_origin(request)
        if refused is not None:
            response: Response = JSONResponse({"error": refused, "fix": security.host_fix},
                                              status_code=403)
            _log_access(access_log, method, request, None, response.status_code,
                        started)
            return response
        new_sid = None
        if not request.cookies.get(SESSION_COOKIE):
            new_sid = new_session_id()
        request.state.session_id = request.cookies.get(SESSION_COOKIE) or new_sid
        request.state.role = security.role(request)
        if request.state.role is None and not security.is_public(request.url.path):
            if _wants_json(request):
                response = JSONResponse(
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
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        _log_access(access_log, method, request, request.state.role, response.status_code,
                    started)
        if head:
            return Response(status_code=response.status_code, headers={
                k: v for k, v in response.headers.items() if k.lower() != "content-length"})
        return response


def _add_error_pages(app: FastAPI, console: Console) -> None:
    """kpoc's errors, Kafka's, HTTP's and invalid requests as one page or JSON document each
    (JSON for /api and the OpenAPI schema)."""
    config = console.config

    @app.exception_handler(KpocError)
    async def kpoc_error(request: Request, exc: KpocError) -> Response:
        code = status_of(exc)
        if _wants_json(request):
            return JSONResponse({"error": exc.message, "fix": exc.fix}, status_code=code)
        return console.render(request, "error.html", {"status": code, "error": exc.message,
                                                      "fix": exc.fix,
                                                      "unavailable": code == 503},
                              status_code=code)

    @app.exception_handler(KafkaException)
    async def kafka_error(request: Request, exc: KafkaException) -> Response:
        return await kpoc_error(request, translate(exc, config, "a request"))

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
