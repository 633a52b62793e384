"""The console's role model: pure logic, no broker needed."""

from __future__ import annotations

import pytest

from kpoc.roles import Role, may


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"])
def test_admin_may_do_anything_read_only_only_safe_methods_anonymous_nothing(method):
    assert may(Role.ADMIN, method)
    assert may(Role.READ_ONLY, method) == (method in ("GET", "HEAD", "OPTIONS"))
    assert may(Role.READ_ONLY, method.lower()) == may(Role.READ_ONLY, method)
    assert not may(None, method)
