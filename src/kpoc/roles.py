"""Who may do what in kpoc's web console: two roles, checked on the server for every request.

``admin`` may do anything; ``read-only`` may only use safe methods (GET, HEAD, OPTIONS), so every
mutating route is refused whatever the page shows. Anonymous (no role) may do nothing.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["SAFE_METHODS", "Role", "may"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Role(StrEnum):
    ADMIN = "admin"
    READ_ONLY = "read-only"


def may(role: Role | None, method: str) -> bool:
    """True if ``role`` may make a request with HTTP ``method``; no role (anonymous): never."""
    if role is None:
        return False
    return role is Role.ADMIN or method.upper() in SAFE_METHODS
