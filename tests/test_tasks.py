"""Department tasks: the routing table makes them when a case is confirmed and when its
facts change; their moves; the clearance they hold."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from qingling.audit.models import AuditEntry
from qingling.cases.models import Case, State
from qingling.cases.services import (
    WorkflowError,
    case_correct,
    case_transition,
    evidence_add,
    visit_record,
)
from qingling.geo.models import Division
from qingling.org.models import SubjectType
from qingling.org.services import user_provision
from qingling.tasks.models import DepartmentTask, TaskRule, TaskState
from qingling.tasks.services import TaskError, task_move, tasks_bulk_start
from tests.conftest import COUNTY_A, PASSWORD, Personas, at, client_for
from tests.test_uploads import png_bytes

NOW = at("2026-11-23T10:00")


def officer(code: str) -> User:
    return user_provision(username=f"dept-{code}", password=PASSWORD, role="department",
                          department_code=code)  # type: ignore[return-value]


def make_case(name: str, subject_type: str, carrier: str = "电信") -> Case:
    return Case.objects.create(subject_key=f"name:{name}", subject_name=name,
                               subject_type=subject_type, carrier=carrier,
                               county=Division.objects.get(code=COUNTY_A),
                               state=State.DISPATCHED)


def confirm(case: Case, p: Personas, now: datetime = NOW, behaviour: str = "") -> Case:
    case_transition(case_id=case.pk, action="sign", actor=p.county_a, now=now)
    case_transition(case_id=case.pk, action="start_verification", actor=p.verifier_a, now=now)
    visit_record(case_id=case.pk, actor=p.verifier_a, visited_at=now, found_mining=True,
                 machine_count=4, power_kw=Decimal("13.0"), behaviour=behaviour)
    return case_transition(case_id=case.pk, action="confirm", actor=p.verifier_a, now=now)


def kinds(case: Case) -> dict[str, str]:
    return dict(DepartmentTask.objects.filter(case=case).values_list("department__code",
                                                                      "kind__code"))


def test_a_confirmed_enterprise_gets_tasks_for_finance_tax_the_financial_group_and_the_amr(
        people: Personas, task_routes: None) -> None:
    case = confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people)
    assert sorted(kinds(case)) == ["amr", "cbirc", "finance", "finoffice", "grid", "pboc",
                                   "tax", "telecom"]


def test_nothing_is_made_before_mining_is_confirmed(people: Personas, task_routes: None) -> None:
    case = make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE)
    case_transition(case_id=case.pk, action="sign", actor=people.county_a, now=NOW)
    assert not DepartmentTask.objects.exists()


def test_a_hijacked_school_host_gets_a_police_task_and_an_education_task(
        people: Personas, task_routes: None) -> None:
    case = confirm(make_case("南湖区凤桥镇中学", SubjectType.SCHOOL, carrier="移动"), people,
                   behaviour="hijacked")
    assert Case.objects.get(pk=case.pk).behaviour == "hijacked"
    # A trojan's victim is not charged the punitive tariff: no grid task.
    assert sorted(kinds(case)) == ["education", "mobile", "psb"]


def test_each_kind_falls_due_after_its_own_days_at_the_cut_off_time(
        people: Personas, task_routes: None) -> None:
    case = confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people)
    due = {t.kind.code: t.due_at for t in DepartmentTask.objects.filter(case=case)}
    # Confirmed on Monday 2026-11-23 10:00 Beijing time: grid in 7 days, tax in 30.
    assert due["grid_tariff"] == at("2026-11-30T18:00")
    assert due["tax_support"] == at("2026-12-23T18:00")


def test_changed_facts_add_tasks_and_withdraw_untouched_ones_once(
        people: Personas, task_routes: None) -> None:
    case = confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people)
    tax = DepartmentTask.objects.get(case=case, department__code="tax")
    task_move(task_id=tax.pk, move="start", actor=officer("tax"), now=NOW)
    case_correct(case_id=case.pk, actor=people.city, reason="实为学校",
                 subject_type=SubjectType.SCHOOL, now=NOW + timedelta(hours=1))
    tasks = {t.department.code: t.state for t in DepartmentTask.objects.filter(case=case)}
    assert tasks["education"] == TaskState.TODO
    assert tasks["amr"] == TaskState.CANCELLED  # untouched: withdrawn
    assert tasks["tax"] == TaskState.DOING  # already being worked on: kept
    assert AuditEntry.objects.filter(case=case, action="task_withdraw").count() == 5
    case_correct(case_id=case.pk, actor=people.city, reason="主动挖矿", behaviour="active",
                 now=NOW + timedelta(hours=2))
    assert DepartmentTask.objects.filter(case=case).count() == len(tasks)


def rectify_and_request(case: Case, p: Personas) -> None:
    case_transition(case_id=case.pk, action="start_rectification", actor=p.county_a, now=NOW)
    evidence_add(case_id=case.pk, actor=p.county_a, stream=io.BytesIO(png_bytes()),
                 original_name="site.png")
    case_transition(case_id=case.pk, action="request_clearance", actor=p.county_a, now=NOW)


def test_clearance_waits_for_mandatory_tasks_done_or_waived(people: Personas,
                                                             task_routes: None) -> None:
    # Only two kinds apply here: the school's (mandatory) and the carrier's (optional).
    TaskRule.objects.exclude(kind__code__in=("education_school", "mobile_line")).delete()
    case = confirm(make_case("南湖区凤桥镇中学", SubjectType.SCHOOL, carrier="移动"), people)
    rectify_and_request(case, people)
    with pytest.raises(WorkflowError, match="市教育局 has not finished"):
        case_transition(case_id=case.pk, action="clear", actor=people.city, now=NOW)
    assert Case.objects.get(pk=case.pk).state == State.CLEARANCE_REQUESTED
    edu = DepartmentTask.objects.get(case=case, department__code="education")
    edu_officer = officer("education")
    with pytest.raises(TaskError, match="evidence"):
        task_move(task_id=edu.pk, move="complete", actor=edu_officer, outcome="已整改")
    task_move(task_id=edu.pk, move="complete", actor=edu_officer, outcome="学校已自查整改",
              upload=io.BytesIO(png_bytes()), upload_name="整改.png", now=NOW)
    done = DepartmentTask.objects.get(pk=edu.pk)
    assert done.state == TaskState.DONE and done.evidence.count() == 1
    # The carrier's task is open but does not hold clearance.
    case = case_transition(case_id=case.pk, action="clear", actor=people.city, now=NOW)
    assert case.state == State.CLEARED
    entry = AuditEntry.objects.get(action="task_complete")
    assert (entry.case_id, entry.actor, entry.from_state, entry.to_state) == (
        case.pk, edu_officer, "todo", "done")


def test_a_waiver_the_city_approves_lets_the_case_clear(people: Personas,
                                                         task_routes: None) -> None:
    TaskRule.objects.exclude(kind__code="education_school").delete()
    case = confirm(make_case("南湖区凤桥镇中学", SubjectType.SCHOOL), people)
    rectify_and_request(case, people)
    task = DepartmentTask.objects.get(case=case)
    edu = officer("education")
    with pytest.raises(TaskError, match="reason"):
        task_move(task_id=task.pk, move="request_waiver", actor=edu)
    task_move(task_id=task.pk, move="request_waiver", actor=edu, comment="该校已撤并")
    # Asking is not enough: the case still waits.
    with pytest.raises(WorkflowError, match="has not finished"):
        case_transition(case_id=case.pk, action="clear", actor=people.city)
    with pytest.raises(TaskError, match="may not"):
        task_move(task_id=task.pk, move="approve_waiver", actor=edu)
    task_move(task_id=task.pk, move="approve_waiver", actor=people.city, comment="同意")
    assert case_transition(case_id=case.pk, action="clear", actor=people.city).state == (
        State.CLEARED)
    assert list(AuditEntry.objects.filter(case=case, action__startswith="task_")
                .values_list("action", "to_state")) == [
        ("task_create", "todo"), ("task_request_waiver", "waiver_requested"),
        ("task_approve_waiver", "waived")]


def test_another_department_cannot_move_a_task(people: Personas, task_routes: None) -> None:
    case = confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people)
    tax = DepartmentTask.objects.get(case=case, department__code="tax")
    with pytest.raises(TaskError, match="No such task"):
        task_move(task_id=tax.pk, move="start", actor=officer("finance"))
    assert tasks_bulk_start(task_ids=list(DepartmentTask.objects.values_list("pk", flat=True)),
                            actor=officer("tax")) == 1
    assert DepartmentTask.objects.get(pk=tax.pk).state == TaskState.DOING


def test_the_tasks_command_lists_tasks_as_json(people: Personas, task_routes: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    case = confirm(make_case("南湖区凤桥镇中学", SubjectType.SCHOOL, carrier="移动"), people,
                   behaviour="hijacked")
    call_command("tasks", "--json", "--department", "psb")
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"id": rows[0]["id"], "case": case.reference, "case_id": case.pk,
                     "department": "psb", "kind": "psb_control",
                     "due": "2026-12-07T18:00:00+08:00", "state": "todo", "mandatory": True}]


def test_the_weekly_close_tables_tasks_by_department_and_proposes_the_late_units_principal(
        people: Personas, task_routes: None) -> None:
    from qingling.common.weeks import IsoWeek
    from qingling.supervision.bulletin import task_rows
    from qingling.supervision.models import Escalation
    from qingling.supervision.services import weekly_close

    TaskRule.objects.exclude(kind__code="grid_tariff").delete()
    # Confirmed Friday 13 November (W46): the grid's 7 days end Friday 20th 18:00 (W47).
    late = confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people,
                   now=at("2026-11-13T09:00"))
    # Confirmed Monday 16th: due Monday 23rd 18:00, in W48; done on the 24th.
    prompt = confirm(make_case("嘉兴华星电子有限公司", SubjectType.ENTERPRISE), people,
                     now=at("2026-11-16T10:00"))
    grid = officer("grid")
    task = DepartmentTask.objects.get(case=prompt)
    task_move(task_id=task.pk, move="complete", actor=grid, now=at("2026-11-24T09:00"),
              outcome="已断电并执行惩罚性电价", upload=io.BytesIO(png_bytes()),
              upload_name="断电通知.png")
    close, _ = weekly_close(IsoWeek(2026, 48), at("2026-11-27T18:00"))
    assert close.final
    assert close.figures["department_tasks"] == [
        {"code": "grid", "name": "国网嘉兴供电公司", "due": 1, "done": 1, "overdue": 1,
         "open": 1}]
    assert task_rows(close.figures) == [["国网嘉兴供电公司", 1, 1, 1, 1], ["合计", 1, 1, 1, 1]]
    esc = Escalation.objects.get(department__code="grid")
    assert (esc.kind, esc.county, esc.subject) == ("interview", None, "国网嘉兴供电公司主要负责人")
    assert esc.basis == (f"1 项部门任务逾期未办结：{late.reference} 断电、执行惩罚性电价、禁止参与"
                         "电力市场交易（应于 2026-11-20 18:00 前办结，已逾期 1 周）")
    assert [e["department"] for e in close.figures["escalations"]] == ["grid"]
    # Approved, it is announced in the bulletin, with the member units' table.
    from datetime import date as day

    from docx import Document

    from qingling.supervision.bulletin import build_docx, content_for
    from qingling.supervision.services import escalation_move

    escalation_move(esc, "approve", people.city, at("2026-11-28T09:00"))
    content = content_for(close, day(2026, 11, 30))
    assert content["interviews"] == [[1, "市级成员单位", "国网嘉兴供电公司主要负责人", esc.basis, "Approved"]]
    docx = Document(io.BytesIO(build_docx(content, "嘉挖专班〔2026〕1号")))
    text = "\n".join(p.text for p in docx.paragraphs)
    assert "六、成员单位任务及矿机生产企业整改情况" in text and "表6  成员单位任务办理情况" in text


def test_each_department_gets_one_digest_a_day_of_its_own_tasks(people: Personas,
                                                                task_routes: None) -> None:
    from qingling.tasks.digest import send_department_digests

    TaskRule.objects.exclude(kind__code__in=("grid_tariff", "tax_support")).delete()
    late = confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people,
                   now=at("2026-11-13T09:00"))  # grid due 11-20 18:00
    soon = confirm(make_case("嘉兴华星电子有限公司", SubjectType.ENTERPRISE), people,
                   now=at("2026-11-17T09:00"))  # grid due 11-24 18:00
    made = send_department_digests(at("2026-11-23T08:00").date(), at("2026-11-23T08:00"))
    by = {d.department.code: d for d in made}
    # Tax is due in December: nothing to tell it yet.
    assert sorted(by) == ["grid"]
    assert by["grid"].counts == {"overdue": 1, "due_soon": 1, "waiting": 0}
    assert by["grid"].body.splitlines() == [
        "国网嘉兴供电公司 部门任务每日提醒（2026-11-23）",
        "已逾期：1 项", f"  · {late.reference} 南湖区 断电、执行惩罚性电价、禁止参与电力市场交易 11-20 18:00",
        "两日内到期：1 项",
        f"  · {soon.reference} 南湖区 断电、执行惩罚性电价、禁止参与电力市场交易 11-24 18:00"]
    assert send_department_digests(at("2026-11-23T08:00").date(), at("2026-11-23T09:00")) == []


def test_a_case_the_city_flags_sensitive_gets_public_opinion_notes(
        people: Personas, task_routes: None) -> None:
    from qingling.tasks.services import sensitive_mark

    case = confirm(make_case("南湖区凤桥镇中学", SubjectType.SCHOOL, carrier="移动"), people)
    assert "propaganda" not in kinds(case)
    with pytest.raises(TaskError, match="Only the city"):
        sensitive_mark(case_id=case.pk, actor=people.county_a, reason="媒体关注")
    client_for(people.city).post(f"/tasks/case/{case.pk}/sensitive/", {"reason": "媒体关注"})
    notes = DepartmentTask.objects.filter(case=case, department__code__in=("propaganda", "cac"))
    assert sorted(notes.values_list("department__code", "mandatory")) == [
        ("cac", False), ("propaganda", False)]
    assert AuditEntry.objects.get(action="mark_sensitive").comment == "媒体关注"


def test_the_city_edits_a_kinds_due_period_and_new_tasks_follow_it(
        people: Personas, task_routes: None) -> None:
    from qingling.tasks.models import TaskKind

    grid = TaskKind.objects.get(code="grid_tariff")
    r = client_for(people.county_a).post("/tasks/kinds/", {"kind": grid.pk, "due_days": "3",
                                                           "mandatory": "1", "is_active": "1"})
    assert r.status_code == 403
    client_for(people.city).post("/tasks/kinds/", {"kind": grid.pk, "due_days": "3",
                                                   "mandatory": "1", "is_active": "1"})
    case = confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people)
    assert DepartmentTask.objects.get(case=case, kind=grid).due_at == at("2026-11-26T18:00")
    entry = AuditEntry.objects.get(action="task_kind_update")
    assert (entry.actor, entry.data["before"]["due_days"], entry.data["after"]["due_days"]) == (
        people.city, 7, 3)
    assert client_for(people.city).get("/tasks/kinds/").status_code == 200
