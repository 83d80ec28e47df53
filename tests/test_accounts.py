"""Sign-in as a Level-3 system requires (等保 2.0 三级): lockout and per-address throttling
that refuse before hashing and are logged, a password policy, password change (forced at
first sign-in and on expiry), idle and absolute session limits, an optional second factor,
and the user's own sign-in history."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from qingling.accounts import totp
from qingling.accounts.models import Account, LoginEvent
from tests.conftest import PASSWORD, Personas

Outcome = LoginEvent.Outcome
STRONG = "Qingling-2026-safe"


def sign_in(c: Client, username: str, password: str, address: str = "10.0.0.1") -> object:
    return c.post("/login/", {"username": username, "password": password},
                  REMOTE_ADDR=address)


def test_five_failures_lock_the_account_even_against_the_right_password(
        people: Personas) -> None:
    c = Client()
    for _ in range(5):
        assert sign_in(c, "nanhu", "wrong").status_code == 200
    # The sixth attempt, with the right password, is refused: the account is locked.
    refused = sign_in(c, "nanhu", PASSWORD)
    assert refused.status_code == 403 and "_auth_user_id" not in c.session
    assert "锁定" in refused.content.decode()
    outcomes = list(LoginEvent.objects.filter(username="nanhu").order_by("at", "id")
                    .values_list("outcome", flat=True))
    assert outcomes == [Outcome.BAD_PASSWORD] * 5 + [Outcome.LOCKED]
    # Another account is not affected.
    assert sign_in(Client(), "xiuzhou", PASSWORD).status_code == 302
    # Once the lock has run out (15 minutes), the right password works again.
    LoginEvent.objects.filter(username="nanhu").update(at=timezone.now() - timedelta(minutes=16))
    assert sign_in(c, "nanhu", PASSWORD).status_code == 302
    assert "_auth_user_id" in c.session


def test_a_flood_from_one_address_gets_429_without_hashing_a_password(
        people: Personas) -> None:
    c = Client()
    for i in range(20):
        sign_in(c, f"guess{i}", "wrong", address="203.0.113.9")
    User = get_user_model()
    with mock.patch.object(User, "check_password", autospec=True) as check:
        flood = [sign_in(c, "city", PASSWORD, address="203.0.113.9") for _ in range(30)]
    assert {r.status_code for r in flood} == {429}
    assert flood[0]["Retry-After"] == "300"
    assert check.call_count == 0  # refused before any password hash was computed
    # Logged as a security event, once a minute rather than once per request.
    assert LoginEvent.objects.filter(outcome=Outcome.THROTTLED).count() == 1
    # Another address signs in normally.
    assert sign_in(Client(), "city", PASSWORD, address="10.1.1.1").status_code == 302


@pytest.mark.parametrize("weak", ["12345678", "password123", "abcdefghijk", "Nanhu-officer1"])
def test_weak_passwords_are_refused(people: Personas, weak: str) -> None:
    with pytest.raises(ValidationError):
        validate_password(weak, user=people.county_a if "nanhu" in weak.lower() else None)


def test_a_strong_password_passes(people: Personas) -> None:
    validate_password(STRONG, user=people.county_a)


def test_every_user_changes_their_own_password(people: Personas) -> None:
    c = Client()
    sign_in(c, "nanhu", PASSWORD)
    page = c.get("/account/password/")
    assert page.status_code == 200
    bad = c.post("/account/password/", {"old_password": PASSWORD, "new_password1": "12345678",
                                         "new_password2": "12345678"})
    assert bad.status_code == 200 and not LoginEvent.objects.filter(
        outcome=Outcome.PASSWORD_CHANGED).exists()
    ok = c.post("/account/password/", {"old_password": PASSWORD, "new_password1": STRONG,
                                        "new_password2": STRONG})
    assert ok.status_code == 302
    people.county_a.refresh_from_db()
    assert people.county_a.check_password(STRONG)
    assert c.get("/inbox/").status_code == 200  # still signed in after the change
    assert Account.objects.get(user=people.county_a).password_changed_at is not None


def test_an_account_the_city_creates_must_change_its_password_first(people: Personas) -> None:
    User = get_user_model()
    admin = User.objects.create_superuser("root", password=PASSWORD)
    c = Client()
    c.force_login(admin)
    resp = c.post("/admin/auth/user/add/", {"username": "new-officer", "usable_password": "true",
                                             "password1": STRONG, "password2": STRONG})
    assert resp.status_code == 302
    new = User.objects.get(username="new-officer")
    assert Account.objects.get(user=new).must_change_password
    officer = Client()
    sign_in(officer, "new-officer", STRONG)
    assert officer.get("/inbox/")["Location"] == "/account/password/"
    officer.post("/account/password/", {"old_password": STRONG, "new_password1": STRONG + "!",
                                        "new_password2": STRONG + "!"})
    assert not Account.objects.get(user=new).must_change_password
    after = officer.get("/inbox/")
    assert after.get("Location") != "/account/password/"


def test_an_expired_password_must_be_changed(people: Personas, settings: object) -> None:
    c = Client()
    sign_in(c, "nanhu", PASSWORD)
    assert c.get("/inbox/").status_code == 200
    Account.objects.update_or_create(user=people.county_a, defaults={
        "password_changed_at": timezone.now() - timedelta(days=91)})
    assert c.get("/inbox/")["Location"] == "/account/password/"
    settings.QINGLING_PASSWORD_MAX_AGE_DAYS = 0  # type: ignore[attr-defined]
    assert c.get("/inbox/").status_code == 200  # expiry switched off


def test_an_idle_session_ends_after_30_minutes_and_any_session_after_12_hours(
        people: Personas) -> None:
    c = Client()
    sign_in(c, "nanhu", PASSWORD)
    assert c.get("/inbox/").status_code == 200
    s = c.session
    s["seen_at"] = s["seen_at"] - 31 * 60
    s.save()
    gone = c.get("/inbox/")
    assert gone.status_code == 302 and gone["Location"].startswith("/login/")
    assert "_auth_user_id" not in c.session
    assert LoginEvent.objects.filter(username="nanhu", outcome=Outcome.EXPIRED).count() == 1
    # Active all the time, but signed in 13 hours ago: ended too.
    sign_in(c, "nanhu", PASSWORD)
    s = c.session
    s["auth_at"] = s["auth_at"] - 13 * 3600
    s.save()
    assert c.get("/inbox/").status_code == 302
    # Within both limits the session goes on.
    sign_in(c, "nanhu", PASSWORD)
    s = c.session
    s["seen_at"] = s["seen_at"] - 29 * 60
    s.save()
    assert c.get("/inbox/").status_code == 200


def test_totp_matches_the_rfc_6238_vectors() -> None:
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of "12345678901234567890"
    assert totp.code_at(secret, totp.step_of(59)) == "287082"
    assert totp.code_at(secret, totp.step_of(1111111109)) == "081804"
    assert totp.code_at(secret, totp.step_of(2000000000)) == "279037"
    step = totp.step_of(1111111109)
    assert totp.match(secret, "081804", 1111111109 + 30) == step  # one step of drift
    assert totp.match(secret, "081804", 1111111109 + 90) is None
    assert totp.match(secret, "081804", 1111111109, after_step=step) is None  # replay


def test_the_second_factor_is_set_up_by_the_user_and_asked_at_sign_in(
        people: Personas) -> None:
    c = Client()
    sign_in(c, "city", PASSWORD)
    c.post("/account/second-factor/start/")
    secret = Account.objects.get(user=people.city).totp_secret
    assert secret and secret in c.get("/account/").content.decode()
    assert secret not in Account.objects.get(user=people.city).totp_secret_enc  # encrypted
    c.post("/account/second-factor/confirm/", {"code": "000000" if totp.code_at(
        secret, totp.step_of(time.time())) != "000000" else "111111"})
    assert not Account.objects.get(user=people.city).totp_enabled  # a wrong code: still off
    c.post("/account/second-factor/confirm/",
           {"code": totp.code_at(secret, totp.step_of(time.time()))})
    assert Account.objects.get(user=people.city).totp_enabled
    c.post("/logout/")

    fresh = Client()
    first = sign_in(fresh, "city", PASSWORD)
    assert first["Location"] == "/login/code/" and "_auth_user_id" not in fresh.session
    fresh.post("/login/code/", {"code": "12345"})
    assert "_auth_user_id" not in fresh.session
    # The code already used to switch the factor on cannot be replayed.
    used = Account.objects.get(user=people.city).totp_last_step
    replay = fresh.post("/login/code/", {"code": totp.code_at(secret, used)})
    assert replay.status_code == 200 and "_auth_user_id" not in fresh.session
    assert LoginEvent.objects.filter(username="city", outcome=Outcome.BAD_CODE).exists()
    # A code of the next step, within the allowed drift, signs in.
    fresh.post("/login/code/", {"code": totp.code_at(secret, used + 1)})
    assert "_auth_user_id" in fresh.session


def test_the_user_sees_their_own_sign_in_history_only(people: Personas) -> None:
    sign_in(Client(), "nanhu", "wrong", address="198.51.100.7")
    sign_in(Client(), "xiuzhou", "wrong", address="198.51.100.8")
    c = Client()
    sign_in(c, "nanhu", PASSWORD, address="10.2.2.2")
    page = c.get("/account/").content.decode()
    assert "198.51.100.7" in page and "10.2.2.2" in page and "198.51.100.8" not in page
    assert 'data-outcome="bad_password"' in page and 'data-outcome="ok"' in page
