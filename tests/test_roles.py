"""The console's role model: pure logic, no broker needed."""

from __future__ import annotations

import stat

import pytest

from kpoc.errors import ConfigError
from kpoc.roles import Role, UserStore, hash_password, may, verify_password, write_user_file


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"])
def test_admin_may_do_anything_read_only_only_safe_methods_anonymous_nothing(method):
    assert may(Role.ADMIN, method)
    assert may(Role.READ_ONLY, method) == (method in ("GET", "HEAD", "OPTIONS"))
    assert may(Role.READ_ONLY, method.lower()) == may(Role.READ_ONLY, method)
    assert not may(None, method)


def test_password_hash_round_trip():
    h = hash_password("s3cret")
    assert "s3cret" not in h
    assert verify_password("s3cret", h)
    assert not verify_password("s3cret ", h)
    assert not verify_password("s3cret", "not-a-hash")
    assert hash_password("s3cret") != h  # salted


def test_user_file_is_private_and_authenticates(tmp_path):
    f = tmp_path / "users.json"
    pws = write_user_file(f, {"ana": Role.ADMIN, "rui": Role.READ_ONLY})
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    text = f.read_text()
    assert all(pw not in text for pw in pws.values())
    store = UserStore.from_file(f)
    ana = store.authenticate("ana", pws["ana"])
    assert ana is not None and ana.role is Role.ADMIN
    assert "password_hash" not in repr(ana) and "scrypt" not in repr(ana)
    assert store.authenticate("rui", pws["ana"]) is None
    assert store.authenticate("nobody", pws["ana"]) is None
    rui = store.authenticate("rui", pws["rui"])
    assert rui is not None and rui.role is Role.READ_ONLY


def test_world_readable_user_file_is_refused(tmp_path):
    f = tmp_path / "users.json"
    write_user_file(f, {"ana": Role.ADMIN})
    f.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        UserStore.from_file(f)
