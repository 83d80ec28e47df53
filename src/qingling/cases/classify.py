"""分类分级: subject type, behaviour and grade from configurable rules.

Each attribute takes the value of the first active rule (by priority) that matches and
sets it; the names of the rules that decided are kept on the case, so an officer sees why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _

from qingling.cases.hooks import facts_changed
from qingling.cases.models import Behaviour, Case, ClassificationRule, Grade
from qingling.org.models import RoutingRule, SubjectType

ATTRIBUTES = ("subject_type", "behaviour", "grade")

# The facts a rule can test (what ``case_context`` and intake give the classifier), with
# what the city calls them.
FIELDS: dict[str, Any] = {
    "type": _("type column"), "unit_name": _("unit name"), "address": _("address"),
    "carrier": _("carrier"), "uscc": _("credit code"), "machines": _("machines found"),
    "kw": _("power found (kW)"), "special": _("special address"), "list_type": _("list"),
    "subject_type": _("subject type"), "behaviour": _("behaviour"),
}


@dataclass
class Classification:
    subject_type: str = SubjectType.UNKNOWN
    behaviour: str = Behaviour.UNDETERMINED
    grade: str = Grade.L3
    matched: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CompiledRule:
    name: str
    field: str
    operator: str
    value: str
    pattern: re.Pattern[str] | None
    sets: dict[str, str]

    def matches(self, context: Mapping[str, str]) -> bool:
        if self.operator == ClassificationRule.Operator.ALWAYS:
            return True
        text = context.get(self.field, "")
        if self.operator == ClassificationRule.Operator.REGEX:
            return bool(text) and self.pattern is not None and bool(self.pattern.search(text))
        if self.operator == ClassificationRule.Operator.IN:
            return text in self.value.split("|")
        if self.operator == ClassificationRule.Operator.GTE:
            try:
                return float(text) >= float(self.value)
            except ValueError:
                return False
        return False


class Classifier:
    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules

    @classmethod
    def load(cls) -> Classifier:
        compiled = []
        for r in ClassificationRule.objects.filter(is_active=True).order_by("priority", "id"):
            sets = {
                a: v
                for a, v in (
                    ("subject_type", r.set_subject_type),
                    ("behaviour", r.set_behaviour),
                    ("grade", r.set_grade),
                )
                if v
            }
            pattern = re.compile(r.value) if r.operator == r.Operator.REGEX else None
            compiled.append(CompiledRule(r.name, r.field, r.operator, r.value, pattern, sets))
        return cls(compiled)

    def classify(self, context: Mapping[str, str],
                 fixed: Mapping[str, str] | None = None) -> Classification:
        """``fixed`` attributes are decided already (a finding, or the city's correction):
        rules do not set them, but later rules read them (grade by subject type)."""
        ctx = dict(context)
        result = Classification()
        decided: set[str] = set()
        for a, v in (fixed or {}).items():
            setattr(result, a, v)
            ctx[a] = v
            decided.add(a)
        for rule in self.rules:
            pending = {a: v for a, v in rule.sets.items() if a not in decided}
            if not pending or not rule.matches(ctx):
                continue
            for a, v in pending.items():
                setattr(result, a, v)
                decided.add(a)
                # Later rules may test what earlier ones decided (grade by subject type).
                ctx[a] = v
            result.matched.append(rule.name)
        return result


# --- classification that follows the facts --------------------------------------------------

def case_context(case: Case) -> dict[str, str]:
    """A case's facts as the rules read them: what the lists said, then what visits found."""
    from django.db.models import Max

    visits = case.visits.filter(found_mining=True).aggregate(m=Max("machine_count"),
                                                              kw=Max("power_kw"))
    list_type = next((t for t, on in (("key", case.on_key_list), ("stock", case.on_stock_list),
                                      ("full", case.on_full_list), ("new", case.on_new_list))
                      if on), "monitoring" if case.found_by_monitoring else "")
    return {
        "unit_name": case.subject_name, "address": case.address, "type": case.listed_type,
        "carrier": case.carrier, "uscc": case.uscc,
        "machines": str(visits["m"] or ""), "kw": str(visits["kw"] or ""),
        "special": "", "list_type": list_type,
    }


@dataclass(frozen=True)
class Route:
    lead_id: int | None
    co_ids: frozenset[int]


class Router:
    """Routing rules: the subject type's rule gives the lead and co-responsible departments;
    a behaviour's rule adds its departments (被控 → public security); a rule naming both
    decides the lead for that pair."""

    def __init__(self, rules: list[RoutingRule]) -> None:
        self.rules = {(r.subject_type, r.behaviour): r for r in rules}

    @classmethod
    def load(cls) -> Router:
        return cls(list(RoutingRule.objects.prefetch_related("co_departments")))

    def route(self, subject_type: str, behaviour: str) -> Route:
        by_type = self.rules.get((subject_type, ""))
        by_behaviour = self.rules.get(("", behaviour)) if behaviour else None
        both = self.rules.get((subject_type, behaviour)) if behaviour else None
        lead = next((r.lead_id for r in (both, by_type, by_behaviour)
                     if r is not None and r.lead_id), None)
        co: set[int] = set()
        for r in (by_type, by_behaviour, both):
            if r is not None:
                co.update(d.pk for d in r.co_departments.all())
        if lead is not None:
            co.discard(lead)
        return Route(lead, frozenset(co))


OVERRIDABLE = ("subject_type", "behaviour", "grade", "lead_department")


def case_reclassify(case: Case, *, cause: str, actor: Any, now: datetime,
                    classifier: Classifier | None = None, router: Router | None = None,
                    cause_data: dict[str, Any] | None = None) -> bool:
    """Recompute subject type, behaviour, grade and routing from the case's facts, keeping
    what the city corrected by hand and the behaviour a verifier recorded; audited with the
    rules that decided. Returns whether anything changed."""
    from qingling.audit.services import audit_record

    visit_behaviour = (case.visits.exclude(behaviour="").order_by("-visited_at", "-id")
                       .values_list("behaviour", flat=True).first())
    fixed = set(case.overrides or [])
    known = {a: getattr(case, a) for a in ("subject_type", "behaviour", "grade") if a in fixed}
    if visit_behaviour and "behaviour" not in fixed:
        known["behaviour"] = visit_behaviour
    cls = (classifier or Classifier.load()).classify(case_context(case), known)
    new = {
        "subject_type": case.subject_type if "subject_type" in fixed else cls.subject_type,
        "behaviour": (case.behaviour if "behaviour" in fixed
                      else visit_behaviour or (case.behaviour if case.behaviour
                                               == Behaviour.FALSE_POSITIVE else cls.behaviour)),
        "grade": case.grade if "grade" in fixed else cls.grade,
    }
    if new["subject_type"] == SubjectType.UNKNOWN and case.subject_type != SubjectType.UNKNOWN:
        new["subject_type"] = case.subject_type  # rules that know less never undo a finding
    if new["grade"] > case.grade:
        new["grade"] = case.grade  # L1 < L3: facts only accumulate; lowering is the city's call
    route = (router or Router.load()).route(new["subject_type"], new["behaviour"])
    lead = case.lead_department_id if "lead_department" in fixed else route.lead_id
    changes: dict[str, Any] = {k: v for k, v in new.items() if getattr(case, k) != v}
    if lead != case.lead_department_id:
        changes["lead_department_id"] = lead
    old_co = set(case.co_departments.values_list("pk", flat=True))
    co_changed = "lead_department" not in fixed and old_co != set(route.co_ids)
    if not changes and not co_changed:
        return False
    before = {k: getattr(case, k) for k in changes}
    for k, v in changes.items():
        setattr(case, k, v)
    case.classification = cls.matched
    case.updated_at = now
    case.save(update_fields=[*changes, "classification", "updated_at"])
    if co_changed:
        case.co_departments.set(sorted(route.co_ids))
    audit_record(actor=actor, action="reclassify", obj=case, case=case, at=now, comment=cause,
                 data={"before": {k: str(v) for k, v in before.items()},
                       "after": {k: str(v) for k, v in changes.items()},
                       "co_departments": sorted(route.co_ids), "rules": cls.matched,
                       **(cause_data or {})})
    facts_changed(case, actor, now)
    return True
