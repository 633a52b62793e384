"""Server-rendered pages and their forms, against the real cluster; untrusted data renders inert."""

from __future__ import annotations

import re

from .conftest import commit_group, produce

XSS_VALUE = '<script>alert("value")</script><img src=x onerror=alert(1)>'
XSS_KEY = '"><script>alert("key")</script>'
XSS_HEADER = ("<b>h</b>", b"<svg onload=alert('header')>")


def _csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([0-9a-f]+)"', html).group(1)


def test_every_page_renders(client, cluster, make_topic, unique_name):
    topic, group = make_topic(2), unique_name("pg")
    produce(cluster.bootstrap_servers, topic, ["a", "b", "c"])
    commit_group(cluster.bootstrap_servers, group, topic, 1)
    for path, marker in [("/", 'id="brokers"'), (f"/topics?q={topic}", topic),
                         (f"/topics/{topic}", 'id="partitions"'),
                         (f"/topics/{topic}/messages", 'id="messages"'),
                         (f"/topics/{topic}/produce", 'id="produce"'),
                         ("/groups", group), (f"/groups/{group}", 'id="assignment-map"')]:
        r = client.get(path)
        assert r.status_code == 200 and marker in r.text, path
    assert client.get("/topics/no-such-topic-pg").status_code == 404
    assert "not found" in client.get("/groups/no-such-group-pg").text


def test_forms_create_produce_again_and_delete(client, unique_name):
    name = unique_name("form")
    page = client.get("/topics").text
    r = client.post("/topics", data={"name": name, "partitions": "2", "replication_factor": "3",
                                     "configs": "cleanup.policy=compact",
                                     "csrf_token": _csrf(page)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/topics/{name}"
    detail = client.get(f"/topics/{name}").text
    assert "cleanup.policy" in detail and "compact" in detail
    r = client.post(f"/topics/{name}/produce",
                    data={"key": "k", "value": "hello form", "headers": "a=1\nb=2",
                          "partition": "1", "csrf_token": _csrf(detail)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("produced=1:0")
    msgs = client.get(r.headers["location"]).text
    assert "Produced to partition 1 at offset 0" in msgs and "hello form" in msgs
    again = client.get(f"/topics/{name}/produce", params={"partition": 1, "offset": 0}).text
    assert "hello form" in again and "a=1\nb=2" in again and 'id="again"' in again
    r = client.post(f"/topics/{name}/delete", data={"confirm": "wrong",
                                                     "csrf_token": _csrf(detail)})
    assert r.status_code == 400 and "does not match" in r.text
    r = client.post(f"/topics/{name}/delete", data={"confirm": name, "csrf_token": _csrf(detail)},
                    follow_redirects=False)
    assert r.status_code == 303


def test_form_errors_are_pages_not_500s(client, make_topic):
    topic = make_topic(1)
    page = client.get("/topics").text
    r = client.post("/topics", data={"name": "bad name!", "csrf_token": _csrf(page)})
    assert r.status_code == 400 and "invalid topic name" in r.text
    r = client.post(f"/topics/{topic}/produce", data={"value": "v", "partition": "7",
                                                      "csrf_token": _csrf(page)})
    assert r.status_code == 400 and "partition 7 out of range" in r.text, r.text
    r = client.get(f"/topics/{topic}/messages", params={"q": "(", "regex": "true"})
    assert r.status_code == 400 and "regular expression" in r.text


def test_xss_message_key_value_and_headers_render_as_text(client, cluster, make_topic):
    topic = make_topic(1)
    produce(cluster.bootstrap_servers, topic, [XSS_VALUE], key=XSS_KEY, headers=[XSS_HEADER])
    for path in (f"/topics/{topic}/messages", f"/topics/{topic}/produce?partition=0&offset=0"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "<svg onload" not in html and "<b>h</b>" not in html
        assert "&lt;script&gt;alert(" in html
    html = client.get(f"/topics/{topic}/messages").text
    assert "&lt;svg onload=alert(" in html and "&lt;b&gt;h&lt;/b&gt;" in html
    # The only scripts on the page are the console's own files.
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/static/chart.js" defer>', '<script src="/static/app.js" defer>']


def test_a_null_header_shows_no_equals_sign_and_an_empty_one_does(client, cluster, make_topic):
    """As in `kpoc consume`: a null value is the name alone (marked null), an empty one name=."""
    topic = make_topic(1)
    produce(cluster.bootstrap_servers, topic, ["v"], headers=[("gone", None), ("blank", b"")])
    html = client.get(f"/topics/{topic}/messages").text
    assert '<code>gone</code> <span class="muted">null</span>' in html
    assert "<code>blank</code>=</div>" in html


def test_acl_page_without_an_authorizer_says_so(client):
    page = client.get("/acls")
    assert page.status_code == 200 and "No ACLs." in page.text
    r = client.post("/acls", data={"csrf_token": _csrf(page.text), "action": "add",
                                   "resource_type": "topic", "resource_name": "t",
                                   "principal": "User:alice", "operations": ["read"]})
    assert r.status_code == 400 and 'id="problem"' in r.text and "no authorizer" in r.text
