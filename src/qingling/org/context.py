from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from qingling.org.scope import profile_of


def role(request: HttpRequest) -> dict[str, Any]:
    return {"qprofile": profile_of(request.user) if hasattr(request, "user") else None}
