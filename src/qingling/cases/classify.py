"""分类分级: subject type, behaviour and grade from configurable rules.

Each attribute takes the value of the first active rule (by priority) that matches and
sets it; the names of the rules that decided are kept on the case, so an officer sees why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from qingling.cases.models import Behaviour, ClassificationRule, Grade
from qingling.org.models import SubjectType

ATTRIBUTES = ("subject_type", "behaviour", "grade")


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

    def classify(self, context: Mapping[str, str]) -> Classification:
        ctx = dict(context)
        result = Classification()
        decided: set[str] = set()
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
