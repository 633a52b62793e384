"""Session: the CSRF token for API clients, login and logout."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from .._context import console_of
from .._security import AUTH_COOKIE

router = APIRouter()


@router.get("/api/session", tags=["session"])
def api_session(request: Request) -> dict[str, Any]:
    """The CSRF token to send as ``X-CSRF-Token`` on POSTs, and the console's mode."""
    c = console_of(request)
    role = request.state.role
    return {"csrf_token": c.security.csrf_token(request),
            "read_only": c.security.request_read_only(request),
            "role": role.value if role is not None else None,
            "auth": c.security.enabled, "bootstrap_servers": c.config.bootstrap_servers}


def _safe_next(target: str | None) -> str:
    # Only local paths: never redirect a login to another site.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str = "/") -> Response:
    c = console_of(request)
    if not c.security.enabled:
        return RedirectResponse("/", status_code=303)
    return c.render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", include_in_schema=False)
def login(request: Request, token: str = Form(""), next: str = Form("/")) -> Response:
    c = console_of(request)
    if not c.security.enabled:
        return RedirectResponse("/", status_code=303)
    role = c.security.role_of_token(token)
    if role is None:
        return c.render(request, "login.html", {"next": _safe_next(next),
                                                "error": "wrong token"}, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(AUTH_COOKIE, c.security.login_cookie(role), httponly=True,
                        samesite="strict")
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    response = RedirectResponse("/login" if console_of(request).security.enabled else "/",
                                status_code=303)
    response.delete_cookie(AUTH_COOKIE)
    return response
