"""The punitive-tariff register kept by the grid company's officers in the app: accounts
(户号) of confirmed mining sites and their billing cycles, typed in or imported from the
grid's XLSX. Scope: the officer's county, or the whole city when the profile has none.
Every write is one transaction, audited on the case."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from qingling.audit.services import audit_record
from qingling.cases.models import Case, State
from qingling.org.models import Profile, Role
from qingling.org.scope import profile_of
from qingling.supervision.models import BillingCycle, TariffAccount

# Departments whose officers keep the register (the grid company; the DRC sets the policy).
REGISTER_DEPARTMENTS = ("grid", "drc")
CONFIRMED = (State.CONFIRMED, State.RECTIFYING, State.CLEARANCE_REQUESTED, State.CLEARED)
MAX_IMPORT_BYTES = 10 * 1024 * 1024
MAX_IMPORT_ROWS = 50_000


class RegisterError(ValueError):
    """A refused register write, with a message fit to show the user."""


def keeps_register(profile: Profile | None) -> bool:
    return profile is not None and (
        profile.role == Role.CITY
        or (profile.role == Role.DEPARTMENT and profile.department is not None
            and profile.department.code in REGISTER_DEPARTMENTS))


def register_scope(profile: Profile) -> Q:
    """The cases whose accounts this register keeper may see and write."""
    return Q(case__county=profile.county) if profile.county_id else Q()


def _keeper(actor: Any) -> Profile:
    profile = profile_of(actor)
    if not keeps_register(profile):
        raise RegisterError(_("Only the grid company's officers and the city keep the "
                              "tariff register."))
    assert profile is not None
    return profile


def _case_by_reference(profile: Profile, reference: str) -> Case:
    ref = reference.strip().upper()
    pk = int(ref[2:]) if ref.startswith("QL") and ref[2:].isdigit() else None
    qs = Case.objects.filter(pk=pk) if pk else Case.objects.none()
    if profile.county_id:
        qs = qs.filter(county=profile.county)
    case = qs.select_for_update().first()
    if case is None:
        raise RegisterError(_("No case %(ref)s in your area.") % {"ref": reference})
    if case.state not in CONFIRMED:
        raise RegisterError(_("Case %(ref)s is not confirmed as mining: no surcharge applies.")
                            % {"ref": case.reference})
    return case


def tariff_account_add(*, actor: Any, case_reference: str, account_no: str, holder: str = "",
                       address: str = "", province_code: str = "330000",
                       mining_from: date, mining_to: date | None = None,
                       mixed_use: bool = False, now: datetime | None = None) -> TariffAccount:
    now = now or timezone.now()
    profile = _keeper(actor)
    account_no = account_no.strip()
    if not account_no:
        raise RegisterError(_("Enter the account number (户号)."))
    if mining_to is not None and mining_to < mining_from:
        raise RegisterError(_("Mining until (%(to)s) is before mining from (%(fr)s).")
                            % {"to": mining_to, "fr": mining_from})
    try:
        with transaction.atomic():
            case = _case_by_reference(profile, case_reference)
            account = TariffAccount(case=case, account_no=account_no, holder=holder.strip(),
                                    address=address.strip(), province_code=province_code,
                                    mining_from=mining_from, mining_to=mining_to,
                                    mixed_use=mixed_use, created_at=now)
            try:
                account.full_clean(exclude=["case"], validate_unique=False,
                                   validate_constraints=False)
            except ValidationError as exc:
                raise RegisterError("；".join(
                    f"{getattr(TariffAccount._meta.get_field(f), 'verbose_name', f)}："
                    f"{' '.join(m)}"
                    for f, m in exc.message_dict.items())) from None
            account.save()
            audit_record(actor=actor, action="tariff_account_add", obj=account, case=case,
                         at=now, data={"account_no": account_no, "mining_from": mining_from,
                                       "mining_to": mining_to, "mixed_use": mixed_use})
    except IntegrityError:
        raise RegisterError(_("Account %(no)s is already registered.") % {"no": account_no}
                            ) from None
    return account


def billing_cycle_add(*, actor: Any, account_no: str, start: date, end: date, kwh: Decimal,
                      now: datetime | None = None) -> BillingCycle:
    """One billing cycle of a registered account: no overlap with its other cycles."""
    now = now or timezone.now()
    profile = _keeper(actor)
    if end < start:
        raise RegisterError(_("The billing cycle ends (%(end)s) before it starts (%(start)s).")
                            % {"end": end, "start": start})
    if kwh < 0:
        raise RegisterError(_("Negative kWh: %(kwh)s.") % {"kwh": kwh})
    with transaction.atomic():
        account = (TariffAccount.objects.select_for_update(of=("self",)).select_related("case")
                   .filter(register_scope(profile), account_no=account_no.strip()).first())
        if account is None:
            raise RegisterError(_("No account %(no)s in your area.") % {"no": account_no})
        clash = account.cycles.filter(start__lte=end, end__gte=start).first()
        if clash is not None:
            raise RegisterError(_("Account %(no)s already has a cycle %(start)s–%(end)s that "
                                  "overlaps it.") % {"no": account.account_no,
                                                     "start": clash.start, "end": clash.end})
        cycle = BillingCycle.objects.create(account=account, start=start, end=end, kwh=kwh)
        audit_record(actor=actor, action="billing_cycle_add", obj=cycle, case=account.case,
                     at=now, data={"account_no": account.account_no, "start": start,
                                   "end": end, "kwh": kwh})
    return cycle


@dataclass(frozen=True)
class ImportResult:
    added: int
    unchanged: int


IMPORT_HEADERS = {"户号": "account_no", "起始日期": "start", "截止日期": "end",
                  "电量": "kwh", "电量（千瓦时）": "kwh"}


def _cell_date(value: Any, row: int, column: str, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise RegisterError(_("%(file)s row %(row)d, %(col)s: not a date (YYYY-MM-DD): "
                              "%(value)s") % {"file": name, "row": row, "col": column,
                                              "value": value}) from None


def cycles_import(*, actor: Any, data: bytes, file_name: str,
                  now: datetime | None = None) -> ImportResult:
    """The grid's billing export (XLSX: 户号, 起始日期, 截止日期, 电量): all rows or none;
    a cycle already registered with the same kWh is left as it is (importing the same file
    again changes nothing)."""
    from openpyxl import load_workbook

    now = now or timezone.now()
    _keeper(actor)
    if len(data) > MAX_IMPORT_BYTES:
        raise RegisterError(_("%(file)s is larger than %(mb)d MB.") % {
            "file": file_name, "mb": MAX_IMPORT_BYTES // (1024 * 1024)})
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not XLSX
        raise RegisterError(_("%(file)s is not an XLSX workbook.") % {"file": file_name}
                            ) from None
    ws = book.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = [str(c or "").strip() for c in next(rows, ())]
    columns = {IMPORT_HEADERS[h]: i for i, h in enumerate(header) if h in IMPORT_HEADERS}
    missing = [h for h in ("户号", "起始日期", "截止日期", "电量")
               if IMPORT_HEADERS[h] not in columns]
    if missing:
        raise RegisterError(_("%(file)s: the header lacks %(cols)s.") % {
            "file": file_name, "cols": "、".join(missing)})
    parsed = []
    for n, r in enumerate(rows, start=2):
        if n > MAX_IMPORT_ROWS + 1:
            raise RegisterError(_("%(file)s has more than %(n)d rows.") % {
                "file": file_name, "n": MAX_IMPORT_ROWS})
        if not any(c not in (None, "") for c in r):
            continue
        cell = {k: r[i] if i < len(r) else None for k, i in columns.items()}
        try:
            kwh = Decimal(str(cell["kwh"]).strip())
        except InvalidOperation:
            raise RegisterError(_("%(file)s row %(row)d, %(col)s: not a number: %(value)s")
                                % {"file": file_name, "row": n, "col": "电量",
                                   "value": cell["kwh"]}) from None
        parsed.append((n, str(cell["account_no"] or "").strip(),
                       _cell_date(cell["start"], n, "起始日期", file_name),
                       _cell_date(cell["end"], n, "截止日期", file_name), kwh))
    added = unchanged = 0
    with transaction.atomic():
        for n, account_no, start, end, kwh in parsed:
            same = BillingCycle.objects.filter(account__account_no=account_no, start=start,
                                               end=end, kwh=kwh).exists()
            if same:
                unchanged += 1
                continue
            try:
                billing_cycle_add(actor=actor, account_no=account_no, start=start, end=end,
                                  kwh=kwh, now=now)
            except RegisterError as exc:
                raise RegisterError(_("%(file)s row %(row)d: %(error)s") % {
                    "file": file_name, "row": n, "error": exc}) from None
            added += 1
    return ImportResult(added, unchanged)
