"""The web page in a real headless browser (Debian's chromium driven by Playwright): login,
the open-incidents list, one incident, checklist, acknowledge, note, resolve, CSRF — with
screenshots checked for size, content and text."""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servekit import TOKEN, Server, request, serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
)
P1 = {
    "id": "INC-1",
    "title": "Checkout <script>alert(1)</script> down",
    "startedAt": "2026-03-14T02:00:00Z",
    "severity": "critical",
    "service": "checkout-api",
    "environment": "production",
    "customersAffected": 5000,
}
P4 = {
    "id": "INC-2",
    "title": "Invoice logo blurry",
    "startedAt": "2026-03-14T02:05:00Z",
    "severity": "info",
    "environment": "staging",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("web")
    frozen = ("--start", "2026-03-14T02:20:00Z", "--time-scale", "0", "--interval", "0")
    with serving(tmp, *frozen) as running:
        for incident in (P1, P4):
            assert running.post("/v1/incidents", incident).status == 202
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--headless",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct row checksums (a blank page has one)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks = []
    offset = 8
    while offset < len(data):
        length = struct.unpack(">I", data[offset : offset + 4])[0]
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = len(raw) // height
    rows = {raw[i * stride + 1 : (i + 1) * stride] for i in range(height)}
    return width, height, len(rows)


def logged_in(browser: Any, server: Server, width: int = 390, height: int = 844) -> Any:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(server.url + "/")
    assert page.url.endswith("/login")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    return page


def test_pages_need_a_login(server: Server, browser: Any) -> None:
    page = browser.new_page()
    page.goto(server.url + "/incidents/whatever")
    assert page.url.endswith("/login")
    page.fill("#token", "wrong")
    page.click("button[type=submit]")
    assert "Wrong token." in page.content()
    page.close()


def test_open_incidents_on_a_phone(server: Server, browser: Any, tmp_path: Path) -> None:
    page = logged_in(browser, server)
    cards = page.locator(".card.incident")
    assert cards.count() == 2
    first = cards.nth(0).inner_text()
    assert "P1" in first and "<script>alert(1)</script>" in first  # shown as text, escaped
    assert "respond: overdue 5m\n" in first  # respond-by 02:15; the clock stands at 02:20
    assert "next escalation: tier 3 in 10m" in first
    assert "steps 0/" in first
    # readable on a phone: nothing wider than the viewport
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot = tmp_path / "index.png"
    page.screenshot(path=str(shot), full_page=False)
    width, height, distinct = png_size_and_colours(shot)
    assert (width, height) == (390, 844)
    assert distinct > 20  # not blank
    page.close()


def test_one_incident_checklist_ack_note_resolve(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    page = logged_in(browser, server, 1024, 900)
    page.click("text=Checkout")
    assert "/incidents/" in page.url
    shot = tmp_path / "incident.png"
    page.screenshot(path=str(shot))
    width, height, distinct = png_size_and_colours(shot)
    assert (width, height) == (1024, 900) and distinct > 50
    assert page.locator("h2", has_text="Plan").count() == 1
    steps = page.locator("ol.steps > li")
    total = steps.count()
    assert total >= 2
    first_step = steps.nth(0).get_attribute("id")
    page.locator(f"#{first_step} button", has_text="Done").click()
    assert "done" in (page.locator(f"#{first_step}").get_attribute("class") or "")
    second_step = steps.nth(1).get_attribute("id")
    page.locator(f"#{second_step} button", has_text="Skip").click()
    assert f"steps 2/{total}" in page.inner_text(".card >> nth=0")
    acknowledge = page.get_by_role("button", name="Acknowledge", exact=True)
    acknowledge.click()
    assert acknowledge.count() == 0
    page.fill("textarea[name=note]", "rolled back deploy 4711")
    page.get_by_role("button", name="Add note").click()
    timeline = page.inner_text("text=Timeline >> xpath=..")
    assert "rolled back deploy 4711" in timeline and "acknowledged" in timeline
    assert "step done" in timeline and "step skipped" in timeline
    page.get_by_role("button", name="Resolve", exact=True).click()
    assert "resolved" in page.inner_text(".card >> nth=0")
    page.goto(server.url + "/")
    assert page.locator(".card.incident").count() == 1
    page.close()


def test_actions_without_csrf_are_refused(server: Server, browser: Any) -> None:
    page = logged_in(browser, server)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    ident = page.locator(".card.incident a").first.get_attribute("href").rsplit("/", 1)[1]
    no_csrf = request(
        f"{server.url}/incidents/{ident}/ack",
        b"by=attacker",
        {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert no_csrf.status == 403
    no_login = request(
        f"{server.url}/incidents/{ident}/ack",
        b"csrf=x",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert no_login.status == 401
    assert "not acknowledged" in page.inner_text(".card.incident")
    page.close()


def test_the_acknowledgement_does_the_step_it_completes(server: Server, browser: Any) -> None:
    page = logged_in(browser, server, 1024, 900)
    page.click("text=Invoice logo")
    step = page.locator("#step-triage-acknowledge")
    assert "done" not in (step.get_attribute("class") or "")
    before = page.inner_text(".card >> nth=0")
    page.get_by_role("button", name="Acknowledge", exact=True).click()
    assert "done" in (step.get_attribute("class") or "")
    assert "by the acknowledgement" in step.inner_text()
    after = page.inner_text(".card >> nth=0")
    done_before = int(before.split("steps ")[1].split("/")[0])
    assert after.count(f"steps {done_before + 1}/") == 1  # counted as done
    page.close()
