from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from qingling.common.crypto import decrypt, encrypt


class Account(models.Model):
    """Sign-in state of a user beyond Django's: forced password change, password age and
    the optional second factor."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="account")
    must_change_password = models.BooleanField(_("must change password"), default=False)
    password_changed_at = models.DateTimeField(_("password changed"), null=True, blank=True)
    # The TOTP secret, encrypted at rest like personal data.
    totp_secret_enc = models.TextField(blank=True)
    totp_enabled = models.BooleanField(_("second factor"), default=False)
    totp_last_step = models.BigIntegerField(default=-1)

    class Meta:
        verbose_name = _("account")

    def __str__(self) -> str:
        return str(self.user)

    @property
    def totp_secret(self) -> str:
        return decrypt(self.totp_secret_enc)

    @totp_secret.setter
    def totp_secret(self, value: str) -> None:
        self.totp_secret_enc = encrypt(value)


class LoginEvent(models.Model):
    """The security log of sign-in: every success, failure, lockout and throttle."""

    class Outcome(models.TextChoices):
        OK = "ok", _("Signed in")
        BAD_PASSWORD = "bad_password", _("Wrong password")
        UNKNOWN_USER = "unknown_user", _("Unknown user name")
        LOCKED = "locked", _("Refused: account locked")
        THROTTLED = "throttled", _("Refused: too many attempts from this address")
        BAD_CODE = "bad_code", _("Wrong second-factor code")
        LOGOUT = "logout", _("Signed out")
        EXPIRED = "expired", _("Session expired")
        PASSWORD_CHANGED = "password_changed", _("Password changed")

    at = models.DateTimeField(_("time"), db_index=True)
    username = models.CharField(_("user name"), max_length=150, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    agent = models.CharField(_("browser"), max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["address", "at"])]
        verbose_name = _("sign-in event")

    def __str__(self) -> str:
        return f"{self.username} {self.outcome}"
