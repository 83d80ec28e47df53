"""Sign-in policy: account lockout, per-address throttling, password age, the second factor.

Checks that refuse an attempt run before the password is hashed, so a flood of guesses costs
the server nothing and cannot slow other users' sign-in. Every attempt is logged
(``LoginEvent``) and refusals are also logged as security warnings.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max

from qingling.accounts import totp
from qingling.accounts.models import Account, LoginEvent

log = logging.getLogger("qingling.security")
Outcome = LoginEvent.Outcome
FAILED = (Outcome.BAD_PASSWORD, Outcome.BAD_CODE)
ADDRESS_WINDOW = timedelta(minutes=5)


def account_of(user: Any) -> Account:
    account, _ = Account.objects.get_or_create(user=user)
    return account


def record(outcome: str, username: str, now: datetime, *, user: Any = None,
           address: str | None = None, agent: str = "") -> LoginEvent:
    event = LoginEvent.objects.create(at=now, username=username[:150], user=user,
                                      address=address or None, outcome=outcome,
                                      agent=agent[:200])
    if outcome not in (Outcome.OK, Outcome.LOGOUT, Outcome.PASSWORD_CHANGED):
        log.warning("sign-in %s: user=%r address=%s", outcome, username[:150], address)
    return event


def locked_until(username: str, now: datetime) -> datetime | None:
    """An account is locked for ``QINGLING_LOCKOUT_MINUTES`` once it has
    ``QINGLING_LOCKOUT_FAILURES`` failed attempts since its last success within that time."""
    window = timedelta(minutes=settings.QINGLING_LOCKOUT_MINUTES)
    last_ok = (LoginEvent.objects.filter(username=username, outcome=Outcome.OK)
               .aggregate(at=Max("at"))["at"])
    since = max(now - window, last_ok) if last_ok else now - window
    failures = list(LoginEvent.objects.filter(username=username, outcome__in=FAILED,
                                              at__gt=since)
                    .order_by("-at").values_list("at", flat=True)[:settings.QINGLING_LOCKOUT_FAILURES])
    if len(failures) < settings.QINGLING_LOCKOUT_FAILURES:
        return None
    return failures[-1] + window


def address_throttled(address: str | None, now: datetime) -> bool:
    """More than ``QINGLING_LOGIN_ADDRESS_LIMIT`` failed attempts from one address in five
    minutes: the address is refused (HTTP 429) until the window has passed."""
    if not address:
        return False
    failed = LoginEvent.objects.filter(address=address, at__gt=now - ADDRESS_WINDOW,
                                       outcome__in=(*FAILED, Outcome.UNKNOWN_USER)).count()
    return failed >= settings.QINGLING_LOGIN_ADDRESS_LIMIT


def throttle_logged_recently(address: str, now: datetime) -> bool:
    """A flood is logged once a minute per address, not once per request."""
    return LoginEvent.objects.filter(address=address, outcome=Outcome.THROTTLED,
                                     at__gt=now - timedelta(minutes=1)).exists()


def password_expired(user: Any, now: datetime, account: Account | None = None) -> bool:
    days = settings.QINGLING_PASSWORD_MAX_AGE_DAYS
    if days <= 0:
        return False
    account = account or Account.objects.filter(user=user).first()
    changed = (account.password_changed_at if account and account.password_changed_at
               else user.date_joined)
    return bool(now - changed > timedelta(days=days))


def must_change_password(user: Any, now: datetime) -> bool:
    account = Account.objects.filter(user=user).first()
    return bool(account and account.must_change_password) or password_expired(user, now,
                                                                              account)


def password_changed(user: Any, now: datetime, address: str | None = None) -> None:
    account = account_of(user)
    account.must_change_password = False
    account.password_changed_at = now
    account.save(update_fields=["must_change_password", "password_changed_at"])
    record(Outcome.PASSWORD_CHANGED, user.get_username(), now, user=user, address=address)


def second_factor_ok(user: Any, code: str, now: datetime) -> bool:
    """Check a code and consume its time step (compare-and-set: a code works once)."""
    account = account_of(user)
    if not account.totp_enabled:
        return False
    step = totp.match(account.totp_secret, code, now.timestamp(), account.totp_last_step)
    if step is None:
        return False
    return Account.objects.filter(pk=account.pk, totp_last_step__lt=step).update(
        totp_last_step=step) == 1


def second_factor_start(user: Any) -> str:
    """A new secret, kept (encrypted) but not in force until a first code confirms it."""
    account = account_of(user)
    secret = totp.new_secret()
    account.totp_secret = secret
    account.totp_enabled = False
    account.totp_last_step = -1
    account.save(update_fields=["totp_secret_enc", "totp_enabled", "totp_last_step"])
    return secret


def second_factor_confirm(user: Any, code: str, now: datetime) -> bool:
    account = account_of(user)
    if not account.totp_secret_enc:
        return False
    step = totp.match(account.totp_secret, code, now.timestamp())
    if step is None:
        return False
    account.totp_enabled = True
    account.totp_last_step = step
    account.save(update_fields=["totp_enabled", "totp_last_step"])
    return True


def second_factor_stop(user: Any) -> None:
    Account.objects.filter(user=user).update(totp_enabled=False, totp_secret_enc="",
                                             totp_last_step=-1)
