"""Authentication, CSRF and read-only enforcement for the console.

* Auth (optional, required off loopback): ``Authorization: Bearer <token>`` or a login cookie that
  holds the role and an HMAC of it under a per-process secret (no token is stored in the
  browser). Everything but the login page and static assets answers 401 without it.
* Roles (:mod:`kpoc.roles`): the ``--auth-token`` is the admin's, a ``--read-only-token`` is a
  read-only user's. The role is checked on the server for every request.
* CSRF: every request gets an HttpOnly, SameSite=Strict session cookie; the CSRF token is an HMAC
  of that session id. A POST must carry it in the ``csrf_token`` form field or the
  ``X-CSRF-Token`` header. Requests authenticated by a bearer header are exempt (a browser never
  adds that header on its own, so it cannot be forged cross-site).
* Read-only (the whole console with ``--read-only``, or a read-only user): every POST except
  login/logout is refused with 403 on the server, whatever the pages show.
* Host and Origin (against DNS rebinding): with an allow-list, a request whose ``Host`` names
  another host, and a mutating request whose ``Origin`` does, is refused with 403 before
  anything else runs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from ..roles import SAFE_METHODS, Role, may

AUTH_COOKIE = "kpoc_console_auth"
SESSION_COOKIE = "kpoc_console_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
#: POSTs that read-only mode still allows: they change no Kafka state.
SESSION_PATHS = {"/login", "/logout"}


class Security:
    def __init__(self, token: str | None, read_only: bool = False,
                 read_only_token: str | None = None,
                 allowed_hosts: Sequence[str] | None = None) -> None:
        self.allowed_hosts = None if allowed_hosts is None or "*" in allowed_hosts else {
            h.strip().lower() for h in allowed_hosts if h.strip()}
        self.token = token or None
        self.read_only = read_only
        self._tokens = [(t, r) for t, r in ((self.token, Role.ADMIN),
                                            (read_only_token or None, Role.READ_ONLY)) if t]
        self._secret = secrets.token_bytes(32)

    def _mac(self, purpose: str, data: str) -> str:
        return hmac.new(self._secret, f"{purpose}:{data}".encode(), hashlib.sha256).hexdigest()

    # -- auth -----------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def login_cookie(self, role: Role) -> str:
        return f"{role.value}.{self._mac('auth', role.value)}"

    def role_of_token(self, candidate: str) -> Role | None:
        found = None
        for token, role in self._tokens:  # compare with every token: no early exit to time
            if hmac.compare_digest(candidate.encode(), token.encode()):
                found = role
        return found

    def bearer(self, request: Request) -> Role | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return self.role_of_token(value.strip()) if scheme.lower() == "bearer" else None

    def role(self, request: Request) -> Role | None:
        """Who is asking: a role, or None when auth is on and nothing valid came with it."""
        if not self.enabled:
            return Role.READ_ONLY if self.read_only else Role.ADMIN
        role = self.bearer(request)
        if role is not None:
            return role
        name, _, mac = request.cookies.get(AUTH_COOKIE, "").partition(".")
        for candidate in Role:
            if name == candidate.value and hmac.compare_digest(
                    mac.encode(), self._mac("auth", name).encode()):
                return candidate
        return None

    def request_read_only(self, request: Request) -> bool:
        """True when this request may not change anything (console mode or the user's role)."""
        role = getattr(request.state, "role", None)
        return self.read_only or role is Role.READ_ONLY

    @staticmethod
    def is_public(path: str) -> bool:
        """Reachable without authentication: the login form, its assets and the icon."""
        return path in ("/login", "/favicon.ico") or path.startswith("/static/")

    # -- Host and Origin ------------------------------------------------------------------------
    host_fix = ("open the console by an address it serves (e.g. http://127.0.0.1:PORT), or "
                "start it with --allowed-host NAME")

    def _allowed(self, host: str) -> bool:
        assert self.allowed_hosts is not None
        host = host.strip().lower()
        if host in self.allowed_hosts:
            return True
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in self.allowed_hosts

    def refuse_origin(self, request: Request) -> str | None:
        """Why this request is refused for its Host or Origin header, or None."""
        if self.allowed_hosts is None:
            return None
        host = request.headers.get("host", "")
        if not self._allowed(host):
            return f"host {host!r} is not one this console serves"
        origin = request.headers.get("origin")
        if request.method not in SAFE_METHODS and origin is not None:
            parts = urlsplit(origin)
            if origin == "null" or parts.netloc.lower() != host.lower():
                return f"cross-origin request from {origin!r} refused"
        return None

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
        if request.url.path not in SESSION_PATHS:
            if self.read_only:
                raise HTTPException(403, "the console is read-only (started with --read-only)")
            if not may(getattr(request.state, "role", None), request.method):
                raise HTTPException(403, "read-only user: this action needs the admin role "
                                         "(log in with the --auth-token)")
        if self.bearer(request) is not None:
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
