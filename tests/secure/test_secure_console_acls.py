"""The console's ACL page on the secure cluster: list, add and remove through the forms, as the
admin; the read-only console refuses both (a cluster without an authorizer: tests/console)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from kpoc.config import ClientConfig
from kpoc.console import create_app


def _csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([0-9a-f]+)"', html).group(1)


def test_acl_page_lists_adds_and_removes(secure_cluster, names):
    config = ClientConfig(secure_cluster.bootstrap_servers, secure_cluster.props("admin"), 30.0)
    topic, user = names("acl-topic"), names("viewer")
    with TestClient(create_app(config, sample_interval=0), follow_redirects=True) as c:
        page = c.get("/acls")
        assert page.status_code == 200 and 'id="add-acl"' in page.text
        form = {"csrf_token": _csrf(page.text), "action": "add", "resource_type": "topic",
                "resource_name": topic, "pattern": "literal", "principal": user,
                "operations": ["read", "describe"], "host": "*", "permission": "allow"}
        added = c.post("/acls", data=form)
        assert added.status_code == 200 and "ACL(s) added." in added.text
        mine = [a for a in c.get("/api/acls").json() if a["resource_name"] == topic]
        assert {(a["principal"], a["operation"]) for a in mine} == {
            (f"User:{user}", "read"), (f"User:{user}", "describe")}
        removed = c.post("/acls", data={**form, "action": "remove", "operations": ["read"],
                                        "principal": f"User:{user}"})
        assert "ACL(s) removed." in removed.text
        left = [a["operation"] for a in c.get("/api/acls").json() if a["resource_name"] == topic]
        assert left == ["describe"]
        bad = c.post("/acls", data={**form, "principal": ""})
        assert bad.status_code == 400 and "principal" in bad.text
    with TestClient(create_app(config, sample_interval=0, read_only=True)) as ro:
        page = ro.get("/acls")
        assert page.status_code == 200 and 'id="add-acl"' not in page.text
        assert ro.post("/api/acls/delete", json={"resource_type": "topic", "resource_name": topic,
                                                 "principal": user, "operations": ["describe"]},
                       headers={"X-CSRF-Token": ro.get("/api/session").json()["csrf_token"]}
                       ).status_code == 403
