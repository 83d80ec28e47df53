"""Password policy for a Level-3 system (等保 2.0 三级): at least 10 characters from three of
four classes (lower case, upper case, digits, symbols), not like the user name, not a
common password (Django's validators), and changed every ``QINGLING_PASSWORD_MAX_AGE_DAYS``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def classes_of(password: str) -> int:
    return sum((any(c.islower() for c in password), any(c.isupper() for c in password),
                any(c.isdigit() for c in password),
                any(not c.isalnum() and not c.isspace() for c in password)))


class CharacterClassesValidator:
    def __init__(self, min_classes: int = 3) -> None:
        self.min_classes = min_classes

    def validate(self, password: str, user: Any = None) -> None:
        if classes_of(password) < self.min_classes:
            raise ValidationError(
                _("The password must mix at least %(n)d of: lower-case letters, upper-case "
                  "letters, digits, symbols.") % {"n": self.min_classes},
                code="password_too_simple")

    def get_help_text(self) -> str:
        return _("Mix at least %(n)d of: lower-case letters, upper-case letters, digits, "
                 "symbols.") % {"n": self.min_classes}


class NotUsernameValidator:
    """The user name, forwards or backwards, is not part of the password."""

    def validate(self, password: str, user: Any = None) -> None:
        name = (user.get_username() if user is not None else "").lower()
        if len(name) >= 3 and (name in password.lower() or name[::-1] in password.lower()):
            raise ValidationError(_("The password must not contain the user name."),
                                  code="password_has_username")

    def get_help_text(self) -> str:
        return _("Do not use your user name in the password.")
