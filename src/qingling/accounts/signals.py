from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.utils import timezone

from qingling.accounts import services
from qingling.accounts.models import LoginEvent


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None and request is not None and not getattr(request, "_expired", False):
        services.record(LoginEvent.Outcome.LOGOUT, user.get_username(), timezone.now(),
                        user=user, address=request.META.get("REMOTE_ADDR"))
