"""What of the weekly figures a user may see: the city and leaders see every county; a
county officer sees their own county (and no other county's items)."""

from __future__ import annotations

import copy
from typing import Any

from qingling.org.models import Profile, Role
from qingling.org.scope import profile_of

READERS = (Role.CITY, Role.LEADER, Role.COUNTY)


def may_read(profile: Profile | None) -> bool:
    return profile is not None and profile.role in READERS


def county_code(profile: Profile) -> str | None:
    """The one county a profile is limited to, or None for the whole city."""
    if profile.role == Role.CITY:
        return None
    if profile.county is not None:
        return str(profile.county.code)
    return None


def scoped(figures: dict[str, Any], user: Any) -> dict[str, Any]:
    """The figures cut to the user's county (the city row then stands for that county)."""
    profile = profile_of(user)
    if profile is None or not may_read(profile):
        raise PermissionError("no access to the weekly figures")
    code = county_code(profile)
    if code is None:
        return figures
    out = copy.deepcopy(figures)
    out["counties"] = [r for r in figures["counties"] if r["code"] == code]
    out["overdue_items"] = [i for i in figures["overdue_items"] if i["county"] == code]
    out["sites"] = [s for s in figures["sites"] if s["county"] == code]
    out["overdue_tasks"] = [t for t in figures.get("overdue_tasks", []) if t["county"] == code]
    # The member units' table counts every county's tasks: not a county's to read.
    out["department_tasks"] = []
    out["makers"] = [r for r in figures.get("makers", []) if r["code"] == code]
    out["projects"] = [r for r in figures.get("projects", []) if r["county"] == code]
    out["escalations"] = [e for e in figures.get("escalations", []) if e["county"] == code]
    out["trend"] = [{**t, "counties": {k: v for k, v in t["counties"].items() if k == code}}
                    for t in figures.get("trend", [])]
    if out["counties"]:
        out["city"] = {**out["counties"][0]}
    out["scoped_to"] = code
    return out
