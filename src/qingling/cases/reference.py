from __future__ import annotations

import csv
from pathlib import Path

from django.db import transaction

from qingling.cases.models import ClassificationRule

DATA_DIR = Path(__file__).resolve().parent / "data"


@transaction.atomic
def rules_load(path: Path = DATA_DIR / "classification_rules.csv") -> int:
    """Create the suggested rules that are missing (by name); edited rules are kept."""
    made = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            rule = ClassificationRule(
                priority=int(row["priority"]),
                name=row["name"],
                field=row["field"],
                operator=row["operator"],
                value=row["value"],
                set_subject_type=row["set_subject_type"],
                set_behaviour=row["set_behaviour"],
                set_grade=row["set_grade"],
            )
            if ClassificationRule.objects.filter(name=rule.name).exists():
                continue
            rule.full_clean()
            rule.save()
            made += 1
    return made
