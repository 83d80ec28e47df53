"""Need-to-know: a case page shows personal data masked to every role until a user whose
role may see it gives a reason (recorded); searches by a person's name, ID number or phone
are recorded and closed to leaders and departments; exports are masked unless a reason is
given; the city reads who saw whose data, when and why, and can export it."""

from __future__ import annotations

import io

import openpyxl
from django.urls import reverse

from qingling.audit.models import AuditEntry
from qingling.cases.models import Case
from qingling.intake.services import import_list
from tests.conftest import WEEK, Personas, at, client_for, csv_bytes, row

SEEN = "2026-11-15 10:00:00"


def resident(people: Personas) -> Case:
    import_list(data=csv_bytes([row("60.7.1.1", "黄华", address="嘉兴市南湖区新兴街道文昌路18号",
                                    kind="个人宽带", when=SEEN),
                                row("60.7.1.2", "南湖某某科技有限公司", when=SEEN)]),
                file_name="k.csv", list_type="key", week=WEEK, now=at("2026-11-16T09:00"))
    case = Case.objects.get(ip_summary="60.7.1.1")
    case.id_number, case.phone = "330402199001011234", "13800001234"
    case.save()
    return case


def test_the_case_page_masks_for_everyone_until_a_reason_is_given(people: Personas) -> None:
    case = resident(people)
    for user in (people.city, people.county_a, people.verifier_a, people.leader):
        page = client_for(user).get(f"/cases/{case.pk}/").content.decode()
        assert "黄华" not in page and "330402199001011234" not in page and "13800001234" not in page
        assert "黄*" in page
    county = client_for(people.county_a)
    assert 'id="reveal-form"' in county.get(f"/cases/{case.pk}/").content.decode()
    assert 'id="reveal-form"' not in client_for(people.leader).get(
        f"/cases/{case.pk}/").content.decode()
    # Without a reason: nothing shown, nothing recorded.
    county.post(f"/cases/{case.pk}/reveal/", {"reason": " "})
    assert not AuditEntry.objects.filter(action="reveal_personal").exists()
    shown = county.post(f"/cases/{case.pk}/reveal/", {"reason": "上门核查前核对户主"})
    page = shown.content.decode()
    assert shown.status_code == 200 and "黄华" in page and "13800001234" in page
    entry = AuditEntry.objects.get(action="reveal_personal")
    assert entry.actor == people.county_a and entry.case == case
    assert entry.comment == "上门核查前核对户主"
    # The next plain view is masked again.
    assert "黄华" not in county.get(f"/cases/{case.pk}/").content.decode()
    # The leader cannot reveal at all.
    client_for(people.leader).post(f"/cases/{case.pk}/reveal/", {"reason": "想看"})
    assert AuditEntry.objects.filter(action="reveal_personal").count() == 1


def test_a_leader_cannot_rebuild_a_masked_name_by_searching(people: Personas) -> None:
    case = resident(people)
    leader = client_for(people.leader)
    for q in ("黄华", "黄", "330402199001011234", "13800001234"):
        page = leader.get("/cases/", {"q": q}).content.decode()
        assert f"/cases/{case.pk}/" not in page, q
    # A unit's name is public and still found.
    unit = Case.objects.get(ip_summary="60.7.1.2")
    assert f"/cases/{unit.pk}/" in leader.get("/cases/", {"q": "某某科技"}).content.decode()
    assert not AuditEntry.objects.filter(action="search_personal").exists()


def test_a_search_by_personal_data_is_recorded_with_the_query_masked(people: Personas) -> None:
    case = resident(people)
    city = client_for(people.city)
    page = city.get("/cases/", {"q": "黄华"}).content.decode()
    assert f"/cases/{case.pk}/" in page
    assert f"/cases/{case.pk}/" in city.get("/cases/", {"q": "13800001234"}).content.decode()
    entries = list(AuditEntry.objects.filter(action="search_personal").order_by("id"))
    assert len(entries) == 2 and entries[0].actor == people.city
    assert entries[0].data["q"] == "黄*" and entries[0].data["found"] == 1
    assert "黄华" not in str([e.data for e in entries]) and "13800001234" not in str(
        [e.data for e in entries])


def test_exports_are_masked_unless_a_reason_is_given(people: Personas) -> None:
    resident(people)
    city = client_for(people.city)

    def cells(resp: object) -> str:
        ws = openpyxl.load_workbook(io.BytesIO(resp.content)).active  # type: ignore[attr-defined]
        assert ws is not None
        return str([c.value for r in ws.iter_rows() for c in r])

    masked = cells(city.get(reverse("case_export")))
    assert "黄华" not in masked and "13800001234" not in masked
    clear = cells(city.get(reverse("case_export"), {"reason": "报送公安机关"}))
    assert "黄华" in clear
    leader = cells(client_for(people.leader).get(reverse("case_export"), {"reason": "x"}))
    assert "黄华" not in leader
    exports = AuditEntry.objects.filter(action="export").order_by("id")
    assert [e.data["personal"] for e in exports] == [False, True, False]
    assert exports[1].comment == "报送公安机关"


def test_the_city_reads_and_exports_who_saw_whose_data(people: Personas) -> None:
    case = resident(people)
    client_for(people.county_a).post(f"/cases/{case.pk}/reveal/", {"reason": "核查"})
    client_for(people.county_a).get("/cases/", {"q": "黄华"})
    city = client_for(people.city)
    page = city.get("/audit/").content.decode()
    assert 'data-action="reveal_personal"' in page and 'data-action="search_personal"' in page
    assert "核查" in page and case.reference in page
    only = city.get("/audit/", {"action": "reveal_personal"}).content.decode()
    assert 'data-action="search_personal"' not in only
    resp = city.get("/audit/export.xlsx", {"user": "nanhu"})
    ws = openpyxl.load_workbook(io.BytesIO(resp.content)).active
    assert ws is not None and ws.max_row == 3  # header + the two entries
    assert client_for(people.county_a).get("/audit/").status_code == 403
    assert client_for(people.leader).get("/audit/export.xlsx").status_code == 403


def test_a_unit_with_nothing_personal_offers_no_reveal(people: Personas) -> None:
    resident(people)
    unit = Case.objects.get(ip_summary="60.7.1.2")
    page = client_for(people.county_a).get(f"/cases/{unit.pk}/").content.decode()
    assert "南湖某某科技有限公司" in page and 'id="reveal-form"' not in page
