"""Authentication, CSRF and read-only enforcement for the console.

* Auth (optional, required off loopback): ``Authorization: Bearer <token>`` or a login cookie that
  holds an HMAC of the token under a per-process secret (the token itself is never stored in the
  browser). Everything but the login page and static assets answers 401 without it.
* CSRF: every request gets an HttpOnly, SameSite=Strict session cookie; the CSRF token is an HMAC
  of that session id. A POST must carry it in the ``csrf_token`` form field or the
  ``X-CSRF-Token`` header. Requests authenticated by a bearer header are exempt (a browser never
  adds that header on its own, so it cannot be forged cross-site).
* Read-only: every POST except login/logout is refused with 403 on the server, whatever the pages
  show.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import HTTPException, Request

AUTH_COOKIE = "kpoc_console_auth"
SESSION_COOKIE = "kpoc_console_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
#: Paths reachable without authentication (the login form needs its stylesheet).
PUBLIC_PREFIXES = ("/login", "/static/")
#: POSTs that read-only mode still allows: they change no Kafka state.
SESSION_PATHS = {"/login", "/logout"}


class Security:
    def __init__(self, token: str | None, read_only: bool = False) -> None:
        self.token = token or None
        self.read_only = read_only
        self._secret = secrets.token_bytes(32)

    def _mac(self, purpose: str, data: str) -> str:
        return hmac.new(self._secret, f"{purpose}:{data}".encode(), hashlib.sha256).hexdigest()

    # -- auth -----------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.token is not None

    def login_cookie(self) -> str:
        return self._mac("auth", self.token or "")

    def check_token(self, candidate: str) -> bool:
        return self.token is not None and hmac.compare_digest(
            candidate.encode(), self.token.encode())

    def bearer(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and self.check_token(value.strip())

    def authenticated(self, request: Request) -> bool:
        if self.token is None:
            return True
        if self.bearer(request):
            return True
        cookie = request.cookies.get(AUTH_COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self.login_cookie().encode())

    @staticmethod
    def is_public(path: str) -> bool:
        return path == "/login" or path.startswith("/static/")

    # -- CSRF -----------------------------------------------------------------------------------
    @staticmethod
    def session_id(request: Request) -> str:
        sid = getattr(request.state, "session_id", None) or request.cookies.get(SESSION_COOKIE)
        return str(sid or "")

    def csrf_token(self, request: Request) -> str:
        return self._mac("csrf", self.session_id(request))

    async def guard(self, request: Request) -> None:
        """A dependency on every route: read-only and CSRF checks for mutating requests."""
        if request.method in SAFE_METHODS:
            return
        if self.read_only and request.url.path not in SESSION_PATHS:
            raise HTTPException(403, "the console is read-only (started with --read-only)")
        if self.token is not None and self.bearer(request):
            return
        sid = request.cookies.get(SESSION_COOKIE)
        sent = request.headers.get(CSRF_HEADER)
        if sent is None:
            ctype = request.headers.get("content-type", "")
            if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
                form = await request.form()
                value = form.get(CSRF_FIELD)
                sent = value if isinstance(value, str) else None
        if not sid or not sent or not hmac.compare_digest(
                sent.encode(), self._mac("csrf", sid).encode()):
            raise HTTPException(403, "missing or invalid CSRF token; reload the page and retry "
                                     "(API clients: GET /api/session, then send X-CSRF-Token)")


def new_session_id() -> str:
    return secrets.token_urlsafe(24)
