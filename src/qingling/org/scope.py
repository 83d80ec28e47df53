"""Who sees what. Every view, download and export asks here; nothing filters on its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q

from qingling.org.models import Profile, Role

AnyUser = AbstractBaseUser | AnonymousUser


def profile_of(user: Any) -> Profile | None:
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    try:
        profile: Profile = user.profile
    except Profile.DoesNotExist:
        return None
    return profile


# A department also sees the cases it was given work on by a higher floor (its department
# tasks): that floor adds the filter here from its app's ready(), so this module needs no
# import of it.
DepartmentScope = Callable[[Profile], Q]
_department_scopes: list[DepartmentScope] = []


def department_scope_extend(extra: DepartmentScope) -> DepartmentScope:
    if extra not in _department_scopes:
        _department_scopes.append(extra)
    return extra


def case_scope(profile: Profile | None) -> Q | None:
    """The cases a profile may see, as a filter; None means none at all."""
    if profile is None:
        return None
    if profile.role == Role.CITY:
        return Q()
    if profile.role == Role.LEADER:
        return Q(county=profile.county) if profile.county_id else Q()
    if profile.role in (Role.COUNTY, Role.VERIFIER):
        return Q(county=profile.county)
    if profile.role == Role.DEPARTMENT:
        q = Q(lead_department=profile.department) | Q(co_departments=profile.department)
        for extra in _department_scopes:
            q |= extra(profile)
        if profile.county_id:
            q &= Q(county=profile.county)
        return q
    return None


def can_see_personal(profile: Profile | None) -> bool:
    """May reveal names, ID numbers, phones and addresses — with a reason, audited — for
    the cases they act on. Nobody sees them in clear by default."""
    return profile is not None and profile.role in (
        Role.CITY,
        Role.COUNTY,
        Role.VERIFIER,
        Role.DEPARTMENT,
    )


def can_search_personal(profile: Profile | None) -> bool:
    """May look cases up by a person's name, ID number or phone (each search audited).
    Leaders and departments search by IP, credit code, reference and unit name only."""
    return profile is not None and profile.role in (Role.CITY, Role.COUNTY, Role.VERIFIER)


def is_city(profile: Profile | None) -> bool:
    return profile is not None and profile.role == Role.CITY


def mask_name(name: str) -> str:
    if not name:
        return ""
    if len(name) <= 1:
        return "*"
    if len(name) <= 4:
        return name[0] + "*" * (len(name) - 1)
    return name[:2] + "*" * (len(name) - 4) + name[-2:]


def mask_id(value: str) -> str:
    if len(value) <= 8:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """138****5678: the network prefix and the last four digits, as Chinese forms show it."""
    digits = value.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_address(value: str) -> str:
    # Keep the part that places it (county, township) and hide the door.
    for marker in ("镇", "街道", "乡", "区", "县", "市"):
        i = value.find(marker)
        if i >= 0 and i + len(marker) < len(value):
            cut = i + len(marker)
            return value[:cut] + "****"
    return mask_name(value)
