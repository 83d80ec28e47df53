from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from qingling.audit.models import AuditEntry
from qingling.cases.models import Case, State
from qingling.cases.services import WorkflowError, case_transition, evidence_add, visit_record
from qingling.common.weeks import SHANGHAI
from qingling.intake.services import import_list
from tests.conftest import WEEK, Personas, csv_bytes, row
from tests.test_uploads import png_bytes


@pytest.fixture
def case_a(people: Personas) -> Case:
    import_list(data=csv_bytes([row("60.12.1.1", "甲科技有限公司")]), file_name="k.csv",
                list_type="key", week=WEEK)
    return Case.objects.get()


def walk_to_rectifying(case: Case, p: Personas) -> None:
    a = p.county_a
    case_transition(case_id=case.pk, action="sign", actor=a)
    case_transition(case_id=case.pk, action="start_verification", actor=p.verifier_a)
    visit_record(case_id=case.pk, actor=p.verifier_a, visited_at=timezone.now(),
                 found_mining=True, machine_count=4, machines_seized=4, power_cut=True,
                 subject_name="李四", subject_id="330402199001011234")
    case_transition(case_id=case.pk, action="confirm", actor=p.verifier_a)
    case_transition(case_id=case.pk, action="start_rectification", actor=a)


def walk_to_clearance_requested(case: Case, p: Personas) -> None:
    walk_to_rectifying(case, p)
    evidence_add(case_id=case.pk, actor=p.county_a, stream=io.BytesIO(png_bytes()),
                 original_name="site.png")
    case_transition(case_id=case.pk, action="request_clearance", actor=p.county_a)


def test_the_whole_loop_leaves_an_audit_entry_for_every_move(people: Personas,
                                                              case_a: Case) -> None:
    walk_to_clearance_requested(case_a, people)
    case_transition(case_id=case_a.pk, action="send_back", actor=people.city,
                    comment="照片不清晰")
    case_transition(case_id=case_a.pk, action="request_clearance", actor=people.county_a)
    case = case_transition(case_id=case_a.pk, action="clear", actor=people.city)
    assert case.state == State.CLEARED and case.cleared_at is not None
    moves = list(AuditEntry.objects.filter(case=case_a).exclude(to_state="")
                 .values_list("action", "from_state", "to_state"))
    assert moves == [
        ("create", "", "dispatched"),
        ("sign", "dispatched", "signed"),
        ("start_verification", "signed", "verifying"),
        ("confirm", "verifying", "confirmed"),
        ("start_rectification", "confirmed", "rectifying"),
        ("request_clearance", "rectifying", "clearance_requested"),
        ("send_back", "clearance_requested", "rectifying"),
        ("request_clearance", "rectifying", "clearance_requested"),
        ("clear", "clearance_requested", "cleared"),
    ]
    send_back = AuditEntry.objects.get(case=case_a, action="send_back")
    assert send_back.actor == people.city and send_back.comment == "照片不清晰"
    case.refresh_from_db()
    assert case.subject_name == "李四" and case.id_number == "330402199001011234"


def test_an_impossible_move_is_refused_with_a_clear_message(people: Personas,
                                                           case_a: Case) -> None:
    with pytest.raises(WorkflowError, match="not possible while the case is"):
        case_transition(case_id=case_a.pk, action="clear", actor=people.city)
    with pytest.raises(WorkflowError, match="may not do"):
        case_transition(case_id=case_a.pk, action="sign", actor=people.city)
    assert Case.objects.get().state == State.DISPATCHED


def test_clearance_needs_evidence(people: Personas, case_a: Case) -> None:
    walk_to_rectifying(case_a, people)
    with pytest.raises(WorkflowError, match="evidence"):
        case_transition(case_id=case_a.pk, action="request_clearance", actor=people.county_a)


def test_confirming_needs_a_visit_and_sending_back_needs_a_reason(people: Personas,
                                                                 case_a: Case) -> None:
    case_transition(case_id=case_a.pk, action="sign", actor=people.county_a)
    case_transition(case_id=case_a.pk, action="start_verification", actor=people.county_a)
    with pytest.raises(WorkflowError, match="Record the on-site visit"):
        case_transition(case_id=case_a.pk, action="confirm", actor=people.county_a)
    with pytest.raises(WorkflowError, match="needs a reason"):
        case_transition(case_id=case_a.pk, action="exclude", actor=people.county_a)


def test_an_exclusion_needs_a_visit_without_mining_and_evidence(people: Personas,
                                                               case_a: Case) -> None:
    a = people.county_a
    case_transition(case_id=case_a.pk, action="sign", actor=a)
    case_transition(case_id=case_a.pk, action="start_verification", actor=a)
    visit_record(case_id=case_a.pk, actor=a, visited_at=timezone.now(), found_mining=False)
    evidence_add(case_id=case_a.pk, actor=a, stream=io.BytesIO(png_bytes()), original_name="x")
    case = case_transition(case_id=case_a.pk, action="exclude", actor=a, comment="共享出口")
    assert case.state == State.EXCLUDED and case.closed_reason == "共享出口"


def test_county_b_cannot_move_county_a_cases(people: Personas, case_a: Case) -> None:
    with pytest.raises(WorkflowError, match="No such case in your area"):
        case_transition(case_id=case_a.pk, action="sign", actor=people.county_b)
    with pytest.raises(WorkflowError, match="No such case in your area"):
        visit_record(case_id=case_a.pk, actor=people.county_b, visited_at=timezone.now(),
                     found_mining=True)
    assert AuditEntry.objects.filter(case=case_a).count() == 1  # only its creation


def test_a_leader_reads_but_never_acts(people: Personas, case_a: Case) -> None:
    with pytest.raises(WorkflowError, match="may not do"):
        case_transition(case_id=case_a.pk, action="sign", actor=people.leader)


def test_overdue_is_computed_from_the_cutoff(people: Personas, case_a: Case) -> None:
    assert case_a.due_at == datetime(2026, 11, 20, 18, 0, tzinfo=SHANGHAI)
    assert case_a.is_overdue(datetime(2026, 11, 20, 18, 1, tzinfo=SHANGHAI))
    assert not case_a.is_overdue(datetime(2026, 11, 20, 17, 59, tzinfo=SHANGHAI))


def test_a_key_case_cleared_before_the_cutoff_is_on_time(people: Personas,
                                                         case_a: Case) -> None:
    walk_to_clearance_requested(case_a, people)
    assert case_a.due_at is not None
    case = case_transition(case_id=case_a.pk, action="clear", actor=people.city,
                           now=case_a.due_at - timedelta(hours=1))
    assert case.cleared_on_time() is True and not case.is_overdue()


def test_the_city_dispatches_a_case_whose_county_was_unknown(people: Personas) -> None:
    import_list(data=csv_bytes([row("60.12.9.9", "某公司", county="")]), file_name="s.csv",
                list_type="stock", week=WEEK)
    case = Case.objects.get()
    assert case.state == State.PENDING
    with pytest.raises(WorkflowError, match="Choose the county"):
        case_transition(case_id=case.pk, action="dispatch", actor=people.city)
    from qingling.geo.models import Division

    b = Division.objects.get(code="330411")
    case = case_transition(case_id=case.pk, action="dispatch", actor=people.city,
                           county_id=b.pk)
    assert case.state == State.DISPATCHED and case.county == b
