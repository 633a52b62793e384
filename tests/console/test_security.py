"""Safety, checked from the route table so a new route cannot slip through: read-only refuses
every mutating route (403), auth refuses every route (401) without a token, CSRF, loopback."""

from __future__ import annotations

import re
import subprocess
import sys
import threading

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from kpoc.config import ClientConfig
from kpoc.console import create_app

from .conftest import free_port, make_app, wait_for

TOKEN = "s3cret-token-0123456789"
#: Reachable without a token: the login form and its stylesheet/scripts (no cluster data).
PUBLIC = {"/login", "/favicon.ico"}
#: POSTs that change no Kafka state and so stay allowed in read-only mode.
SESSION_POSTS = {"/login", "/logout"}


def _offline_app(timeout: float = 1.0, **kw):
    # Nothing here reaches Kafka: the guards answer before any handler runs.
    return create_app(ClientConfig("127.0.0.1:1", timeout=timeout), sample_interval=0, **kw)


def _routes(app) -> list[tuple[str, str]]:
    return sorted(set(_walk(app.routes)))


def _walk(routes) -> list[tuple[str, str]]:
    out = []
    for r in routes:
        if hasattr(r, "original_router"):  # FastAPI's included router (no prefix here)
            out += _walk(r.original_router.routes)
        elif isinstance(r, Mount):
            out.append(("GET", r.path + "/style.css"))
        elif getattr(r, "methods", None):
            for m in sorted(r.methods):
                if m != "HEAD":
                    out.append((m, r.path))
    return out


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x-name", path)


def test_route_table_is_not_empty_and_has_mutating_routes():
    routes = _routes(_offline_app())
    posts = [p for m, p in routes if m == "POST"]
    assert len(routes) > 20 and len(posts) >= 9


@pytest.mark.parametrize("path", sorted(p for m, p in _routes(_offline_app())
                                        if m == "POST" and p not in SESSION_POSTS))
def test_read_only_refuses_every_mutating_route(path):
    app = _offline_app(read_only=True)
    c = TestClient(app, raise_server_exceptions=False)
    token = c.get("/api/session").json()["csrf_token"]
    r = c.post(_concrete(path), headers={"X-CSRF-Token": token}, json={})
    assert r.status_code == 403, (path, r.status_code, r.text[:200])
    assert "read-only" in r.text


@pytest.mark.parametrize("method,path", [(m, p) for m, p in _routes(_offline_app())
                                         if p not in PUBLIC and not p.startswith("/static")])
