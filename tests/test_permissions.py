"""Every view, download and export, for every role: who may see and do what.

County B's officer must learn nothing of county A's cases, even by guessing URLs and IDs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from qingling.cases.models import Case, Evidence
from qingling.cases.services import case_transition, evidence_add, visit_record
from qingling.intake.models import ListBatch
from qingling.intake.services import import_list
from tests.conftest import WEEK, Personas, client_for, csv_bytes, row
from tests.test_uploads import png_bytes


@dataclass
class World:
    p: Personas
    case_a: Case
    case_b: Case
    evidence_a: Evidence
    batch: ListBatch


@pytest.fixture
def world(people: Personas) -> World:
    s = import_list(
        data=csv_bytes([
            row("60.12.1.1", "张三", address="嘉兴市南湖区新丰镇人民路1号3幢101室",
                kind="家庭宽带"),
            row("60.12.2.2", "秀洲某某科技有限公司", county="秀洲区"),
            row("bad-ip", "乙"),
        ]),
        file_name="k.csv", list_type="key", week=WEEK, accept_valid=True,
    )
    a = Case.objects.get(ips__value="60.12.1.1")
    b = Case.objects.get(ips__value="60.12.2.2")
    case_transition(case_id=a.pk, action="sign", actor=people.county_a)
    case_transition(case_id=a.pk, action="start_verification", actor=people.county_a)
    visit_record(case_id=a.pk, actor=people.county_a, visited_at=timezone.now(),
                 found_mining=True, phone="13800001234")
    ev = evidence_add(case_id=a.pk, actor=people.county_a, stream=io.BytesIO(png_bytes()),
                      original_name="a.png")
    return World(people, Case.objects.get(pk=a.pk), b, ev, ListBatch.objects.get(pk=s.batch_id))


PERSONAS = ["city", "county_a", "county_b", "dept", "dept_other", "verifier_a", "leader",
            "outsider", "anonymous"]
# GET pages and downloads: the status each persona gets for county A's objects.
# 200 ok, 403 no role for the page, 404 not in your area (the same as "does not exist").
CITY_ONLY = dict(city=200, county_a=403, county_b=403, dept=403, dept_other=403,
                 verifier_a=403, leader=403, outsider=403)
GET_MATRIX = {
    "dashboard": dict(city=200, county_a=200, county_b=200, dept=200, dept_other=200,
                      verifier_a=200, leader=200, outsider=403),
    "inbox": dict(city=200, county_a=200, county_b=200, dept=200, dept_other=200,
                  verifier_a=200, leader=200, outsider=403),
    "case_list": dict(city=200, county_a=200, county_b=200, dept=200, dept_other=200,
                      verifier_a=200, leader=200, outsider=403),
    "case_export": dict(city=200, county_a=200, county_b=200, dept=200, dept_other=200,
                        verifier_a=200, leader=200, outsider=403),
    "case_detail": dict(city=200, county_a=200, county_b=404, dept=200, dept_other=404,
                        verifier_a=200, leader=200, outsider=403),
    "evidence_download": dict(city=200, county_a=200, county_b=404, dept=200, dept_other=404,
                              verifier_a=200, leader=200, outsider=403),
    "evidence_thumb": dict(city=200, county_a=200, county_b=404, dept=200, dept_other=404,
                           verifier_a=200, leader=200, outsider=403),
    "batch_list": dict(city=200, county_a=403, county_b=403, dept=403, dept_other=403,
                       verifier_a=403, leader=200, outsider=403),
    "batch_detail": dict(city=200, county_a=403, county_b=403, dept=403, dept_other=403,
                         verifier_a=403, leader=200, outsider=403),
    "batch_rejected_export": dict(city=200, county_a=403, county_b=403, dept=403,
                                  dept_other=403, verifier_a=403, leader=200, outsider=403),
    "batch_import": dict(city=200, county_a=403, county_b=403, dept=403, dept_other=403,
                         verifier_a=403, leader=403, outsider=403),
    "dashboard_export": dict(city=200, county_a=200, county_b=200, dept=200, dept_other=200,
                             verifier_a=200, leader=200, outsider=403),
    "manual": dict(city=200, county_a=200, county_b=200, dept=200, dept_other=200,
                   verifier_a=200, leader=200, outsider=403),
    "subscriber_export": dict(city=200, county_a=200, county_b=200, dept=403, dept_other=403,
                              verifier_a=200, leader=200, outsider=403),
    "screening_runs_export": dict(city=200, county_a=403, county_b=403, dept=403,
                                  dept_other=403, verifier_a=403, leader=200, outsider=403),
    **{name: dict(city=200, county_a=403, county_b=403, dept=403, dept_other=403,
                  verifier_a=403, leader=403, outsider=403)
       for name in ("lead_triage", "lead_triage_export", "excluded_list", "excluded_export",
                    "warning_export")},
    "config_index": CITY_ONLY,
    "config_cutoff": CITY_ONLY,
    "config_cutoff_export": CITY_ONLY,
    "config_texts": CITY_ONLY,
    "config_texts_export": CITY_ONLY,
    "config_text_edit:overall": CITY_ONLY,
    "config_table:routing": CITY_ONLY,
    "config_table:classification": CITY_ONLY,
    "config_table:coefficients": CITY_ONLY,
    "config_table:tariffs": CITY_ONLY,
    "config_new:routing": CITY_ONLY,
    "config_export:routing": CITY_ONLY,
    "config_export:classification": CITY_ONLY,
    "config_export:coefficients": CITY_ONLY,
    "config_export:tariffs": CITY_ONLY,
}


def url_for(name: str, w: World) -> str:
    if name == "case_detail":
        return reverse(name, args=[w.case_a.pk])
    if name in ("evidence_download", "evidence_thumb"):
        return reverse(name, args=[w.evidence_a.pk])
    if name in ("batch_detail", "batch_rejected_export"):
        return reverse(name, args=[w.batch.pk])
    if ":" in name:
        view, arg = name.split(":")
        return reverse(view, args=[arg])
    return reverse(name)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", list(GET_MATRIX))
def test_every_page_and_download_enforces_the_role(world: World, name: str,
                                                   persona: str) -> None:
    user = None if persona == "anonymous" else getattr(world.p, persona)
    resp = client_for(user).get(url_for(name, world))
    if persona == "anonymous":
        assert resp.status_code == 302 and "/login/" in resp["Location"]
    else:
        assert resp.status_code == GET_MATRIX[name][persona]


POST_ACTIONS = {
    "case_act": lambda w: reverse("case_act", args=[w.case_a.pk, "confirm"]),
    "case_visit": lambda w: reverse("case_visit", args=[w.case_a.pk]),
    "case_evidence": lambda w: reverse("case_evidence", args=[w.case_a.pk]),
}


@pytest.mark.parametrize("persona", ["county_b", "dept_other"])
@pytest.mark.parametrize("name", list(POST_ACTIONS))
def test_nobody_outside_the_area_can_act_by_guessing_urls(world: World, name: str,
                                                          persona: str) -> None:
    before = world.case_a.audit.count()
    resp = client_for(getattr(world.p, persona)).post(
        POST_ACTIONS[name](world),
        {"visited_at": "2026-11-25T10:00", "found_mining": "yes", "machine_count": 1,
         "machines_seized": 0, "file": io.BytesIO(png_bytes())},
    )
    assert resp.status_code == 404
    assert world.case_a.audit.count() == before
    assert Case.objects.get(pk=world.case_a.pk).state == world.case_a.state


@pytest.mark.parametrize("persona", ["outsider", "anonymous"])
@pytest.mark.parametrize("name", list(POST_ACTIONS))
def test_no_role_no_action(world: World, name: str, persona: str) -> None:
    user = None if persona == "anonymous" else world.p.outsider
    before = world.case_a.audit.count()
    resp = client_for(user).post(POST_ACTIONS[name](world), {"comment": "x"})
    assert resp.status_code == (302 if persona == "anonymous" else 403)
    assert world.case_a.audit.count() == before


def test_a_leader_sees_the_case_but_cannot_act_on_it(world: World) -> None:
    c = client_for(world.p.leader)
    page = c.get(reverse("case_detail", args=[world.case_a.pk])).content.decode()
    assert 'data-action="' not in page
    c.post(reverse("case_act", args=[world.case_a.pk, "confirm"]))
    assert Case.objects.get(pk=world.case_a.pk).state == "verifying"


def test_county_b_lists_and_exports_nothing_of_county_a(world: World) -> None:
    c = client_for(world.p.county_b)
    page = c.get(reverse("case_list")).content.decode()
    assert "60.12.2.2" in page and "60.12.1.1" not in page
    wb = load_workbook(io.BytesIO(c.get(reverse("case_export")).content))
    ws = wb.active
    assert ws is not None
    cells = [str(v) for r in ws.iter_rows(values_only=True) for v in r if v]
    assert "60.12.2.2" in cells and "60.12.1.1" not in cells
    assert c.get(reverse("case_list"), {"q": "60.12.1.1"}).content.decode().count(
        world.case_a.reference) == 0


def test_personal_data_is_masked_for_the_leader_and_shown_to_the_county_with_a_reason(
        world: World) -> None:
    url = reverse("case_detail", args=[world.case_a.pk])
    county = client_for(world.p.county_a).get(url).content.decode()
    assert "张三" not in county and "13800001234" not in county  # masked by default
    county = client_for(world.p.county_a).post(
        reverse("case_reveal", args=[world.case_a.pk]), {"reason": "现场核查"}).content.decode()
    assert "张三" in county and "13800001234" in county and "3幢101室" in county
    leader = client_for(world.p.leader).get(url).content.decode()
    assert "张三" not in leader and "张*" in leader
    assert "13800001234" not in leader and "3幢101室" not in leader
    assert "138****1234" in leader
    wb = load_workbook(io.BytesIO(client_for(world.p.leader).get(reverse("case_export")).content))
    ws = wb.active
    assert ws is not None
    cells = [str(v) for r in ws.iter_rows(values_only=True) for v in r if v]
    assert "张三" not in cells and "13800001234" not in cells


def test_the_export_escapes_formulas(world: World) -> None:
    Case.objects.filter(pk=world.case_b.pk).update(subject_name="=HYPERLINK(\"http://x\")")
    wb = load_workbook(io.BytesIO(client_for(world.p.city).get(reverse("case_export")).content))
    ws = wb.active
    assert ws is not None
    values = [v for r in ws.iter_rows(values_only=True) for v in r if isinstance(v, str)]
    assert "'=HYPERLINK(\"http://x\")" in values
    assert not any(v.startswith("=") for v in values)


def test_the_department_sees_only_cases_routed_to_it(world: World) -> None:
    # The residential case A is led by public security; B (an enterprise) is not.
    page = client_for(world.p.dept).get(reverse("case_list")).content.decode()
    assert world.case_a.reference in page and world.case_b.reference not in page


CONFIG_POSTS = {
    "config_new:coefficients": {"valid_from": "2026-01-01", "tce_per_kwh": "0.000123",
                                "tco2_per_kwh": "0.000581", "source": "x"},
    "config_cutoff": {"cutoff_weekday": "4", "cutoff_time": "17:00"},
    "config_text_edit:title": {"body": "关于{{ week_label }}的通报"},
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", list(CONFIG_POSTS))
def test_only_the_city_changes_the_city_configuration(world: World, name: str,
                                                      persona: str) -> None:
    from qingling.audit.models import AuditEntry

    user = None if persona == "anonymous" else getattr(world.p, persona)
    resp = client_for(user).post(url_for(name, world), CONFIG_POSTS[name])
    changed = AuditEntry.objects.filter(action="config_change").count()
    if persona == "city":
        assert resp.status_code == 302 and changed == 1
    elif persona == "anonymous":
        assert resp.status_code == 302 and "/login/" in resp["Location"] and changed == 0
    else:
        assert resp.status_code == 403 and changed == 0
