"""A county officer's week in minutes, in a real browser (headless Chromium, Playwright):
the city triages ten monitoring leads in two bulk moves, a county signs twenty cases at
once and names their verifier, whose inbox then shows exactly those; and every page the
navigation reaches, as each role, is Chinese, fits 768 px and never fails. Screenshots at
1280 and 768 px are saved under artifacts/browser/."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from qingling.cases.models import Case, State
from qingling.screening.models import ExcludedEndpoint
from tests.conftest import (
    COUNTY_A,
    COUNTY_B,
    PASSWORD,
    Personas,
    english_prose,
    make_case,
    make_lead,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed "
                       "(scripts/system-deps.sh installs it)"),
]


@pytest.fixture
def page(live_server: Any) -> Any:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        pg.on("dialog", lambda dialog: dialog.accept())
        yield pg
        context.close()
        browser.close()


def login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def logout(page: Any) -> None:
    page.click("header form[action$='/logout/'] button")
    page.wait_for_load_state()


def shots(page: Any, name: str) -> None:
    """The page at 1280 px and at 768 px (then back to 1280)."""
    page.screenshot(path=str(ARTIFACTS / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size({"width": 768, "height": 1024})
    page.screenshot(path=str(ARTIFACTS / f"{name}-768.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def tick(page: Any, cases: list[Case]) -> None:
    for c in cases:
        page.check(f"tr[data-case='{c.pk}'] input[name=ids]")


def test_the_city_triages_ten_leads_in_two_bulk_moves(page: Any, live_server: Any,
                                                      people: Personas) -> None:
    base = live_server.url
    iot = [make_lead(i, COUNTY_A if i % 2 else COUNTY_B, dst="198.51.100.7", port=8883)
           for i in range(1, 8)]
    real = [make_lead(i, COUNTY_A if i % 2 else COUNTY_B, dst=f"203.0.113.{i}", port=3333)
            for i in range(8, 11)]
    login(page, base, people.city.username)
    page.click("header nav a[href='/screening/triage/']")
    assert page.locator("#leads tbody tr[data-case]").count() == 10
    # Each lead's county comes pre-selected from where its subscriber is.
    for c in real:
        assert page.input_value(f"select[name=county_{c.pk}]") == str(c.county_id)
    shots(page, "week-01-triage-queue")
    tick(page, iot)
    page.select_option("#triage-action", "exclude_lead")
    page.select_option("#triage-category", "iot")
    page.fill("#triage-comment", "智能水表的物联网心跳，经运营商核实")
    page.click("#triage-preview")
    page.wait_for_selector("#bulk-confirm")
    assert page.get_attribute("[data-eligible]", "data-eligible") == "7"
    assert page.get_attribute("[data-eligible]", "data-skipped") == "0"
    shots(page, "week-02-exclude-preview")
    page.click("#bulk-go")
    page.wait_for_selector(".messages .success")
    assert page.locator("#leads tbody tr[data-case]").count() == 3
    tick(page, real)
    page.select_option("#triage-action", "dispatch")
    page.click("#triage-preview")
    page.wait_for_selector("#bulk-confirm")
    assert page.get_attribute("[data-eligible]", "data-eligible") == "3"
    page.click("#bulk-go")
    page.wait_for_selector(".messages .success")
    shots(page, "week-03-triage-done")
    for c in iot:
        c.refresh_from_db()
        assert c.state == State.EXCLUDED and "物联网心跳" in c.closed_reason
    for c in real:
        before = c.county_id
        c.refresh_from_db()
        assert (c.state, c.county_id) == (State.DISPATCHED, before)
    assert list(ExcludedEndpoint.objects.values_list("ip", "port", "category")) == [
        ("198.51.100.7", 8883, "iot")]
    page.goto(f"{base}/screening/excluded/")
    assert page.locator("tr[data-endpoint='198.51.100.7:8883']").count() == 1


def test_the_city_triages_ten_leads_in_one_bulk_action(page: Any, live_server: Any,
                                                      people: Personas) -> None:
    """Each row's own move — seven excluded as IoT, three dispatched to their pre-selected
    counties — previewed and confirmed once."""
    base = live_server.url
    iot = [make_lead(i, COUNTY_A if i % 2 else COUNTY_B, dst="198.51.100.8", port=8883)
           for i in range(21, 28)]
    real = [make_lead(i, COUNTY_A if i % 2 else COUNTY_B, dst=f"203.0.113.{i}", port=3333)
            for i in range(28, 31)]
    login(page, base, people.city.username)
    page.goto(f"{base}/screening/triage/")
    for c in iot:
        page.select_option(f"select[name=decision_{c.pk}]", "exclude_lead")
    for c in real:
        page.select_option(f"select[name=decision_{c.pk}]", "dispatch")
    tick(page, iot + real)
    page.select_option("#triage-action", "triage_by_row")
    page.select_option("#triage-category", "iot")
    page.fill("#triage-comment", "智能水表的物联网心跳，经运营商核实")
    page.click("#triage-preview")
    page.wait_for_selector("#bulk-confirm")
    assert page.get_attribute("[data-eligible]", "data-eligible") == "10"
    moves = page.locator("#bulk-eligible td[data-move]").all_text_contents()
    assert sum("排除" in m for m in moves) == 7 and sum("分派" in m for m in moves) == 3, moves
    shots(page, "week-02b-triage-by-row-preview")
    page.click("#bulk-go")
    page.wait_for_selector(".messages .success")
    assert page.locator("#leads tbody tr[data-case]").count() == 0
    for c in iot:
        c.refresh_from_db()
        assert c.state == State.EXCLUDED and "物联网心跳" in c.closed_reason
    for c in real:
        before = c.county_id
        c.refresh_from_db()
        assert (c.state, c.county_id) == (State.DISPATCHED, before)
    assert list(ExcludedEndpoint.objects.values_list("ip", "port", "category")) == [
        ("198.51.100.8", 8883, "iot")]


def test_a_county_signs_twenty_and_names_the_verifier_who_sees_exactly_those(
        page: Any, live_server: Any, people: Personas) -> None:
    base = live_server.url
    twenty = [make_case(COUNTY_A, subject_name=f"南湖区第{i}家企业有限公司",
                        subject_type="enterprise", on_key_list=True) for i in range(20)]
    make_case(COUNTY_A, state="signed")  # the county's, not named for the verifier
    make_case(COUNTY_B)
    login(page, base, people.county_a.username)
    page.goto(f"{base}/inbox/?tab=to_sign")
    assert page.text_content("[data-count=to_sign]") == "20"
    shots(page, "week-04-county-inbox")
    page.check("#bulk-form input[name=all]")
    page.select_option("#bulk-form select[name=action]", "sign")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_selector("#bulk-confirm")
    assert page.get_attribute("[data-eligible]", "data-eligible") == "20"
    shots(page, "week-05-sign-preview")
    page.click("#bulk-go")
    page.wait_for_selector(".messages .success")
    assert Case.objects.filter(pk__in=[c.pk for c in twenty], state=State.SIGNED).count() == 20
    page.goto(f"{base}/inbox/?tab=to_verify")
    tick(page, twenty)
    page.select_option("#bulk-form select[name=action]", "assign")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_selector("#bulk-confirm")
    # The verifier is asked for on the preview, which checks again with them.
    assert page.locator("#bulk-go").count() == 0
    page.select_option("#bulk-assignee", str(people.verifier_a.pk))
    page.click("#bulk-refresh")
    page.wait_for_selector("#bulk-go")
    assert page.get_attribute("[data-eligible]", "data-eligible") == "20"
    page.click("#bulk-go")
    page.wait_for_selector(".messages .success")
    logout(page)

    login(page, base, people.verifier_a.username)
    page.goto(f"{base}/inbox/?tab=to_verify")
    assert page.text_content("[data-count=to_verify]") == "20"
    shown = {int(x) for x in page.eval_on_selector_all(
        "table.cases tbody tr[data-case]", "rows => rows.map(r => r.dataset.case)")}
    assert shown == {c.pk for c in twenty}
    shots(page, "week-06-verifier-inbox")


def _nav_links(page: Any, base: str) -> list[str]:
    """The header's links, and the tabs of the pages they open (the inbox's)."""
    links = page.eval_on_selector_all("header nav a[href]", "as => as.map(a => a.pathname)")
    out = list(dict.fromkeys(links))
    for path in list(out):
        page.goto(f"{base}{path}")
        out += [t for t in page.eval_on_selector_all(
            "nav.tabs a[href]", "as => as.map(a => a.pathname + a.search)") if t not in out]
    # And a case page, as the case list opens it.
    page.goto(f"{base}/cases/")
    first = page.eval_on_selector_all("table.cases tbody a[href^='/cases/']",
                                      "as => as.slice(0, 1).map(a => a.pathname)")
    return out + [p for p in first if p not in out]


def test_every_page_the_navigation_reaches_is_chinese_fits_768_px_and_never_fails(
        page: Any, live_server: Any, people: Personas) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from qingling.cases.identity import cutoff_of
    from qingling.common.weeks import IsoWeek
    from qingling.supervision.services import reference_load, weekly_close

    base = live_server.url
    for i in range(1, 4):
        make_lead(i, COUNTY_A)
    # A closed week, so the supervision page has its tables and charts.
    reference_load()
    now = timezone.now()
    last = IsoWeek.of(now).shift(-1)
    due = cutoff_of(last)
    for county in (COUNTY_A, COUNTY_B):
        make_case(county, on_key_list=True, on_stock_list=True, due_at=due, first_week=str(last),
                  last_week=str(last))
        make_case(county, on_key_list=True, due_at=due, state="cleared",
                  cleared_at=due - timedelta(hours=2), first_week=str(last), last_week=str(last))
    weekly_close(last, now)
    make_case(COUNTY_A, subject_name="嘉兴恒达纺织有限公司", subject_type="enterprise",
              address="嘉兴市南湖区凤桥镇工业路8号", on_key_list=True)
    names = {u.username for u in (people.city, people.county_a, people.verifier_a,
                                   people.dept, people.leader)}
    problems: dict[str, object] = {}
    refused: list[str] = []
    # The strict CSP holds: the browser refuses nothing on any page (no inline script or
    # handler slipped in).
    page.on("console", lambda m: refused.append(f"{page.url}: {m.text}")
            if "Content Security Policy" in m.text else None)
    for who in (people.city, people.county_a, people.verifier_a, people.dept, people.leader):
        login(page, base, who.username)
        for path in _nav_links(page, base):
            for width in (1280, 768):
                page.set_viewport_size({"width": width, "height": 900})
                resp = page.goto(f"{base}{path}")
                where = f"{who.username} {path} @{width}"
                if resp is None or resp.status >= 400:
                    problems[where] = resp.status if resp else "no response"
                    continue
                if width == 768 and who == people.city and path in ("/supervision/",
                                                                     "/dashboard/"):
                    page.screenshot(path=str(ARTIFACTS / f"week-crawl{path.replace('/', '-')}"
                                             "768.png"), full_page=True)
                if width == 768:
                    over = page.evaluate("document.documentElement.scrollWidth - "
                                         "document.documentElement.clientWidth")
                    if over > 0:
                        wide = page.evaluate(
                            "[...document.querySelectorAll('main *')].filter(e => "
                            "e.getBoundingClientRect().right > "
                            "document.documentElement.clientWidth + 1).slice(0, 3)"
                            ".map(e => e.tagName + '#' + e.id + '.' + e.className)")
                        problems[where] = f"overflows by {over} px: {wide}"
                else:
                    html = page.content()
                    if prose := english_prose(html, names):
                        problems[where] = prose
                    # A JSON data block (json_script) is data, never run.
                    if re.search(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))"
                                 r"[^>]*>|\son[a-z]+=\"", html):
                        problems[where] = "inline script or handler"
        page.set_viewport_size({"width": 1280, "height": 900})
        logout(page)
    assert problems == {}
    assert refused == []


def test_the_city_edits_a_routing_rule_and_the_cut_off_in_chinese_pages(
        page: Any, live_server: Any, people: Personas) -> None:
    from qingling.audit.models import AuditEntry
    from qingling.cases.identity import cutoff_of
    from qingling.common.weeks import IsoWeek
    from qingling.org.models import Department, RoutingRule
    from tests.conftest import at

    base = live_server.url
    school = RoutingRule.objects.get(subject_type="school", behaviour="")
    psb = Department.objects.get(code="psb")
    login(page, base, people.city.username)
    page.click("header nav a[href='/config/']")
    page.click("nav.tabs a[href='/config/routing/']")
    page.click(f"tr[data-pk='{school.pk}'] a")
    page.check(f"input[name=co_departments][value='{psb.pk}']")
    page.fill("#id_note", "学校 → 教育局 + 公安机关")
    shots(page, "config-routing-edit")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "已保存" in page.inner_text("ul.messages")
    row = page.inner_text(f"tr[data-pk='{school.pk}']")
    assert psb.name in row and "学校 → 教育局 + 公安机关" in row
    shots(page, "config-routing-saved")

    # A rule naming neither a subject type nor a behaviour is refused, in Chinese.
    page.goto(f"{base}/config/routing/new/")
    page.fill("#id_note", "空规则")
    page.click("main form button[type=submit]")
    assert "路由规则须指定主体类型、行为或两者" in page.inner_text("main")
    shots(page, "config-routing-refused")

    page.click("nav.tabs a[href='/config/cutoff/']")
    page.select_option("#id_cutoff_weekday", "4")
    page.fill("#id_cutoff_time", "17:30")
    shots(page, "config-cutoff-edit")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "每周截止时间已保存" in page.inner_text("ul.messages")
    assert "星期四 17:30" in page.inner_text("#config-tables")
    shots(page, "config-cutoff-saved")
    # 2026-W49 runs from Monday 30 November: its Thursday is 3 December.
    assert cutoff_of(IsoWeek(2026, 49)) == at("2026-12-03T17:30")
    assert AuditEntry.objects.filter(action="config_change").count() == 2


def test_photos_open_in_a_lightbox_that_the_keyboard_drives(
        page: Any, live_server: Any, people: Personas, settings: Any, tmp_path: Path) -> None:
    import io

    from PIL import Image

    from qingling.cases.services import evidence_add

    settings.QINGLING_HOME = tmp_path
    settings.MEDIA_ROOT = tmp_path / "files"
    case = make_case(COUNTY_A, state="signed", subject_name="嘉兴恒达纺织有限公司")
    photos = []
    for name, color in (("矿机.jpg", (30, 120, 200)), ("电表.jpg", (200, 120, 30))):
        buf = io.BytesIO()
        Image.new("RGB", (1200, 800), color).save(buf, "JPEG")
        photos.append(evidence_add(case_id=case.pk, actor=people.county_a,
                                   stream=io.BytesIO(buf.getvalue()), original_name=name))
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text)
            if "Content Security Policy" in m.text else None)
    base = live_server.url
    login(page, base, people.county_a.username)
    page.goto(f"{base}/cases/{case.pk}/")
    thumbs = page.locator("ul.evidence a.thumb img")
    assert thumbs.count() == 2
    # The thumbnails are in by the page's load event (goto waits for it).
    assert page.evaluate("[...document.querySelectorAll('ul.evidence a.thumb img')]"
                         ".every(i => i.complete && i.naturalWidth === 320)")
    page.click("ul.evidence a.thumb >> nth=0")
    box = page.locator(".lightbox")
    assert box.is_visible() and "矿机.jpg (1/2)" in box.inner_text()
    assert box.locator("img").get_attribute("src").endswith(f"/evidence/{photos[0].pk}/")
    shots(page, "case-lightbox")
    page.keyboard.press("ArrowRight")
    assert box.locator("img").get_attribute("src").endswith(f"/evidence/{photos[1].pk}/")
    page.keyboard.press("ArrowRight")
    assert box.locator("img").get_attribute("src").endswith(f"/evidence/{photos[0].pk}/")
    page.keyboard.press("ArrowLeft")
    assert "电表.jpg" in box.inner_text()
    page.keyboard.press("Escape")
    assert not box.is_visible()
    assert refused == []
