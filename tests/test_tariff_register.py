"""The grid company's officers keep the punitive-tariff register in the app: accounts and
billing cycles typed in or imported, scoped to their county or the city."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook

from qingling.audit.models import AuditEntry
from qingling.cases.models import Case
from qingling.geo.models import Division
from qingling.org.models import SubjectType
from qingling.org.services import user_provision
from qingling.supervision.models import BillingCycle, TariffAccount
from qingling.supervision.register import (
    RegisterError,
    billing_cycle_add,
    cycles_import,
    tariff_account_add,
)
from tests.conftest import COUNTY_B, PASSWORD, Personas, client_for
from tests.test_tasks import confirm, make_case


@pytest.fixture
def grid(ref: None) -> object:
    from qingling.supervision.services import reference_load

    reference_load()
    return user_provision(username="grid", password=PASSWORD, role="department",
                          department_code="grid")


def test_the_grid_officer_registers_an_account_and_a_cycle(people: Personas, grid: object) -> None:
    case = confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people)
    c = client_for(grid)
    assert c.get("/supervision/tariff/").status_code == 200
    c.post("/supervision/tariff/account/", {
        "case_reference": case.reference, "account_no": "3300012345", "holder": "恒达纺织",
        "mining_from": "2026-11-01", "mining_to": "2026-11-20"})
    c.post("/supervision/tariff/cycle/", {"account_no": "3300012345", "start": "2026-11-01",
                                          "end": "2026-11-30", "kwh": "3000"})
    account = TariffAccount.objects.get()
    assert (account.case_id, account.mining_to) == (case.pk, date(2026, 11, 20))
    assert BillingCycle.objects.get().kwh == Decimal("3000")
    assert list(AuditEntry.objects.filter(case=case, action__in=(
        "tariff_account_add", "billing_cycle_add")).values_list("action", "actor")) == [
        ("tariff_account_add", grid.pk), ("billing_cycle_add", grid.pk)]  # type: ignore[attr-defined]
    # 20 of 30 days mined: 2,000 kWh × 0.50 yuan.
    page = client_for(people.city).get(f"/cases/{case.pk}/").content.decode()
    assert "3300012345" in page and "1000.00" in page


def test_the_register_refuses_what_it_must(people: Personas, grid: object) -> None:
    case = confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people)
    unconfirmed = make_case("嘉兴华星电子有限公司", SubjectType.ENTERPRISE)
    with pytest.raises(RegisterError, match="not confirmed"):
        tariff_account_add(actor=grid, case_reference=unconfirmed.reference, account_no="1",
                           mining_from=date(2026, 11, 1))
    with pytest.raises(RegisterError, match="Only the grid"):
        tariff_account_add(actor=people.county_a, case_reference=case.reference,
                           account_no="1", mining_from=date(2026, 11, 1))
    tariff_account_add(actor=grid, case_reference=case.reference, account_no="1",
                       mining_from=date(2026, 11, 1))
    with pytest.raises(RegisterError, match="already registered"):
        tariff_account_add(actor=grid, case_reference=case.reference, account_no="1",
                           mining_from=date(2026, 11, 1))
    billing_cycle_add(actor=grid, account_no="1", start=date(2026, 11, 1),
                      end=date(2026, 11, 30), kwh=Decimal(10))
    with pytest.raises(RegisterError, match="overlaps"):
        billing_cycle_add(actor=grid, account_no="1", start=date(2026, 11, 30),
                          end=date(2026, 12, 31), kwh=Decimal(10))
    # A county's grid officer keeps only that county's accounts.
    other = user_provision(username="grid-b", password=PASSWORD, role="department",
                           department_code="grid", county_code=COUNTY_B)
    with pytest.raises(RegisterError, match="No case"):
        tariff_account_add(actor=other, case_reference=case.reference, account_no="2",
                           mining_from=date(2026, 11, 1))
    with pytest.raises(RegisterError, match="No account"):
        billing_cycle_add(actor=other, account_no="1", start=date(2026, 12, 1),
                          end=date(2026, 12, 31), kwh=Decimal(10))
    assert "QL" not in client_for(other).get("/supervision/tariff/").content.decode().split(
        'id="table-tariff"')[1].split("</table>")[0]
    assert Case.objects.get(pk=case.pk).county == Division.objects.get(code="330402")


def xlsx(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["户号", "起始日期", "截止日期", "电量"])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_an_import_is_all_or_nothing_and_idempotent(people: Personas, grid: object) -> None:
    case = confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people)
    tariff_account_add(actor=grid, case_reference=case.reference, account_no="330001",
                       mining_from=date(2026, 10, 1))
    good = xlsx([["330001", date(2026, 10, 1), date(2026, 10, 31), 3100],
                 ["330001", "2026-11-01", "2026-11-30", 3000]])
    with pytest.raises(RegisterError, match=r"bills.xlsx row 3, 截止日期: not a date"):
        cycles_import(actor=grid, data=xlsx([["330001", "2026-09-01", "2026-09-30", 1],
                                             ["330001", "2026-08-01", "8月底", 1]]),
                      file_name="bills.xlsx")
    assert not BillingCycle.objects.exists()
    assert cycles_import(actor=grid, data=good, file_name="b.xlsx").added == 2
    again = cycles_import(actor=grid, data=good, file_name="b.xlsx")
    assert (again.added, again.unchanged) == (0, 2)
    assert BillingCycle.objects.count() == 2


def test_a_persons_account_holder_is_masked_on_the_case_page(people: Personas,
                                                            grid: object) -> None:
    home = confirm(make_case("张三丰", SubjectType.RESIDENTIAL), people)
    tariff_account_add(actor=grid, case_reference=home.reference, account_no="3300099",
                       holder="张三丰", address="嘉兴市南湖区凤桥镇工业路8号3幢101室",
                       mining_from=date(2026, 11, 1))
    page = client_for(people.city).get(f"/cases/{home.pk}/").content.decode()
    assert "3300099" in page and "张**" in page
    assert "张三丰" not in page and "3幢101室" not in page
