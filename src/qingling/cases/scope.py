"""The cases a user may see: the one queryset every case page, download and export starts
from. The rule itself (``org.scope.case_scope``) lives with the roles."""

from __future__ import annotations

from django.db.models import QuerySet

from qingling.cases.models import Case
from qingling.org.models import Role
from qingling.org.scope import AnyUser, case_scope, profile_of


def visible_cases(user: AnyUser) -> QuerySet[Case]:
    profile = profile_of(user)
    scope = case_scope(profile)
    if scope is None or profile is None:
        return Case.objects.none()
    qs = Case.objects.filter(scope)
    if profile.role == Role.DEPARTMENT:
        # The M2M join can repeat a case; keep ids unique without DISTINCT over all columns.
        qs = Case.objects.filter(pk__in=qs.values("pk"))
    return qs
