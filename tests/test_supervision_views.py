"""Who sees and does what on the supervision pages, and that the page shows the numbers of
the bulletin."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from qingling.audit.models import AuditEntry
from qingling.common.weeks import SHANGHAI
from qingling.supervision import bulletin as bul
from qingling.supervision.models import BillingCycle, Escalation, TariffAccount, WeeklyClose
from qingling.supervision.services import reference_load, weekly_close
from tests.conftest import WEEK, Personas, at, client_for
from tests.test_supervision import three_key_items


@pytest.fixture
def closed(people: Personas, settings: object, tmp_path: Path) -> Personas:
    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    reference_load()
    cases = three_key_items(people)
    acct = TariffAccount.objects.create(case=cases[0], account_no="3300001234", holder="张三丰",
                                        address="嘉兴市南湖区新兴街道某路8号",
                                        mining_from=date(2026, 11, 1), mixed_use=True)
    BillingCycle.objects.create(account=acct, start=date(2026, 11, 1), end=date(2026, 11, 30),
                                kwh=Decimal(3000))
    weekly_close(WEEK.shift(-1), at("2026-11-15T12:00"))
    weekly_close(WEEK, at("2026-11-22T12:00"))
    return people


def table(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, table_id
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
            for r in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)]


def test_the_page_the_bulletin_and_its_annex_show_the_same_numbers(closed: Personas,
                                                                    tmp_path: Path) -> None:
    page = client_for(closed.city).get(f"/supervision/?week={WEEK}").content.decode()
    files = bul.issue(WEEK, tmp_path, at("2026-11-23T09:00"), pdf=False)
    docx_rows = [[c.text for c in r.cells] for r in Document(str(files.docx)).tables[0].rows][1:]
    xlsx_rows = [[str(v) for v in r] for r in
                 load_workbook(files.xlsx)["表1 重点名单清零"].iter_rows(min_row=2, values_only=True)]
    page_rows = table(page, "table-key")
    assert page_rows == docx_rows == xlsx_rows
    assert ["南湖区", "3", "1", "1", "1", "0", "33.3%"] in page_rows
    energy_page = table(page, "table-energy")
    energy_doc = [[c.text for c in r.cells] for r in Document(str(files.docx)).tables[-1].rows][1:]
    assert energy_page == energy_doc


@pytest.mark.parametrize("who,status", [("city", 200), ("leader", 200), ("county_a", 200),
                                        ("county_b", 200), ("dept", 403), ("verifier_a", 403),
                                        ("outsider", 403)])
def test_who_may_read_the_supervision_page(closed: Personas, who: str, status: int) -> None:
    assert client_for(getattr(closed, who)).get("/supervision/").status_code == status


def test_a_county_sees_only_its_own_county(closed: Personas) -> None:
    html_a = client_for(closed.county_a).get(f"/supervision/?week={WEEK}").content.decode()
    rows = table(html_a, "table-key")
    assert [r[0] for r in rows] == ["南湖区", "全市"] and rows[0][1:5] == ["3", "1", "1", "1"]
    assert "60.12.1.3" in html_a  # its own interview
    html_b = client_for(closed.county_b).get(f"/supervision/?week={WEEK}").content.decode()
    assert "南湖区" not in html_b and "60.12.1.3" not in html_b
    wb = load_workbook(io.BytesIO(client_for(closed.county_b).get(
        f"/supervision/figures/{WEEK}.xlsx").content))
    assert [r[0] for r in wb["表1 重点名单清零"].iter_rows(min_row=2, values_only=True)] == [
        "秀洲区", "全市"]


def test_only_the_city_closes_weeks_and_moves_escalations(closed: Personas) -> None:
    esc = Escalation.objects.get()
    for who in (closed.county_a, closed.leader, closed.dept):
        c = client_for(who)
        assert c.post("/supervision/close/", {"week": "2026-W45"}).status_code == 403
        assert c.post(f"/supervision/escalations/{esc.pk}/approve/").status_code == 403
        assert c.post(f"/supervision/bulletin/{WEEK}/issue/").status_code == 403
    esc.refresh_from_db()
    assert esc.status == Escalation.Status.PROPOSED
    city = client_for(closed.city)
    city.post(f"/supervision/escalations/{esc.pk}/approve/", {"scheduled_on": "2026-11-25"})
    esc.refresh_from_db()
    assert esc.status == Escalation.Status.APPROVED and esc.decided_by == closed.city
    resp = city.post("/supervision/close/", {"week": "2026-W45"})
    assert resp.status_code == 302 and WeeklyClose.objects.filter(week="2026-W45").exists()
    assert AuditEntry.objects.filter(action="weekly_close", actor=closed.city).exists()


def test_bulletin_files_are_for_the_city_and_leaders(closed: Personas) -> None:
    city = client_for(closed.city)
    city.post(f"/supervision/bulletin/{WEEK}/issue/")
    resp = client_for(closed.leader).get(f"/supervision/bulletin/{WEEK}/docx/")
    assert resp.status_code == 200 and b"".join(resp.streaming_content)[:2] == b"PK"
    assert client_for(closed.county_a).get(f"/supervision/bulletin/{WEEK}/docx/").status_code == 403
    assert AuditEntry.objects.filter(action="download", actor=closed.leader).exists()


def test_the_tariff_register_masks_people_for_leaders_and_scopes_counties(
        closed: Personas) -> None:
    city = client_for(closed.city).get("/supervision/tariff/").content.decode()
    # One whole 30-day cycle of 3,000 kWh inside the mining period: 3,000 × 0.50 yuan.
    assert "张三丰" in city and "某路8号" in city and "1500.00" in city and "3000.00" in city
    leader = client_for(closed.leader).get("/supervision/tariff/").content.decode()
    assert "张三丰" not in leader and "张**" in leader and "某路8号" not in leader
    assert "3300001234" not in client_for(closed.county_b).get("/supervision/tariff/").content.decode()
    export = client_for(closed.city).get("/supervision/tariff.xlsx")
    ws = load_workbook(io.BytesIO(export.content)).active
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows[0][0] == "3300001234" and rows[0][6] == "是"
    assert AuditEntry.objects.filter(action="export_tariff_register").count() == 1


def test_todays_digest_shows_in_the_app_for_its_county_only(closed: Personas) -> None:
    from django.utils import timezone

    from qingling.supervision.digest import send_digests

    today = timezone.now().astimezone(SHANGHAI).date()
    assert send_digests(today, timezone.now(), email=False)
    html_a = client_for(closed.county_a).get("/supervision/").content.decode()
    assert "每日提醒" in html_a and "南湖区" in html_a
    html_b = client_for(closed.county_b).get("/supervision/").content.decode()
    assert "每日提醒" not in html_b


def test_a_deployer_geojson_replaces_the_schematic_map(closed: Personas, settings: object,
                                                      tmp_path: Path) -> None:
    html = client_for(closed.city).get("/supervision/").content.decode()
    assert "data-geojson=\"\"" in html
    assert client_for(closed.city).get("/supervision/map.geojson").status_code == 404
    geo = tmp_path / "jiaxing.geojson"
    geo.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    settings.QINGLING_MAP_GEOJSON = geo  # type: ignore[attr-defined]
    html = client_for(closed.city).get("/supervision/").content.decode()
    assert 'data-geojson="/supervision/map.geojson"' in html
    resp = client_for(closed.leader).get("/supervision/map.geojson")
    assert resp.status_code == 200 and b"FeatureCollection" in b"".join(resp.streaming_content)
    assert client_for(closed.dept).get("/supervision/map.geojson").status_code == 403


def test_the_city_approves_escalations_in_bulk_after_a_preview(closed: Personas) -> None:
    first = Escalation.objects.get()
    second = Escalation.objects.create(key="test:2", week=first.week, kind="city_notice",
                                       county=first.county, subject="南湖区人民政府",
                                       basis="存量居高不下")
    done = Escalation.objects.create(key="test:3", week=first.week, kind="city_notice",
                                     county=first.county, subject="已处理", basis="x",
                                     status=Escalation.Status.APPROVED)
    city = client_for(closed.city)
    ids = [first.pk, second.pk, done.pk]
    preview = city.post("/supervision/escalations/bulk/", {"move": "dismiss", "ids": ids,
                                                            "week": first.week})
    body = preview.content.decode()
    assert 'data-eligible="2" data-skipped="1"' in body and "已处理" in body
    # Dismissing needs a reason: the confirmation without one changes nothing.
    city.post("/supervision/escalations/bulk/", {"move": "dismiss", "ids": ids, "confirm": "1",
                                                  "week": first.week})
    assert Escalation.objects.filter(status=Escalation.Status.PROPOSED).count() == 2
    resp = city.post("/supervision/escalations/bulk/", {
        "move": "approve", "ids_csv": ",".join(map(str, ids)), "confirm": "1",
        "scheduled_on": "2026-11-27", "week": first.week})
    assert resp.status_code == 302
    moved = Escalation.objects.filter(pk__in=[first.pk, second.pk])
    assert {e.status for e in moved} == {Escalation.Status.APPROVED}
    assert {e.scheduled_on for e in moved} == {date(2026, 11, 27)}
    assert AuditEntry.objects.filter(action="escalation_approve").count() == 2
    assert client_for(closed.county_a).post("/supervision/escalations/bulk/", {
        "move": "approve", "ids": ids}).status_code == 403


def test_energy_is_said_in_10000_kwh_and_coefficients_per_10000_kwh(closed: Personas,
                                                                     tmp_path: Path) -> None:
    from qingling.supervision.units import per_wan_kwh, wan_kwh

    # Hand-worked: 0.0001229 tce/kWh is 1.229 t per 10,000 kWh; 123,456.78 kWh is 12.35.
    assert (per_wan_kwh("0.0001229000"), per_wan_kwh("0.0005703"), per_wan_kwh("0.0001")) == (
        "1.229", "5.703", "1")
    assert (wan_kwh("123456.78"), wan_kwh(4120), wan_kwh(50), wan_kwh(49), wan_kwh(None)) == (
        "12.35", "0.41", "0.01", "0.00", "0.00")
    page = client_for(closed.city).get(f"/supervision/?week={WEEK}").content.decode()
    assert "1.229 吨标准煤/万千瓦时" in page and "0.0001229" not in page
    content = bul.content_for(WeeklyClose.objects.get(week=str(WEEK)), date(2026, 11, 23))
    kwh = WeeklyClose.objects.get(week=str(WEEK)).figures["city"]["kwh"]
    assert f"挖矿电量{wan_kwh(kwh)}万千瓦时" in content["texts"]["energy"]
