"""Writes to cases: each user-visible write is one function, one transaction, audited."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, BinaryIO

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qingling.audit.services import audit_record
from qingling.cases.classify import case_reclassify
from qingling.cases.hooks import clearance_blockers, facts_changed
from qingling.cases.identity import case_keys, evidence_seen, keys_record, reopen_due
from qingling.cases.models import Behaviour, Case, Evidence, Grade, SiteVisit, State
from qingling.cases.scope import visible_cases
from qingling.cases.uploads import store_upload
from qingling.cases.workflow import TRANSITIONS, Transition
from qingling.common.weeks import SHANGHAI
from qingling.geo.models import Division
from qingling.org.models import Department, Profile, Role, SubjectType
from qingling.org.scope import can_see_personal, profile_of


class WorkflowError(ValueError):
    """A refused action, with a message fit to show the user."""


def _case_for(actor: Any, case_id: int, *, write: bool = True) -> tuple[Case, Profile]:
    profile = profile_of(actor)
    if profile is None:
        raise WorkflowError(_("You have no role in Qingling."))
    qs = visible_cases(actor)
    if write:
        qs = qs.select_for_update()
    case = qs.filter(pk=case_id).first()
    if case is None:
        raise WorkflowError(_("No such case in your area."))
    return case, profile


def allowed_transitions(case: Case, profile: Profile | None) -> list[Transition]:
    if profile is None:
        return []
    return [t for t in TRANSITIONS.values() if case.state in t.sources and profile.role in t.roles]


def case_transition(
    *,
    case_id: int,
    action: str,
    actor: Any,
    comment: str = "",
    county_id: int | None = None,
    now: datetime | None = None,
) -> Case:
    now = now or timezone.now()
    t = TRANSITIONS.get(action)
    if t is None:
        raise WorkflowError(_("Unknown action: %(a)s") % {"a": action})
    with transaction.atomic():
        case, profile = _case_for(actor, case_id)
        if profile.role not in t.roles:
            raise WorkflowError(
                _("Your role (%(role)s) may not do “%(action)s”.")
                % {"role": profile.get_role_display(), "action": t.label}
            )
        if case.state not in t.sources:
            raise WorkflowError(
                _("“%(action)s” is not possible while the case is “%(state)s”.")
                % {"action": t.label, "state": case.get_state_display()}
            )
        comment = comment.strip()
        if t.needs_comment and not comment:
            raise WorkflowError(_("“%(action)s” needs a reason.") % {"action": t.label})
        if t.needs_evidence and not case.evidence.exists():
            raise WorkflowError(
                _("“%(action)s” needs at least one evidence file (photo or document).")
                % {"action": t.label}
            )
        if t.needs_visit:
            found = action == "confirm"
            if not case.visits.filter(found_mining=found).exists():
                raise WorkflowError(
                    _("Record the on-site visit first (mining found: %(found)s).")
                    % {"found": _("yes") if found else _("no")}
                )
        if t.target == State.CLEARED and (blockers := clearance_blockers(case)):
            raise WorkflowError(
                _("“%(action)s” is not possible yet: %(reasons)s")
                % {"action": t.label, "reasons": "；".join(blockers)}
            )
        updates: dict[str, Any] = {"state": t.target, "updated_at": now}
        if t.needs_county:
            county = (
                Division.objects.filter(pk=county_id, level=Division.Level.COUNTY).first()
                if county_id is not None
                else None
            )
            if county is None and case.county_id is None:
                raise WorkflowError(_("Choose the county to dispatch to."))
            if county is not None:
                updates["county"] = county
        if t.target == State.CLEARED:
            updates["cleared_at"] = now
        if action == "reopen":
            # 反弹 by the city's hand follows the same rule as a list or a signal: a key-list
            # item is due at the current cut-off, not at its old, long-passed one.
            updates["cleared_at"] = None
            updates["rebound_count"] = case.rebound_count + 1
            updates["due_at"] = reopen_due(case, now)
        if t.target == State.EXCLUDED:
            updates["closed_reason"] = comment
        # Compare-and-set: the move happens only from the state we checked.
        changed = Case.objects.filter(pk=case.pk, state=case.state).update(**updates)
        if changed != 1:
            raise WorkflowError(_("The case was changed by someone else; reload and try again."))
        audit_record(
            actor=actor,
            action=action,
            obj=case,
            case=case,
            from_state=case.state,
            to_state=t.target,
            comment=comment,
            at=now,
        )
        case.refresh_from_db()
        if t.target == State.CONFIRMED:
            # Mining confirmed: the member units now have work on it (department tasks).
            facts_changed(case, actor, now)
    return case


def visit_record(
    *,
    case_id: int,
    actor: Any,
    visited_at: datetime,
    found_mining: bool,
    subject_name: str = "",
    subject_id: str = "",
    phone: str = "",
    address: str = "",
    behaviour: str = "",
    machine_count: int = 0,
    machine_model: str = "",
    power_kw: Decimal | None = None,
    machines_seized: int = 0,
    power_cut: bool = False,
    notes: str = "",
) -> SiteVisit:
    now = timezone.now()
    with transaction.atomic():
        case, profile = _case_for(actor, case_id)
        if profile.role not in (Role.COUNTY, Role.VERIFIER, Role.DEPARTMENT):
            raise WorkflowError(_("Only county officers and verifiers record site visits."))
        if case.state in (State.CLEARED, State.EXCLUDED, State.PENDING, State.DISPATCHED):
            raise WorkflowError(
                _("Sign for the case before recording a visit; a closed case takes no visits.")
            )
        if machines_seized > machine_count:
            raise WorkflowError(_("More machines seized than found."))
        if behaviour and behaviour not in Behaviour.values:
            raise WorkflowError(_("Unknown behaviour."))
        visit = SiteVisit(
            case=case,
            visited_at=visited_at,
            verifier=actor,
            found_mining=found_mining,
            behaviour=behaviour,
            subject_name=subject_name,
            subject_id=subject_id.upper(),
            phone=phone,
            address=address,
            machine_count=machine_count,
            machine_model=machine_model,
            power_kw=power_kw,
            machines_seized=machines_seized,
            power_cut=power_cut,
            notes=notes,
        )
        visit.full_clean()
        visit.save()
        # What the verifier saw is better than what the list said.
        fields = ["updated_at"]
        case.updated_at = now
        for attr, value in (("subject_name", subject_name), ("address", address),
                            ("phone", phone)):
            if value:
                setattr(case, attr, value)
                fields.append(attr)
        if subject_id:
            target = "uscc" if len(subject_id) == 18 and not subject_id[:6].isdigit() else (
                "id_number"
            )
            setattr(case, target, subject_id.upper())
            fields.append(target)
        case.save(update_fields=fields)
        audit_record(
            actor=actor,
            action="visit",
            obj=visit,
            case=case,
            data={
                "found_mining": found_mining,
                "machine_count": machine_count,
                "machines_seized": machines_seized,
                "power_cut": power_cut,
                "power_kw": str(power_kw) if power_kw is not None else None,
                "behaviour": behaviour,
            },
        )
        if found_mining:
            evidence_seen([case.pk], visited_at)
        keys_record((case.pk, k) for k in case_keys(case))
        # What the visit found may change the grade and who must act (a school, ten
        # machines, a hijacked host).
        case_reclassify(case, cause=_("Site visit of %(day)s") % {
            "day": visited_at.astimezone(SHANGHAI).strftime("%Y-%m-%d")}, actor=actor, now=now)
    return visit


def personal_reveal(*, case_id: int, actor: Any, reason: str,
                    now: datetime | None = None) -> Case:
    """Show a case's personal data in clear to someone who needs it: a reason is required
    and the reveal is audited (who, when, why), as on the subscriber page."""
    reason = reason.strip()
    if not reason:
        raise WorkflowError(_("Give the reason for showing the personal data."))
    case, profile = _case_for(actor, case_id, write=False)
    if not can_see_personal(profile):
        raise WorkflowError(_("Your role does not show personal data."))
    audit_record(actor=actor, action="reveal_personal", obj=case, case=case, comment=reason,
                 at=now or timezone.now())
    return case


CORRECTABLE = {"subject_type": SubjectType, "behaviour": Behaviour, "grade": Grade}


def case_correct(*, case_id: int, actor: Any, reason: str, subject_type: str = "",
                 behaviour: str = "", grade: str = "", lead_department_id: int | None = None,
                 now: datetime | None = None) -> Case:
    """The city corrects a case's classification by hand (reason required, audited); the
    corrected attributes are kept from then on, and routing follows the new facts."""
    now = now or timezone.now()
    reason = reason.strip()
    if not reason:
        raise WorkflowError(_("Give the reason for the correction."))
    with transaction.atomic():
        case, profile = _case_for(actor, case_id)
        if profile.role != Role.CITY:
            raise WorkflowError(_("Only the city coordinator corrects a classification."))
        wanted: dict[str, Any] = {}
        for attr, value in (("subject_type", subject_type), ("behaviour", behaviour),
                            ("grade", grade)):
            if value:
                if value not in CORRECTABLE[attr].values:
                    raise WorkflowError(_("Unknown value: %(v)s") % {"v": value})
                if value != getattr(case, attr):
                    wanted[attr] = value
        if lead_department_id is not None and lead_department_id != case.lead_department_id:
            if not Department.objects.filter(pk=lead_department_id).exists():
                raise WorkflowError(_("Unknown department."))
            wanted["lead_department_id"] = lead_department_id
        if not wanted:
            raise WorkflowError(_("Nothing to change."))
        before = {k: str(getattr(case, k)) for k in wanted}
        fixed = set(case.overrides or []) | {k.removesuffix("_id") for k in wanted}
        for k, v in wanted.items():
            setattr(case, k, v)
        case.overrides = sorted(fixed)
        case.updated_at = now
        case.save(update_fields=[*wanted, "overrides", "updated_at"])
        audit_record(actor=actor, action="correct", obj=case, case=case, at=now, comment=reason,
                     data={"before": before, "after": {k: str(v) for k, v in wanted.items()}})
        case_reclassify(case, cause=reason, actor=actor, now=now)
        case.refresh_from_db()
    return case


def evidence_add(
    *,
    case_id: int,
    actor: Any,
    stream: BinaryIO,
    original_name: str,
    caption: str = "",
    visit_id: int | None = None,
) -> Evidence:
    with transaction.atomic():
        case, profile = _case_for(actor, case_id)
        if profile.role not in (Role.COUNTY, Role.VERIFIER, Role.DEPARTMENT, Role.CITY):
            raise WorkflowError(_("Your role may not add evidence."))
        if case.state in (State.CLEARED, State.EXCLUDED):
            raise WorkflowError(_("The case is closed; reopen it to add evidence."))
        visit = case.visits.filter(pk=visit_id).first() if visit_id else None
        stored = store_upload(stream)
        ev = Evidence.objects.create(
            case=case,
            visit=visit,
            kind=stored.kind,
            content_type=stored.content_type,
            original_name=original_name[:200],
            sha256=stored.sha256,
            size=stored.size,
            storage_path=stored.storage_path,
            caption=caption,
            uploaded_by=actor,
        )
        audit_record(
            actor=actor,
            action="evidence",
            obj=ev,
            case=case,
            data={"sha256": stored.sha256, "name": original_name, "type": stored.content_type},
        )
    return ev
