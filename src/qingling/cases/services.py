"""Writes to cases: each user-visible write is one function, one transaction, audited."""

from __future__ import annotations

import re
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


def allowed_transitions(case: Case, profile: Profile | None, *,
                        desk: bool = False) -> list[Transition]:
    """The moves this profile may make on the case now; the triage desk's own moves only
    when ``desk`` (they need what only that page asks for)."""
    if profile is None:
        return []
    return [t for t in TRANSITIONS.values() if case.state in t.sources
            and profile.role in t.roles and (desk or not t.desk_only)]


ASSIGNABLE_STATES = (State.DISPATCHED, State.SIGNED, State.VERIFYING, State.CONFIRMED,
                     State.RECTIFYING)


def assignable_users(actor: Any) -> Any:
    """Whom this user may name for a case's on-site work: the verifiers of their county."""
    from django.contrib.auth import get_user_model

    profile = profile_of(actor)
    users = get_user_model().objects.filter(is_active=True)
    if profile is None or profile.role not in (Role.COUNTY, Role.CITY):
        return users.none()
    qs = users.filter(profile__role=Role.VERIFIER)
    if profile.role == Role.COUNTY:
        qs = qs.filter(profile__county_id=profile.county_id)
    return qs.select_related("profile__county").order_by("username")


def assign_check(case: Case, profile: Profile | None, assignee: Any) -> str | None:
    """Why this case cannot be assigned to ``assignee`` now (None: it can)."""
    if profile is None or profile.role not in (Role.COUNTY, Role.CITY):
        return _("Only county officers assign cases to verifiers.")
    if case.state not in ASSIGNABLE_STATES:
        return _("A case that is “%(state)s” takes no assignment.") % {
            "state": case.get_state_display()}
    if assignee is None:
        return _("Choose the verifier.")
    vp = getattr(assignee, "profile", None)
    if vp is None or vp.role != Role.VERIFIER or vp.county_id != case.county_id:
        return _("The verifier works in another county.")
    if case.assignee_id == assignee.pk:
        return _("Already assigned to %(name)s.") % {"name": assignee.get_username()}
    return None


def case_assign(*, case_id: int, actor: Any, assignee_id: int,
                now: datetime | None = None) -> Case:
    """Name the verifier for a case's on-site work (audited); the case joins their inbox."""
    from django.contrib.auth import get_user_model

    now = now or timezone.now()
    with transaction.atomic():
        case, profile = _case_for(actor, case_id)
        assignee = get_user_model().objects.filter(pk=assignee_id, is_active=True).select_related(
            "profile").first()
        if (why := assign_check(case, profile, assignee)) is not None:
            raise WorkflowError(why)
        assert assignee is not None
        before = case.assignee_id
        changed = Case.objects.filter(pk=case.pk, assignee_id=before).update(
            assignee_id=assignee.pk, updated_at=now)
        if changed != 1:
            raise WorkflowError(_("The case was changed by someone else; reload and try again."))
        audit_record(actor=actor, action="assign", obj=case, case=case, at=now,
                     comment=assignee.get_username(),
                     data={"assignee": assignee.pk, "previous": before})
        case.refresh_from_db()
    return case


def transition_refusal(case: Case, profile: Profile | None, t: Transition, *,
                       comment: str = "", county_id: int | None = None) -> str | None:
    """Why ``t`` cannot be made on this case now (None: it can). One rule for a single
    move and for a bulk preview."""
    if profile is None:
        return _("You have no role in Qingling.")
    if profile.role not in t.roles:
        return (_("Your role (%(role)s) may not do “%(action)s”.")
                % {"role": profile.get_role_display(), "action": t.label})
    if case.state not in t.sources:
        return (_("“%(action)s” is not possible while the case is “%(state)s”.")
                % {"action": t.label, "state": case.get_state_display()})
    if t.needs_comment and not comment.strip():
        return _("“%(action)s” needs a reason.") % {"action": t.label}
    if t.needs_evidence and not case.evidence.exists():
        return (_("“%(action)s” needs at least one evidence file (photo or document).")
                % {"action": t.label})
    if t.needs_visit:
        found = t.name == "confirm"
        if not case.visits.filter(found_mining=found).exists():
            return (_("Record the on-site visit first (mining found: %(found)s).")
                    % {"found": _("yes") if found else _("no")})
    if t.needs_county:
        known = county_id is not None and Division.objects.filter(
            pk=county_id, level=Division.Level.COUNTY).exists()
        if not known and case.county_id is None:
            return _("Choose the county to dispatch to.")
    if t.target == State.CLEARED and (blockers := clearance_blockers(case)):
        return (_("“%(action)s” is not possible yet: %(reasons)s")
                % {"action": t.label, "reasons": "；".join(blockers)})
    return None


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
        comment = comment.strip()
        if (why := transition_refusal(case, profile, t, comment=comment,
                                      county_id=county_id)) is not None:
            raise WorkflowError(why)
        updates: dict[str, Any] = {"state": t.target, "updated_at": now}
        if t.needs_county:
            county = (
                Division.objects.filter(pk=county_id, level=Division.Level.COUNTY).first()
                if county_id is not None
                else None
            )
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
        # 已退回 lasts until the county's next move.
        updates["sent_back_at"] = now if action in ("send_back", "reopen_excluded") else None
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


def case_by_reference(actor: Any, text: str) -> Case | None:
    """The case a user means by "QL0000123" (or its number), in their scope."""
    m = re.fullmatch(r"\s*(?:QL)?0*(\d{1,12})\s*", text.upper())
    if not m:
        return None
    return visible_cases(actor).filter(pk=int(m.group(1))).first()


def lead_merge(*, case_id: int, into: Case, actor: Any, reason: str,
               now: datetime | None = None) -> Case:
    """合并到已有案件: a monitoring lead is the same subject as an existing case. The case
    takes the lead's keys and addresses (later signals find it, not the lead) and the lead
    closes, naming the case it joined; both timelines say so."""
    now = now or timezone.now()
    reason = reason.strip()
    with transaction.atomic():
        lead, _profile = _case_for(actor, case_id)
        if (why := merge_refusal(lead, into)) is not None:
            raise WorkflowError(why)
        keys = list(lead.keys.values_list("key", flat=True))
        keys_record((into.pk, k) for k in keys)
        lead.keys.all().delete()
        into.ips.add(*lead.ips.all())
        # The lead's evidence (monitoring signals, through the reverse relation: cases sit
        # below screening) now speaks for the case.
        signals = getattr(lead, "signals", None)
        if signals is not None:
            signals.update(case=into)
        comment = _("Merged into %(case)s: %(reason)s") % {"case": into.reference,
                                                           "reason": reason}
        case_transition(case_id=lead.pk, action="merge_lead", actor=actor, comment=comment,
                        now=now)
        Case.objects.filter(pk=into.pk).update(found_by_monitoring=True, updated_at=now)
        audit_record(actor=actor, action="merged_into", obj=into, case=into, at=now,
                     comment=reason, data={"lead": lead.pk, "keys": len(keys)})
        lead.refresh_from_db()
    return lead


def merge_refusal(lead: Case, into: Case | None) -> str | None:
    if into is None:
        return _("No such case in your area.")
    if into.pk == lead.pk:
        return _("A lead cannot be merged into itself.")
    if into.state == State.EXCLUDED:
        return _("%(case)s is excluded: merge into an open case.") % {"case": into.reference}
    if into.state == State.CLEARED:
        # Mining again at a cleared site is a rebound, with its own due date and count.
        return _("%(case)s is cleared: reopen it as a rebound first, then merge.") % {
            "case": into.reference}
    return None
