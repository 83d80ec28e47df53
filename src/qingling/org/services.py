"""Departments, the routing table and user roles."""

from __future__ import annotations

import csv
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction

from qingling.geo.models import Division
from qingling.org.models import Department, Profile, RoutingRule

DATA_DIR = Path(__file__).resolve().parent / "data"


@transaction.atomic
def departments_load(directory: Path = DATA_DIR) -> dict[str, int]:
    """Create missing departments and routes; never overwrite what an admin has edited."""
    created = {"departments": 0, "routes": 0}
    with (directory / "departments.csv").open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            _, made = Department.objects.get_or_create(
                code=row["code"], defaults={"name": row["name"], "remit": row["remit"]}
            )
            created["departments"] += made
    with (directory / "routing.csv").open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            behaviour = row.get("behaviour", "")
            if RoutingRule.objects.filter(subject_type=row["subject_type"],
                                          behaviour=behaviour).exists():
                continue
            rule = RoutingRule.objects.create(
                subject_type=row["subject_type"],
                behaviour=behaviour,
                lead=Department.objects.get(code=row["lead"]) if row["lead"] else None,
                note=row["note"],
            )
            codes = [c for c in row["co_departments"].split("|") if c]
            rule.co_departments.set(Department.objects.filter(code__in=codes))
            created["routes"] += 1
    return created


@transaction.atomic
def user_provision(
    *,
    username: str,
    password: str,
    role: str,
    county_code: str | None = None,
    department_code: str | None = None,
    display_name: str = "",
) -> AbstractUser:
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username)
    user.set_password(password)
    user.first_name = display_name[:150]
    user.save()
    county = Division.objects.get(code=county_code) if county_code else None
    department = Department.objects.get(code=department_code) if department_code else None
    profile, _ = Profile.objects.get_or_create(user=user, defaults={"role": role})
    profile.role = role
    profile.county = county
    profile.department = department
    profile.full_clean()
    profile.save()
    return user
