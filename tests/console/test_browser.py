"""The console in a real browser: Debian's Chromium driven by Playwright (no browser download).

Screenshots of each page go to tests/artifacts/console/.
"""

from __future__ import annotations

import pytest

from .conftest import SHOTS, commit_group, produce, wait_for

pytestmark = pytest.mark.browser


def test_overview_shows_the_brokers(page):
    page.goto("/")
    rows = page.locator("#brokers tbody tr")
    assert rows.count() == 3
    assert page.locator("#brokers .badge.ok").count() == 3
    assert page.locator("#cluster-id").inner_text().strip() not in ("", "—")
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)


def test_create_a_topic_from_the_ui(page, unique_name):
    name = unique_name("ui")
    page.goto("/topics")
    page.fill("#create-topic input[name=name]", name)
    page.fill("#create-topic input[name=partitions]", "2")
    page.click("#create-topic button[type=submit]")
    page.wait_for_url(f"**/topics/{name}")
    assert page.locator("#error").count() == 0, page.content()
    assert page.locator("#topic-name").inner_text() == name
    assert page.locator("#partitions tbody tr").count() == 2
    page.wait_for_selector("#rate-chart svg")
    page.screenshot(path=str(SHOTS / "topic.png"), full_page=True)
    page.goto(f"/topics?q={name}")  # the list has pages: search finds it on any
    assert page.locator(f'#topics tr[data-topic="{name}"]').count() == 1
    page.screenshot(path=str(SHOTS / "topics.png"), full_page=True)


def test_produce_from_the_ui_and_see_it_in_the_browser(page, make_topic):
    topic = make_topic(1)
    page.goto(f"/topics/{topic}/produce")
    page.fill("#produce input[name=key]", "user-42")
    page.fill("#produce textarea[name=value]", '{"greeting": "hello from the browser"}')
    page.fill("#produce textarea[name=headers]", "source=playwright")
    page.click("#produce button[type=submit]")
    page.wait_for_url("**/messages?produced=0:0")
    assert "Produced to partition 0 at offset 0" in page.locator("#notice").inner_text()
    row = page.locator('#messages tr[data-offset="0"]')
    assert "hello from the browser" in row.locator(".value").inner_text()
    assert row.locator(".key").inner_text().strip() == "user-42"
    assert "source" in row.locator(".headers").inner_text()
    page.screenshot(path=str(SHOTS / "messages.png"), full_page=True)
    row.locator("a.again").click()
    page.wait_for_selector("#again")
    page.click("#produce button[type=submit]")
    page.wait_for_url("**/messages?produced=0:1")
    assert page.locator('#messages tr[data-offset="1"]').count() == 1


def test_a_script_in_a_message_renders_inert_in_the_browser(page, cluster, make_topic):
    topic = make_topic(1)
    payload = '<script>alert("xss")</script><img src=x onerror="alert(1)">'
    produce(cluster.bootstrap_servers, topic, [payload], key="<b>k</b>",
            headers=[("h", b"<svg onload=alert(2)>")])
    page.goto(f"/topics/{topic}/messages")
    assert payload in page.locator("#messages .value").inner_text()
    # An injected handler would have run once every image has loaded or failed.
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    assert page.dialogs == []
    assert page.locator("#messages .value img").count() == 0
    assert page.locator("#messages .key b").count() == 0
    page.screenshot(path=str(SHOTS / "xss.png"), full_page=True)


def test_see_a_consumer_groups_lag(page, cluster, make_topic, unique_name):
    topic, group = make_topic(1), unique_name("lag")
    produce(cluster.bootstrap_servers, topic, [f"m{i}" for i in range(12)])
    commit_group(cluster.bootstrap_servers, group, topic, 5)

    def listed_lag() -> bool:  # a group the sampler has not reached yet says "sampling…"
        page.goto("/groups")
        return page.locator(f'#groups tr[data-group="{group}"] .lag').inner_text() == "7"

    wait_for(listed_lag, 120, "the group's lag on the groups page")
    page.goto(f"/groups/{group}")
    assert page.locator("#total-lag").inner_text() == "7"
    page.wait_for_selector("#lag-chart svg path.kchart-line", state="attached", timeout=20_000)
    page.screenshot(path=str(SHOTS / "group.png"), full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_of_every_page(browser, live_console, cluster, make_topic, unique_name,
                                   scheme):
    """Every page in the system's light and dark scheme (tests/artifacts/console/, not kept in
    git); dark mode follows prefers-color-scheme."""
    topic, group = make_topic(2), unique_name("shot")
    produce(cluster.bootstrap_servers, topic, ['{"id": 1, "price": 1.10}', "plain text"],
            key="k", headers=[("trace", b"abc"), ("bin", b"\xff\x00")])
    commit_group(cluster.bootstrap_servers, group, topic, 1)
    ctx = browser.new_context(base_url=live_console.url, color_scheme=scheme,
                              viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    try:
        for name, path in [("overview", "/"), ("topics", "/topics"),
                           ("topic", f"/topics/{topic}"),
                           ("messages", f"/topics/{topic}/messages"),
                           ("produce", f"/topics/{topic}/produce?partition=0&offset=0"),
                           ("brokers", "/brokers"), ("broker", "/brokers/1"),
                           ("groups", "/groups"), ("group", f"/group?group={group}"),
                           ("error", "/topics/no-such-topic-shot")]:
            page.goto(path)
            page.screenshot(path=str(SHOTS / f"{name}-{scheme}.png"), full_page=True)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(18, 21, 28)") == (scheme == "dark"), background
    finally:
        ctx.close()
