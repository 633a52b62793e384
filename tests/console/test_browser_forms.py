"""Every form of the console filled and clicked in Chromium, as a person would, and what the
page then shows: the messages filter with empty fields, produce and produce again (byte-exact),
create, import of an export, reset with preview, delete, login; long tokens; group ids with '/'.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from confluent_kafka import Consumer, Producer

from kpoc.admin import Admin
from kpoc.config import ClientConfig

from .conftest import (
    AUTH_TOKEN,
    READONLY_TOKEN,
    SHOTS,
    commit_group,
    produce,
    read_raw,
    wait_for,
)

pytestmark = pytest.mark.browser

MODES = ("newest", "oldest", "offset", "timestamp")


def _submit(page, selector: str):
    """Click a submit button and return the HTTP response of the page it navigates to."""
    with page.expect_navigation() as nav:
        page.click(selector)
    return nav.value


def _no_layout_overflow(page) -> None:
    width, viewport = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"page is {width}px wide in a {viewport}px viewport"


@pytest.mark.parametrize("mode", MODES)
def test_messages_filter_with_empty_and_filled_fields(page, cluster, make_topic, mode):
    topic = make_topic(2)
    produce(cluster.bootstrap_servers, topic, ["m0", "m1", "m2"], partition=0)
    produce(cluster.bootstrap_servers, topic, ["n0"], partition=1)
    # Every field empty, as a person leaves them: partition "all", no offset, time, count, text.
    page.goto(f"/topics/{topic}/messages")
    page.select_option("#browse select[name=mode]", mode)
    for field in ("offset", "timestamp", "count", "q"):
        page.fill(f"#browse input[name={field}]", "")
    response = _submit(page, "#browse button[type=submit]")
    text = page.locator("main").inner_text()
    assert response is not None and response.status != 422, text
    assert "valid integer" not in text
    assert page.locator("#browse select[name=mode]").input_value() == mode  # form kept
    if mode in ("offset", "timestamp"):
        assert f"needs the {'offset' if mode == 'offset' else 'time'}" in page.locator(
            "#problem").inner_text()
    else:
        assert page.locator("#messages tbody tr[data-offset]").count() == 4
    # Only the partition picked, then every field filled.
    page.select_option("#browse select[name=partition]", "0")
    page.fill("#browse input[name=offset]", "1")
    page.fill("#browse input[name=timestamp]", "0")
    _submit(page, "#browse button[type=submit]")
    assert page.locator("#problem").count() == 0
    assert page.locator("#messages tbody tr[data-offset]").count() == (2 if mode == "offset"
                                                                       else 3)
    page.fill("#browse input[name=count]", "5")
    page.fill("#browse input[name=q]", "m2")
    _submit(page, "#browse button[type=submit]")
    rows = page.locator("#messages tbody tr[data-offset]")
    assert rows.count() == 1 and "m2" in rows.locator(".value").inner_text()
    assert page.locator("#browse input[name=q]").input_value() == "m2"


def test_produce_again_sends_the_exact_bytes_binary_included(page, cluster, make_topic):
    topic = make_topic(1)
    key = b"\nkey  with spaces\x00"
    value = b"\nfirst line\r\nsecond\x00\xff\xfe  trailing  \n"
    headers = [("h", b"  spaced  "), ("h", b"dup"), ("bin", b"\x00\x01\xff"), ("none", None)]
    p = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    p.produce(topic, value=value, key=key, headers=headers)
    assert p.flush(30) == 0
    page.goto(f"/topics/{topic}/messages")
    page.locator('#messages tr[data-offset="0"] a.again').click()
    page.wait_for_selector("#again")
    _submit(page, "#produce button[type=submit]")
    assert "Produced to partition 0 at offset 1" in page.locator("#notice").inner_text()
    first, again = read_raw(cluster.bootstrap_servers, topic, 0, 2)
    assert again == first == (key, value, headers)


def test_typed_text_is_stored_as_typed_and_sent_again_unchanged(page, cluster, make_topic):
    topic = make_topic(1)
    typed = "\nline one\nline two  \n"
    page.goto(f"/topics/{topic}/produce")
    page.fill("#produce input[name=key]", "k1")
    page.fill("#produce textarea[name=value]", typed)
    page.fill("#produce textarea[name=headers]", "a=1 \nb= two  ")
    _submit(page, "#produce button[type=submit]")
    assert "offset 0" in page.locator("#notice").inner_text()
    page.locator('#messages tr[data-offset="0"] a.again').click()
    page.wait_for_selector("#again")
    assert page.locator("#produce textarea[name=value]").input_value() == typed
    assert page.locator("#produce select[name=value_encoding]").input_value() == "utf-8"
    _submit(page, "#produce button[type=submit]")
    assert "offset 1" in page.locator("#notice").inner_text()
    expected = (b"k1", typed.encode(), [("a", b"1 "), ("b", b" two  ")])
    assert read_raw(cluster.bootstrap_servers, topic, 0, 2) == [expected, expected]


def test_produce_form_errors_keep_what_was_typed(page, make_topic):
    topic = make_topic(1)
    page.goto(f"/topics/{topic}/produce")
    page.fill("#produce textarea[name=value]", "keep me")
    page.fill("#produce textarea[name=headers]", "=no name")
    _submit(page, "#produce button[type=submit]")
    assert "header line 1 has no name" in page.locator("#problem").inner_text()
    assert page.locator("#produce textarea[name=value]").input_value() == "keep me"
    assert page.locator("#produce textarea[name=headers]").input_value() == "=no name"


def test_json_values_pretty_without_changing_a_literal_and_raw(page, cluster, make_topic):
    topic = make_topic(1)
    stored = '{"dup":1,"dup":2,"price":1.10,"big":1e400}'
    produce(cluster.bootstrap_servers, topic, [stored])
    page.goto(f"/topics/{topic}/messages")
    pretty = page.locator("#messages .value pre.pretty").inner_text()
    assert '"dup": 1' in pretty and '"dup": 2' in pretty
    assert "1.10" in pretty and "1e400" in pretty and "Infinity" not in pretty
    assert "".join(pretty.split()) == stored  # layout alone differs
    page.locator("#messages details.raw summary").click()
    assert page.locator("#messages details.raw pre").inner_text() == stored
    page.select_option("#browse select[name=view]", "raw")
    _submit(page, "#browse button[type=submit]")
    assert page.locator("#messages pre.raw-value").inner_text() == stored
    assert page.locator("#messages pre.pretty").count() == 0


def test_long_tokens_leave_the_page_within_the_viewport(page, cluster, unique_name):
    name = unique_name("long")
    name = (name + "x" * 249)[:249]
    with Admin(ClientConfig(cluster.bootstrap_servers, timeout=30)) as admin:
        admin.create_topic(name, 1, 3)
    p = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    p.produce(name, key=b"K" * 5000, value=b"V" * 5000, headers=[("H" * 3000, b"h" * 3000)])
    assert p.flush(30) == 0
    for path in ("/topics", f"/topics/{name}", f"/topics/{name}/messages",
                 f"/topics/{name}/produce"):
        page.goto(path)
        assert page.locator("#error").count() == 0, path
        _no_layout_overflow(page)
    page.goto(f"/topics/{name}/messages")
    # Whole, in a box of its own that scrolls: every character is there.
    assert len(page.locator("#messages .key .clip").inner_text().strip()) == 5000
    page.screenshot(path=str(SHOTS / "long-tokens.png"))


def test_create_topic_form_refuses_dot_names_and_keeps_input(page, unique_name):
    page.goto("/topics")
    name_box = page.locator("#create-topic input[name=name]")
    for bad in (".", ".."):
        name_box.fill(bad)
        assert name_box.evaluate("e => e.checkValidity()") is False
    name = unique_name("ui")
    name_box.fill(name)
    page.fill("#create-topic input[name=replication_factor]", "9")
    _submit(page, "#create-topic button[type=submit]")
    assert "replication factor 9" in page.locator("#problem").inner_text()
    assert name_box.input_value() == name
    page.fill("#create-topic input[name=replication_factor]", "3")
    page.fill("#create-topic input[name=partitions]", "2")
    page.fill("#create-topic textarea[name=configs]", "retention.ms=3600000")
    _submit(page, "#create-topic button[type=submit]")
    assert page.locator("#topic-name").inner_text() == name
    assert page.locator("#partitions tbody tr").count() == 2
    assert "3600000" in page.locator("#configs").inner_text()


def test_import_of_its_own_export_with_unicode_line_separators(page, cluster, make_topic,
                                                                tmp_path):
    source, target = make_topic(1), make_topic(1)
    values = ["a\u2028b", "c\u2029d", "e\u0085f"]
    produce(cluster.bootstrap_servers, source, values)
    page.goto(f"/topics/{source}/messages?mode=oldest")
    with page.expect_download() as dl:
        page.click("text=Export these as JSON lines")
    exported = tmp_path / "export.jsonl"
    dl.value.save_as(exported)
    page.goto(f"/topics/{target}")
    page.set_input_files("#import input[type=file]", str(exported))
    _submit(page, "#import button[type=submit]")
    assert "Imported 3 message(s)" in page.locator("#notice").inner_text()
    got = [v for _, v, _ in read_raw(cluster.bootstrap_servers, target, 0, 3)]
    assert got == [v.encode() for v in values]


@pytest.mark.parametrize("prefix", ["../../etc/passwd", "a/b c?d#e%"])
def test_group_with_a_slash_opens_resets_and_deletes(page, cluster, make_topic, unique_name,
                                                     prefix):
    topic = make_topic(2)
    group = f"{prefix}-{unique_name('g')}"
    produce(cluster.bootstrap_servers, topic, [f"v{i}" for i in range(6)], partition=0)
    produce(cluster.bootstrap_servers, topic, [f"w{i}" for i in range(4)], partition=1)
    commit_group(cluster.bootstrap_servers, group, topic, 10)
    page.goto("/groups")
    page.locator("#groups tr", has_text=group).locator("a").click()
    page.wait_for_selector("#group-id")
    assert page.locator("#group-id").inner_text() == group
    assert page.locator("#total-lag").inner_text() == "0"
    assert page.locator("#drain").inner_text() == "0s"  # caught up, not "26s to drain"
    hist = page.request.get(f"/api/group/lag-history?group={quote(group, safe='')}")
    assert hist.ok and hist.json()["group_id"] == group
    # Preview a reset of partition 0 past its end: nothing written, the clamp is said.
    page.fill("#reset input[name=partitions]", "0")
    page.fill("#reset input[name=target]", "999999999")
    _submit(page, "#preview")
    result = page.locator("#reset-result").inner_text()
    assert "past the end" in result and "Preview" in page.locator("#notice").inner_text()
    page.fill("#reset input[name=target]", "earliest")
    _submit(page, "#do-reset")
    assert page.dialogs[-1].startswith("Rewrite")
    assert "reset" in page.locator("#notice").inner_text()
    assert page.locator("#total-lag").inner_text() == "6"  # partition 0 only
    page.fill("#delete-group input[name=confirm]", group)
    _submit(page, "#delete-group button[type=submit]")
    assert "deleted" in page.locator("#notice").inner_text()
    assert page.locator("#groups tr", has_text=group).count() == 0


def test_assignment_map_tells_members_with_the_default_client_id_apart(page, cluster,
                                                                       make_topic, unique_name):
    topic, group = make_topic(1), unique_name("map")
    consumers = [Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": group,
                           "session.timeout.ms": 6000}) for _ in range(2)]
    try:
        for c in consumers:
            c.subscribe([topic])

        def assigned() -> bool:
            for c in consumers:
                c.poll(0.2)
            with Admin(ClientConfig(cluster.bootstrap_servers, timeout=10)) as admin:
                info = admin.describe_group(group)
            return len(info.members) == 2 and any(m.assignment for m in info.members)

        wait_for(assigned, 60, "two members, one with the partition")
        page.goto(f"/group?group={quote(group)}")
        owner = page.locator("#assignment-map .amap-cell .owner").inner_text()
        idle = page.locator("#assignment-map .amap-idle").inner_text()
        assert owner.startswith("rdkafka·") and "idle" in idle
        assert owner not in idle  # the idle member is told apart from the owner
        labels = page.locator("#members tbody tr td:first-child").all_inner_texts()
        assert len({lab.replace("idle", "").strip() for lab in labels}) == 2
    finally:
        for c in consumers:
            c.close()


def test_login_roles_and_what_each_may_open(browser, auth_console, make_topic):
    topic = make_topic(1)
    ctx = browser.new_context(base_url=auth_console.url)
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto("/topics")
        assert page.locator("form[action='/login']").count() == 1
        assert page.locator("header nav").count() == 0  # no menu, no "log out" before login
        assert page.locator("text=log out").count() == 0
        page.screenshot(path=str(SHOTS / "login.png"))
        page.fill("input[name=token]", "wrong-token-000000000")
        _submit(page, "button[type=submit]")
        assert "wrong token" in page.locator("main").inner_text()
        page.fill("input[name=token]", READONLY_TOKEN)
        _submit(page, "button[type=submit]")
        assert page.locator("#read-only").count() == 1
        page.goto(f"/topics/{topic}/messages")
        assert page.locator("a.again").count() == 0
        assert page.goto(f"/topics/{topic}/produce").status == 403
        _submit(page, "header button.link")  # log out
        page.fill("input[name=token]", AUTH_TOKEN)
        _submit(page, "button[type=submit]")
        assert page.goto(f"/topics/{topic}/produce").status == 200
        assert page.locator("#produce").count() == 1
    finally:
        ctx.close()


def test_internal_topics_offer_no_produce(page):
    page.goto("/topics/__consumer_offsets/messages?count=1")
    assert page.locator("a.again").count() == 0
    assert "Produce" not in page.locator("#browse").inner_text()
    assert page.goto("/topics/__consumer_offsets/produce").status == 400


def test_edit_configs_reset_one_and_add_partitions(page, make_topic, tmp_path):
    topic = make_topic(1)
    page.goto(f"/topics/{topic}")
    row = page.locator('#configs tr[data-config="retention.ms"]')
    assert "DEFAULT_CONFIG" in row.inner_text()  # every config, with its source
    page.fill("#set-configs textarea[name=set]", "retention.ms=abc")
    _submit(page, "#set-configs button[type=submit]")
    assert "retention.ms" in page.locator("#problem").inner_text()
    assert page.locator("#set-configs textarea[name=set]").input_value() == "retention.ms=abc"
    page.fill("#set-configs textarea[name=set]", "retention.ms=3600000")
    _submit(page, "#set-configs button[type=submit]")
    assert page.locator("#notice").inner_text() == "Configs changed."
    assert "3600000" in row.inner_text() and "DYNAMIC_TOPIC_CONFIG" in row.inner_text()
    _submit(page, '#configs tr[data-config="retention.ms"] button.reset-config')
    assert "604800000" in row.inner_text() and "DEFAULT_CONFIG" in row.inner_text()
    page.fill("#add-partitions input[name=count]", "3")
    _submit(page, "#add-partitions button[type=submit]")
    assert page.dialogs[-1].startswith("Add partitions?")
    assert page.locator("#notice").inner_text() == "Partitions added."
    assert page.locator("#partitions tbody tr").count() == 3
    # A file that is no export: the topic page says so, nothing produced, no error page.
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    page.set_input_files("#import input[type=file]", str(bad))
    _submit(page, "#import button[type=submit]")
    assert "line 1" in page.locator("#problem").inner_text()
    assert page.locator("#topic-name").inner_text() == topic


@pytest.mark.parametrize("mode", ["newest", "oldest"])
def test_next_and_previous_pages_cover_every_message_once(page, cluster, make_topic, mode):
    topic = make_topic(2)
    produce(cluster.bootstrap_servers, topic, [f"a{i}" for i in range(7)], partition=0)
    produce(cluster.bootstrap_servers, topic, [f"b{i}" for i in range(5)], partition=1)
    older, newer = (".next", ".prev")
    page.goto(f"/topics/{topic}/messages?mode={mode}&count=5")

    def shown() -> list[str]:
        return [v.strip() for v in page.locator("#messages .value").all_inner_texts()]

    pages = [shown()]
    assert page.locator(f"#pager-top {newer}").count() == 0  # the first page
    while page.locator(f"#pager-top {older}").count():
        page.click(f"#pager-top {older}")
        pages.append(shown())
    seen = [v for p in pages for v in p]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert sorted(seen) == sorted([f"a{i}" for i in range(7)] + [f"b{i}" for i in range(5)])
    page.click(f"#pager-top {newer}")
    assert shown() == pages[1]


def test_topics_search_sort_and_pages(page, cluster, unique_name, monkeypatch):
    from kpoc.console.routes import topics as topics_route

    prefix = unique_name("find")
    with Admin(ClientConfig(cluster.bootstrap_servers, timeout=30)) as admin:
        for suffix, parts in (("a", 1), ("b", 3)):
            admin.create_topic(f"{prefix}-{suffix}", parts, 1)
    page.goto("/topics")
    page.fill("#find-topics input[name=q]", prefix)
    _submit(page, "#find-topics button[type=submit]")
    rows = page.locator("#topics tbody tr[data-topic]")
    assert rows.count() == 2 and "2 of" in page.locator("#topic-total").inner_text()
    page.click("#topics th a.sort:has-text('partitions')")
    page.click("#topics th a.sort:has-text('partitions')")  # again: descending
    assert rows.first.get_attribute("data-topic") == f"{prefix}-b"
    monkeypatch.setattr(topics_route, "PER_PAGE", 1)
    page.reload()
    assert rows.count() == 1 and "page 1 of 2" in page.locator("#topic-total").inner_text()
    page.click("#topic-pages .next")
    assert rows.first.get_attribute("data-topic") == f"{prefix}-a"


def test_live_tail_shows_new_messages_once(page, cluster, make_topic):
    topic = make_topic(2)
    produce(cluster.bootstrap_servers, topic, ["before the page"])
    page.goto(f"/topics/{topic}/messages")
    page.check("#tail-toggle")
    produce(cluster.bootstrap_servers, topic, ["tail-1", "tail-2"], key="k")
    page.locator("#tail li").nth(1).wait_for()
    produce(cluster.bootstrap_servers, topic, ["tail-3"], key="k")
    page.locator("#tail li").nth(2).wait_for()
    for _ in range(2):  # two more polls: nothing is listed twice
        with page.expect_response(lambda r: f"/api/topics/{topic}/messages?" in r.url):
            pass
    items = page.locator("#tail li").all_inner_texts()
    assert [i.rsplit("→ ", 1)[1] for i in items] == ["tail-3", "tail-2", "tail-1"]


def test_copy_and_download_one_message(browser, live_console, cluster, make_topic):
    topic = make_topic(1)
    p = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    p.produce(topic, key=b"k", value=b"\xffbinary", headers=[("h", b"v")])
    assert p.flush(30) == 0
    ctx = browser.new_context(base_url=live_console.url)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_console.url)
    page = ctx.new_page()
    try:
        page.goto(f"/topics/{topic}/messages")
        page.click("#messages button.copy")
        page.wait_for_selector("#messages button.copy:has-text('copied')")
        copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
        assert (copied["key"], copied["value"], copied["value_encoding"]) == (
            "k", "/2JpbmFyeQ==", "base64")
        with page.expect_download() as dl:
            page.click("#messages a.download")
        assert json.loads(dl.value.path().read_text()) == copied
    finally:
        ctx.close()