def test_auth_refuses_every_route_without_the_token(method, path):
    c = TestClient(_offline_app(auth=TOKEN), raise_server_exceptions=False)
    r = c.request(method, _concrete(path))
    assert r.status_code == 401, (method, path, r.status_code)
    wrong = c.request(method, _concrete(path), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_static_assets_and_login_are_public_but_hold_no_data():
    c = TestClient(_offline_app(auth=TOKEN), raise_server_exceptions=False)
    assert c.get("/static/chart.js").status_code == 200
    page = c.get("/login")
    assert page.status_code == 200 and 'name="token"' in page.text


def test_login_cookie_and_bearer_both_authenticate(cluster):
    app = make_app(cluster, auth=TOKEN, sample_interval=0)
    c = TestClient(app, raise_server_exceptions=False)
    first = c.get("/")
    assert first.status_code == 401 and "Log in" in first.text
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', first.text).group(1)
    bad = c.post("/login", data={"token": "wrong", "csrf_token": csrf, "next": "/"},
                 follow_redirects=False)
    assert bad.status_code == 401
    ok = c.post("/login", data={"token": TOKEN, "csrf_token": csrf, "next": "//evil.example"},
                follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert TOKEN not in ok.headers["set-cookie"]
    assert c.get("/api/overview").status_code == 200
    api = TestClient(app, raise_server_exceptions=False)
    r = api.get("/api/topics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    # A bearer-authenticated API call needs no CSRF token: browsers never add that header.
    r = api.post("/api/topics/no-such-topic-sec/messages", json={"value": "v"},
                 headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 404


def test_read_only_pages_hide_mutating_forms(cluster, make_topic):
    topic = make_topic(1)
    c = TestClient(make_app(cluster, read_only=True, sample_interval=0))
    assert 'id="create-topic"' not in c.get("/topics").text
    page = c.get(f"/topics/{topic}").text
    assert 'id="delete-topic"' not in page and 'id="read-only"' in page
    assert "produce again" not in c.get(f"/topics/{topic}/messages").text


def test_security_headers_forbid_inline_script_and_framing():
    r = TestClient(_offline_app()).get("/static/app.js")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"


def _kpoc(*args, env=None, timeout=30):
    return subprocess.run([sys.executable, "-m", "kpoc", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_cli_refuses_a_short_token(kpoc_env):
    r = _kpoc("console", "--auth-token", "short", env=kpoc_env)
    assert r.returncode == 2 and "at least 16" in r.stderr and "Traceback" not in r.stderr


def test_cli_generates_and_requires_a_token_for_a_public_bind(kpoc_env, cluster):
    """Off loopback with no token (an empty KPOC_CONSOLE_TOKEN, as compose passes when none is
    exported): a generated token, printed once with the login link, and required."""
    port = free_port()
    env = {**kpoc_env, "KPOC_CONSOLE_TOKEN": "", "KPOC_CONSOLE_URL": "http://127.0.0.1:18080/"}
    proc = subprocess.Popen([sys.executable, "-m", "kpoc", "console", "--host", "0.0.0.0",
                             "--port", str(port), "--sample-interval", "0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
    reader.start()
    try:
        printed = wait_for(lambda: re.search(
            r"this run's token is ([0-9a-f]{32})\nlog in at http://127\.0\.0\.1:18080/login",
            "".join(lines)), 40, "the generated token and login link on stderr")
        token = printed[1]

        def overview(headers):
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/overview", timeout=5,
                                 headers=headers)
            except httpx.HTTPError:
                return None
        assert wait_for(lambda: overview({}), 40, "kpoc console to answer").status_code == 401
        r = overview({"Authorization": f"Bearer {token}"})
        assert r is not None and r.status_code == 200 and r.json()["brokers_up"] >= 1
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    reader.join(timeout=20)
    assert "".join(lines).count(token) == 1  # printed once, nowhere else


def test_cli_serves_the_console(kpoc_env, cluster):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kpoc", "console", "--port", str(port),
                             "--sample-interval", "0"],
                            env=kpoc_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        def up():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/overview", timeout=5)
            except httpx.HTTPError:
                return None
        r = wait_for(up, 40, "kpoc console to answer")
        assert r.status_code == 200 and r.json()["brokers_up"] >= 1
        if cluster.manager is not None:
            assert r.json()["brokers_source"] == "local cluster"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}" in out


VIEWER = "viewer-token-0123456789"


@pytest.mark.parametrize("path", sorted(p for m, p in _routes(_offline_app())
                                        if m == "POST" and p not in SESSION_POSTS))
def test_read_only_role_is_refused_every_mutating_route(path):
    """A read-only user (not the whole console) gets 403 on the server for every mutation."""
    c = TestClient(_offline_app(auth=TOKEN, read_only_auth=VIEWER),
                   raise_server_exceptions=False)
    r = c.post(_concrete(path), headers={"Authorization": f"Bearer {VIEWER}"}, json={})
    assert r.status_code == 403, (path, r.status_code, r.text[:200])
    assert "read-only user" in r.text


def _login(c, token):
    page = c.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return c.post("/login", data={"token": token, "next": "/", "csrf_token": csrf},
                  follow_redirects=False)


def test_roles_by_login_cookie():
    c = TestClient(_offline_app(auth=TOKEN, read_only_auth=VIEWER),
                   raise_server_exceptions=False)
    r = _login(c, VIEWER)
    assert r.status_code == 303
    session = c.get("/api/session").json()
    assert session["role"] == "read-only" and session["read_only"] is True
    assert VIEWER not in r.headers.get("set-cookie", "") and TOKEN not in str(session)
    refused = c.post("/api/topics", json={"name": "bad name"},
                     headers={"X-CSRF-Token": session["csrf_token"]})
    assert refused.status_code == 403
    admin = TestClient(_offline_app(auth=TOKEN, read_only_auth=VIEWER),
                       raise_server_exceptions=False)
    assert _login(admin, TOKEN).status_code == 303
    s2 = admin.get("/api/session").json()
    assert s2["role"] == "admin" and s2["read_only"] is False
    allowed = admin.post("/api/topics", json={"name": "bad name"},
                         headers={"X-CSRF-Token": s2["csrf_token"]})
    assert allowed.status_code == 400  # past the role check, stopped by validation
    forged = TestClient(_offline_app(auth=TOKEN, read_only_auth=VIEWER),
                        raise_server_exceptions=False)
    forged.cookies.set("kpoc_console_auth", "admin.0000")
    assert forged.get("/api/session").status_code == 401


def test_no_token_in_pages_or_api_responses():
    """A log-and-page scan: neither token appears in any page, API answer or cookie."""
    # Every data page fails on the unreachable cluster: a short bound keeps the scan quick.
    c = TestClient(_offline_app(timeout=0.2, auth=TOKEN, read_only_auth=VIEWER),
                   raise_server_exceptions=False)
    seen = [c.get("/login").text]
    seen.append(str(_login(c, TOKEN).headers))
    for method, path in _routes(_offline_app()):
        if method == "GET" and not path.startswith("/static"):
            r = c.get(_concrete(path))
            seen.append(r.text + str(r.headers))
    seen.append(str(dict(c.cookies)))
    blob = "\n".join(seen)
    assert TOKEN not in blob and VIEWER not in blob


def test_host_and_origin_outside_the_allow_list_are_refused():
    app = create_app(ClientConfig("127.0.0.1:1", timeout=1.0), sample_interval=0,
                     allowed_hosts=["127.0.0.1", "localhost"])
    c = TestClient(app, base_url="http://127.0.0.1:8080", raise_server_exceptions=False,
                   follow_redirects=False)
    assert c.get("/favicon.ico").status_code == 200
    r = c.get("/favicon.ico", headers={"Host": "attacker.example"})
    assert r.status_code == 403 and "attacker.example" in r.json()["error"]
    token = c.get("/api/session").json()["csrf_token"]
    r = c.post("/logout", headers={"X-CSRF-Token": token, "Origin": "http://attacker.example"})
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    r = c.post("/logout", headers={"X-CSRF-Token": token, "Origin": "http://127.0.0.1:8080"})
    assert r.status_code == 303


def test_csp_head_and_favicon():
    c = TestClient(_offline_app(auth=TOKEN), raise_server_exceptions=False)
    csp = c.get("/login").headers["content-security-policy"]
    assert "base-uri 'none'" in csp and "form-action 'self'" in csp
    head = c.head("/login")
    assert head.status_code == 200 and head.content == b""
    assert c.get("/favicon.ico").headers["content-type"].startswith("image/svg+xml")


def test_cli_allow_list():
    from kpoc.cli.console import host_allow_list

    assert host_allow_list("0.0.0.0", ()) == ["*"]
    assert "box.example" in host_allow_list("0.0.0.0", ("box.example",))
    assert {"127.0.0.1", "localhost", "[::1]"} <= set(host_allow_list("127.0.0.1", ()))


def test_access_log_says_who_did_what_on_stderr_without_secrets(capfd):
    app = create_app(ClientConfig("127.0.0.1:1", timeout=1.0), sample_interval=0, auth=TOKEN,
                     access_log=True)
    c = TestClient(app, raise_server_exceptions=False)
    c.get("/favicon.ico", headers={"Authorization": f"Bearer {TOKEN}"})
    c.post("/api/topics", json={})
    err = capfd.readouterr().err
    assert "admin GET '/favicon.ico' 200" in err
    assert "anonymous POST '/api/topics' 401" in err
    assert TOKEN not in err
