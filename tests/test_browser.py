"""The weekly loop in a real browser: headless Chromium from the distribution, driven by
Playwright (its own browser download does not work offline). Screenshots are saved under
artifacts/browser/ for a person to look at."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from qingling.common.weeks import SHANGHAI
from tests.conftest import PASSWORD, Personas, csv_bytes, row
from tests.test_uploads import png_bytes

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed "
                       "(scripts/system-deps.sh installs it)"),
]


@pytest.fixture
def page(live_server: Any) -> Any:
    # Playwright's sync API runs an event loop in this thread; the Django ORM calls made by
    # the test itself are ordinary synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        # Irreversible moves ask first (a confirm dialog): the tests answer yes.
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


def kpi(page: Any, base: str, name: str) -> str:
    page.goto(f"{base}/dashboard/")
    return str(page.text_content(f"[data-kpi={name}]")).strip()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_city_imports_county_clears_city_signs_off(page: Any, live_server: Any,
                                                   people: Personas, tmp_path: Path) -> None:
    base = live_server.url
    when = (timezone.now() - timedelta(hours=1)).astimezone(SHANGHAI)
    key_list = tmp_path / "本周重点名单.csv"
    key_list.write_bytes(csv_bytes([
        row("60.12.77.1", "嘉兴恒达纺织有限公司", county="南湖区",
            address="嘉兴市南湖区凤桥镇工业路8号", when=when.strftime("%Y-%m-%d %H:%M:%S")),
    ], title="第N周 虚拟货币挖矿重点名单"))
    photo = tmp_path / "site.png"
    photo.write_bytes(png_bytes())

    login(page, base, people.city.username)
    cleared_before = kpi(page, base, "cleared")
    shot(page, "01-dashboard-before")
    page.goto(f"{base}/lists/import/")
    page.set_input_files("#id_file", str(key_list))
    page.select_option("#id_list_type", "key")
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#preview-summary")
    assert page.text_content("#preview-summary [data-diff=new]") == "1"
    shot(page, "02a-import-preview")
    page.click("#confirm-import")
    page.wait_for_url("**/lists/*/")
    page.wait_for_selector("[data-diff=new]")
    assert page.text_content("[data-diff=new]") == "1"
    shot(page, "02-batch-imported")
    logout(page)

    login(page, base, people.county_a.username)
    page.goto(f"{base}/inbox/")
    assert page.text_content("[data-count=to_sign]") == "1"
    shot(page, "03-county-inbox")
    page.click("#to_sign a[href^='/cases/']")
    for action in ("sign", "start_verification"):
        page.click(f"button[data-action={action}]")
        page.wait_for_load_state()
    page.check("input[name=found_mining][value=yes]")
    page.fill("#id_machine_count", "3")
    page.fill("#id_machines_seized", "3")
    page.fill("#id_power_kw", "9.75")
    page.check("#id_power_cut")
    page.set_input_files("#id_photo", str(photo))
    page.click("#visit-form button[type=submit]")
    page.wait_for_load_state()
    for action in ("confirm", "start_rectification", "request_clearance"):
        page.click(f"button[data-action={action}]")
        page.wait_for_load_state()
    assert page.get_attribute("[data-state]", "data-state") == "clearance_requested"
    shot(page, "04-county-requested-clearance")
    logout(page)

    login(page, base, people.city.username)
    page.goto(f"{base}/cases/?state=clearance_requested")
    page.click("table a[href^='/cases/']")
    page.click("button[data-action=clear]")
    page.wait_for_load_state()
    assert page.get_attribute("[data-state]", "data-state") == "cleared"
    shot(page, "05-city-cleared")
    cleared_after = kpi(page, base, "cleared")
    shot(page, "06-dashboard-after")
    assert int(cleared_after) == int(cleared_before) + 1
    assert kpi(page, base, "rate") == "100%"


def test_the_supervision_charts_draw_with_the_network_cut_off(page: Any, live_server: Any,
                                                              people: Personas) -> None:
    """Government intranets are air-gapped: every script, style and font must come from the
    app itself. Any request elsewhere is refused here and fails the test."""
    from datetime import datetime

    from qingling.supervision.services import reference_load, weekly_close
    from tests.conftest import WEEK
    from tests.test_supervision import three_key_items

    reference_load()
    three_key_items(people)
    weekly_close(WEEK.shift(-1), datetime(2026, 11, 15, 12, tzinfo=SHANGHAI))
    weekly_close(WEEK, datetime(2026, 11, 22, 12, tzinfo=SHANGHAI))
    base = live_server.url
    outside: list[str] = []

    def only_the_app(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_app)
    login(page, base, "city")
    page.goto(f"{base}/supervision/")
    for chart in ("chart-rate", "chart-stock", "chart-map"):
        page.wait_for_selector(f"#{chart}[data-drawn='1'] canvas")
    assert page.is_hidden("#chart-missing")
    # The picture agrees with the table: 南湖区 1 of 3 on time.
    row = page.locator("#table-key tbody tr", has_text="南湖区")
    assert row.locator("td").nth(1).text_content() == "1"
    shot(page, "supervision")
    assert outside == []


def test_a_list_with_a_bad_row_is_previewed_remapped_and_committed(
        page: Any, live_server: Any, people: Personas, tmp_path: Path) -> None:
    from qingling.cases.models import Case, State
    from qingling.intake.services import import_list
    from tests.conftest import WEEK

    when = (timezone.now() - timedelta(days=10)).astimezone(SHANGHAI)
    stamp = when.strftime("%Y-%m-%d %H:%M:%S")
    import_list(data=csv_bytes([row("60.13.0.1", "甲公司", when=stamp),
                                row("60.13.0.2", "乙公司", when=stamp),
                                row("60.13.0.3", "丙公司", when=stamp)]),
                file_name="上周.csv", list_type="key", week=WEEK)
    Case.objects.filter(ip_summary="60.13.0.2").update(state=State.CLEARED)
    now = timezone.now().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    f = tmp_path / "本周重点名单.csv"
    f.write_bytes(csv_bytes([
        ["60.13.0.1", "3333", now, "甲公司", "南湖区"],
        ["60.13.0.2", "3333", now, "乙公司", "南湖区"],
        ["60.13.0.9", "3333", now, "丁公司", "南湖区"],
        ["60.13.0.x", "3333", now, "戊公司", "南湖区"]],
        header=["IP地址", "端口", "发现时间", "客户名", "所属区县"]))
    base = live_server.url
    login(page, base, people.city.username)
    page.goto(f"{base}/lists/import/")
    page.set_input_files("#id_file", str(f))
    page.select_option("#id_list_type", "key")
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#preview-summary")
    for key, n in (("new", "1"), ("present", "1"), ("reappeared", "1"), ("absent", "1")):
        assert page.text_content(f"#preview-summary [data-diff={key}]") == n
        assert page.locator(f"#diff-{key} tbody tr").count() == 1
    assert "60.13.0.9" in page.text_content("#diff-new") and \
        "60.13.0.3" in page.text_content("#diff-absent")
    assert "戊公司" in page.text_content("table.rejected")
    shot(page, "10-preview-1280")
    page.set_viewport_size({"width": 768, "height": 900})
    shot(page, "10-preview-768")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.select_option("select[name^=map-]", "unit_name")
    page.click("button[value=repreview]")
    page.wait_for_selector("#preview-summary")
    assert page.locator("select[name^=map-]").input_value() == "unit_name"
    page.check("input[name=accept_valid]")
    page.click("#confirm-import")
    page.wait_for_url("**/lists/*/")
    shot(page, "11-batch-after-preview")
    assert "60.13.0.9" in page.text_content("#diff-new")
    assert "60.13.0.1" in page.text_content("#diff-present")
    assert "60.13.0.2" in page.text_content("#diff-reappeared")
    assert "60.13.0.3" in page.text_content("#diff-absent")
    assert Case.objects.get(ip_summary="60.13.0.9").subject_name == "丁公司"
def test_the_grid_and_the_police_work_on_a_case_and_the_city_sees_both(
        page: Any, live_server: Any, people: Personas, task_routes: None,
        tmp_path: Path) -> None:
    from decimal import Decimal

    from qingling.cases.models import Case, State
    from qingling.cases.services import case_transition, visit_record
    from qingling.geo.models import Division
    from qingling.org.services import user_provision
    from qingling.supervision.services import reference_load
    from tests.conftest import COUNTY_A

    reference_load()
    user_provision(username="grid", password=PASSWORD, role="department",
                   department_code="grid", display_name="供电公司 王工")
    case = Case.objects.create(subject_key="name:恒达", subject_name="嘉兴恒达纺织有限公司",
                               subject_type="enterprise", carrier="电信",
                               county=Division.objects.get(code=COUNTY_A),
                               state=State.DISPATCHED)
    now = timezone.now()
    case_transition(case_id=case.pk, action="sign", actor=people.county_a)
    case_transition(case_id=case.pk, action="start_verification", actor=people.verifier_a)
    visit_record(case_id=case.pk, actor=people.verifier_a, visited_at=now, found_mining=True,
                 behaviour="hijacked", machine_count=2, power_kw=Decimal("6.5"))
    case_transition(case_id=case.pk, action="confirm", actor=people.verifier_a)
    base = live_server.url
    photo = tmp_path / "笔录.png"
    photo.write_bytes(png_bytes())

    login(page, base, "grid")
    page.click("nav a[href='/supervision/tariff/']")
    page.fill("#account-form [name=case_reference]", case.reference)
    page.fill("#account-form [name=account_no]", "3304021234")
    page.fill("#account-form [name=holder]", "嘉兴恒达纺织有限公司")
    page.fill("#account-form [name=mining_from]", "2026-11-01")
    page.click("#account-form button[type=submit]")
    page.wait_for_load_state()
    page.fill("#cycle-form [name=account_no]", "3304021234")
    page.fill("#cycle-form [name=start]", "2026-11-01")
    page.fill("#cycle-form [name=end]", "2026-11-30")
    page.fill("#cycle-form [name=kwh]", "4680")
    page.click("#cycle-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#table-tariff tbody tr", has_text="3304021234").count() == 1
    shot(page, "grid-tariff-register")
    logout(page)

    login(page, base, people.dept.username)
    page.click("nav a[href='/tasks/']")
    page.click(f"#overdue a[href='/cases/{case.pk}/'], #due_soon a[href='/cases/{case.pk}/'], "
               f"#open a[href='/cases/{case.pk}/']")
    row = page.locator("[data-task=psb_control]")
    assert row.get_attribute("data-task-state") == "todo"
    form = page.locator("form[id$='-complete']")
    form.locator("xpath=..").locator("summary").click()
    form.locator("textarea[name=outcome]").fill("已清除木马程序，立案侦查")
    form.locator("input[name=file]").set_input_files(str(photo))
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("[data-task=psb_control]").get_attribute("data-task-state") == "done"
    shot(page, "psb-task-done")
    logout(page)

    login(page, base, people.city.username)
    page.goto(f"{base}/cases/{case.pk}/")
    assert page.locator("[data-task=psb_control]").get_attribute("data-task-state") == "done"
    assert "已清除木马程序，立案侦查" in str(page.text_content("#department-tasks"))
    assert page.locator("#department-tasks a[data-task-evidence]").text_content() == "笔录.png"
    tariff = str(page.text_content("#case-tariff"))
    # The whole of November mined: 4,680 kWh × 0.50 yuan.
    assert "3304021234" in tariff and "2340.00" in tariff
    shot(page, "city-sees-tasks-and-tariff")
