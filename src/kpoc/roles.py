"""Who may do what in kpoc's own web UI: roles, users and password checks.

Framework-free, so the console (or anything else) can enforce it server-side on every route:
map the request to its user and HTTP method, then ask :func:`may`. Two roles: ``admin`` may do
anything; ``read-only`` may only use safe methods (GET, HEAD, OPTIONS), so every mutating route
is refused whatever the page shows.

Passwords are stored as scrypt hashes in a JSON file with mode 0600; checks take the same time
whether the user exists or not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from .errors import ConfigError

__all__ = ["SAFE_METHODS", "Role", "User", "UserStore", "hash_password", "may",
           "verify_password", "write_user_file"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_N, _R, _P = 2**14, 8, 1


class Role(StrEnum):
    ADMIN = "admin"
    READ_ONLY = "read-only"


def may(role: Role | None, method: str) -> bool:
    """True if ``role`` may make a request with HTTP ``method``; no role (anonymous): never."""
    if role is None:
        return False
    return role is Role.ADMIN or method.upper() in SAFE_METHODS


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64) for ``password``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of ``password`` against :func:`hash_password`'s output."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str = field(repr=False)


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


class UserStore:
    """Users read from a JSON file ``{"users": [{"name", "role", "password_hash"}]}``."""

    def __init__(self, users: list[User]) -> None:
        self._users = {u.name: u for u in users}

    @classmethod
    def from_file(cls, path: str | Path) -> UserStore:
        p = Path(path).expanduser()
        try:
            st = p.stat()
            doc = json.loads(p.read_text())
            users = [User(u["name"], Role(u["role"]), u["password_hash"]) for u in doc["users"]]
        except FileNotFoundError:
            raise ConfigError(f"user file {p} does not exist", "create it with write_user_file")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"user file {p} is invalid: {exc}",
                              'expected {"users": [{"name", "role", "password_hash"}]}')
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise ConfigError(f"user file {p} is readable by others",
                              f"chmod 600 {p}")
        return cls(users)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else None (same cost for unknown names)."""
        user = self._users.get(name)
        ok = verify_password(password, user.password_hash if user else _DUMMY_HASH)
        return user if ok and user is not None else None

    def __len__(self) -> int:
        return len(self._users)


def write_user_file(path: str | Path, roles: dict[str, Role]) -> dict[str, str]:
    """Create a user file (mode 0600) with a random password per user; return the passwords."""
    p = Path(path).expanduser()
    passwords = {name: secrets.token_urlsafe(18) for name in roles}
    doc = {"users": [{"name": n, "role": r.value, "password_hash": hash_password(passwords[n])}
                     for n, r in roles.items()]}
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (json.dumps(doc, indent=2) + "\n").encode())
    finally:
        os.close(fd)
    return passwords
