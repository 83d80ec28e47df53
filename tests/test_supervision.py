"""Weekly close, escalations, energy and the surcharge, checked against hand-computed
examples and run twice where the work plan needs idempotence."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest

from qingling.audit.models import AuditEntry
from qingling.cases.models import Case, State
from qingling.cases.services import case_transition, evidence_add, visit_record
from qingling.intake.services import import_list
from qingling.supervision import energy, tariff
from qingling.supervision.figures import compute
from qingling.supervision.models import BillingCycle, Escalation, TariffAccount, WeeklyClose
from qingling.supervision.services import (
    CloseError,
    EscalationError,
    escalation_move,
    reference_load,
    weekly_close,
)
from tests.conftest import COUNTY_A, WEEK, Personas, at, csv_bytes, row
from tests.test_uploads import png_bytes

SEEN = "2026-11-14 10:00:00"
ZJ = [tariff.Rate("330000", date(2022, 2, 14), Decimal("0.50"))]


# --- the surcharge ------------------------------------------------------------------------

def test_a_whole_cycle_inside_the_mining_period_pays_on_all_its_kwh() -> None:
    ch = tariff.surcharge(date(2026, 3, 1), date(2026, 3, 31), Decimal(3100),
                          date(2026, 1, 5), None, ZJ)
    assert ch.kwh == Decimal(3100)
    assert ch.yuan == Decimal("1550.00")


def test_a_partial_cycle_is_charged_as_daily_average_times_days() -> None:
    # 30-day cycle, 3,000 kWh = 100 kWh/day; mining stopped on the 10th: 10 days.
    ch = tariff.surcharge(date(2026, 4, 1), date(2026, 4, 30), Decimal(3000),
                          date(2026, 1, 5), date(2026, 4, 10), ZJ)
    assert ch.kwh == Decimal(1000)
    assert ch.yuan == Decimal("500.00")
    # Mining that began on the 21st of the same kind of cycle: 10 days as well.
    late = tariff.surcharge(date(2026, 4, 1), date(2026, 4, 30), Decimal(3000),
                            date(2026, 4, 21), None, ZJ)
    assert late.yuan == Decimal("500.00")


def test_a_rate_change_inside_a_cycle_charges_each_day_at_its_rate() -> None:
    rates = [*ZJ, tariff.Rate("330000", date(2026, 5, 16), Decimal("0.80"))]
    # 31 days × 100 kWh: 15 days at 0.50 (750.00) + 16 days at 0.80 (1,280.00).
    ch = tariff.surcharge(date(2026, 5, 1), date(2026, 5, 31), Decimal(3100),
                          date(2026, 1, 1), None, rates)
    assert [(p.days, p.rate, p.yuan) for p in ch.parts] == [
        (15, Decimal("0.50"), Decimal("750.00")), (16, Decimal("0.80"), Decimal("1280.00"))]
    assert ch.yuan == Decimal("2030.00")


def test_days_before_the_surcharge_took_effect_pay_nothing() -> None:
    # Cycle 2022-02-01..2022-02-28 (28 days, 2,800 kWh); the rate starts on the 14th.
    ch = tariff.surcharge(date(2022, 2, 1), date(2022, 2, 28), Decimal(2800),
                          date(2021, 12, 1), None, ZJ)
    assert ch.kwh == Decimal(1500)  # 15 days × 100
    assert ch.yuan == Decimal("750.00")


def test_a_cycle_outside_the_mining_period_pays_nothing_and_bad_cycles_are_refused() -> None:
    assert tariff.surcharge(date(2026, 1, 1), date(2026, 1, 31), Decimal(900),
                            date(2026, 3, 1), None, ZJ).yuan == Decimal("0.00")
    with pytest.raises(ValueError, match="ends"):
        tariff.surcharge(date(2026, 2, 1), date(2026, 1, 1), Decimal(1), date(2026, 1, 1),
                         None, ZJ)


# --- energy -------------------------------------------------------------------------------

FACTOR = energy.Factor(date(2022, 1, 1), Decimal("0.0001229"), Decimal("0.0005703"))


def test_estimated_energy_is_kw_times_hours_and_doubling_follows_the_rule_in_force() -> None:
    # Two S19 at 3.25 kW for 10 days (240 h): 1,560 kWh.
    kwh = energy.estimated_kwh(Decimal("6.5"), at("2026-11-01T00:00"), at("2026-11-11T00:00"))
    assert kwh == Decimal("1560.00")
    plan = energy.Rule(date(2022, 3, 1), "high_stock")
    notice = energy.Rule(date(2026, 12, 1), "new_projects")
    rules = [plan, notice]
    assert energy.rule_on(rules, date(2026, 11, 30)) is plan
    assert energy.rule_on(rules, date(2026, 12, 1)) is notice
    assert energy.rule_on(rules, date(2022, 2, 28)) is None
    # (a) the plan: only a county named for high or rising stock counts double.
    assert energy.doubled(plan, new_project=True, county_named=False) is False
    assert energy.doubled(plan, new_project=False, county_named=True) is True
    # (b) 1283号: newly found projects count double wherever they are.
    assert energy.doubled(notice, new_project=True, county_named=False) is True
    assert energy.doubled(notice, new_project=False, county_named=True) is False
    # (c) all confirmed mining energy counts double.
    assert energy.doubled(energy.Rule(date(2022, 1, 1), "all"), new_project=False,
                          county_named=False) is True
    new = energy.SiteEnergy(1, COUNTY_A, kwh, "estimated", new_project=True, doubled=True)
    old = energy.SiteEnergy(2, COUNTY_A, Decimal("1000"), "metered", new_project=False)
    none = energy.SiteEnergy(3, COUNTY_A, Decimal(0), "none", new_project=False)
    rows, total = energy.county_energy([new, old, none], FACTOR, [COUNTY_A, "330411"])
    a = rows[0]
    assert (a.sites, a.new_projects, a.doubled_sites, a.no_estimate) == (3, 1, 1, 1)
    assert (a.kwh, a.counted_kwh) == (Decimal("2560.00"), Decimal("4120.00"))
    # 4,120 kWh × 0.0001229 = 0.506348 tce; × 0.0005703 = 2.349636 tCO2.
    assert (a.tce, a.tco2) == (Decimal("0.506"), Decimal("2.350"))
    assert rows[1].sites == 0 and total.counted_kwh == Decimal("4120.00")
    assert total.no_estimate == 1


def test_the_coefficients_in_force_on_the_day_are_used() -> None:
    later = energy.Factor(date(2026, 7, 1), Decimal("0.0001229"), Decimal("0.0005"))
    assert energy.factor_on([FACTOR, later], date(2026, 6, 30)) is FACTOR
    assert energy.factor_on([FACTOR, later], date(2026, 7, 1)) is later
    with pytest.raises(ValueError, match="no energy coefficients"):
        energy.factor_on([later], date(2026, 1, 1))


# --- the weekly close ---------------------------------------------------------------------

def three_key_items(p: Personas) -> list[Case]:
    """Three key-list items of county A in week 47 (cut-off Fri 2026-11-20 18:00): one
    cleared on time, one cleared late, one still open."""
    import_list(data=csv_bytes([row("60.12.1.1", "甲公司", when=SEEN), row("60.12.1.2", "乙公司", when=SEEN),
                                row("60.12.1.3", "丙公司", when=SEEN)]),
                file_name="k.csv", list_type="key", week=WEEK, now=at("2026-11-16T09:00"))
    cases = list(Case.objects.order_by("ip_summary"))
    for case, cleared in zip(cases, (at("2026-11-19T15:00"), at("2026-11-21T10:00")),
                             strict=False):
        walk_to_clearance(case, p, cleared)
    return cases


def walk_to_clearance(case: Case, p: Personas, when: datetime) -> None:
    a, v = p.county_a, p.verifier_a
    case_transition(case_id=case.pk, action="sign", actor=a, now=when)
    case_transition(case_id=case.pk, action="start_verification", actor=v, now=when)
    visit_record(case_id=case.pk, actor=v, visited_at=when, found_mining=True,
                 machine_count=2, machines_seized=2, power_cut=True, power_kw=Decimal("6.5"))
    case_transition(case_id=case.pk, action="confirm", actor=v, now=when)
    case_transition(case_id=case.pk, action="start_rectification", actor=a, now=when)
    evidence_add(case_id=case.pk, actor=a, stream=io.BytesIO(png_bytes()), original_name="s.png")
    case_transition(case_id=case.pk, action="request_clearance", actor=a, now=when)
    case_transition(case_id=case.pk, action="clear", actor=p.city, now=when)


def county(figures: dict, code: str) -> dict:
    return next(r for r in figures["counties"] if r["code"] == code)


def test_the_close_counts_on_time_late_and_overdue_and_proposes_an_interview(
        people: Personas) -> None:
    reference_load()
    three_key_items(people)
    close, made = weekly_close(WEEK, at("2026-11-22T12:00"), actor=people.city)
    assert made
    a = county(close.figures, COUNTY_A)
    assert (a["key_received"], a["key_on_time"], a["key_late"], a["key_overdue"]) == (3, 1, 1, 1)
    assert a["on_time_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert a["machines_seized"] == 4
    assert close.figures["city"]["key_overdue"] == 1
    interview = Escalation.objects.get()
    assert interview.kind == Escalation.Kind.INTERVIEW and interview.county.code == COUNTY_A
    assert interview.status == Escalation.Status.PROPOSED
    assert "60.12.1.3" in interview.basis and "主要负责人" in interview.subject


def test_closing_a_week_twice_gives_the_same_result_and_creates_nothing(
        people: Personas) -> None:
    reference_load()
    three_key_items(people)
    first, _ = weekly_close(WEEK, at("2026-11-22T12:00"), actor=people.city)
    # More work happens afterwards; the close of week 47 is a record and does not move.
    overdue = Case.objects.exclude(state=State.CLEARED).get()
    walk_to_clearance(overdue, people, at("2026-11-23T10:00"))
    again, made = weekly_close(WEEK, at("2026-11-24T12:00"), actor=people.city)
    assert not made and again.pk == first.pk and again.figures == first.figures
    assert WeeklyClose.objects.count() == 1 and Escalation.objects.count() == 1
    assert AuditEntry.objects.filter(action="weekly_close").count() == 1


def test_a_week_cannot_be_closed_before_its_cut_off(people: Personas) -> None:
    with pytest.raises(CloseError, match="cut-off"):
        weekly_close(WEEK, at("2026-11-20T17:59"))
    close, made = weekly_close(WEEK, at("2026-11-20T17:59"), early=True)
    assert made and close.week == str(WEEK)


def test_a_county_whose_stock_rose_gets_a_city_notice_and_its_leaders_informed(
        people: Personas) -> None:
    reference_load()
    prev = WEEK.shift(-1)
    weekly_close(prev, at("2026-11-15T12:00"))
    import_list(data=csv_bytes([row("61.1.1.1", "丁公司", when=SEEN), row("61.1.1.2", "戊公司", when=SEEN)]),
                file_name="s.csv", list_type="stock", week=WEEK, now=at("2026-11-17T09:00"))
    close, _ = weekly_close(WEEK, at("2026-11-22T12:00"))
    a = county(close.figures, COUNTY_A)
    assert (a["stock_prev"], a["stock_open"], a["stock_delta"], a["stock_rose"]) == (0, 2, 2, True)
    kinds = set(Escalation.objects.filter(county__code=COUNTY_A).values_list("kind", flat=True))
    assert kinds == {Escalation.Kind.CITY_NOTICE, Escalation.Kind.INFORM_LEADERS}
    assert not county(close.figures, "330411")["stock_rose"]


def test_an_escalation_moves_proposed_approved_done_with_its_outcome(people: Personas) -> None:
    reference_load()
    three_key_items(people)
    weekly_close(WEEK, at("2026-11-22T12:00"))
    esc = Escalation.objects.get()
    with pytest.raises(EscalationError, match="now Proposed"):
        escalation_move(esc, "done", people.city, at("2026-11-23T09:00"), outcome="x")
    escalation_move(esc, "approve", people.city, at("2026-11-23T09:00"),
                    scheduled_on=date(2026, 11, 25))
    with pytest.raises(EscalationError, match="outcome"):
        escalation_move(esc, "done", people.city, at("2026-11-25T16:00"))
    with pytest.raises(EscalationError, match="now Approved"):
        escalation_move(esc, "approve", people.city, at("2026-11-23T09:05"))
    done = escalation_move(esc, "done", people.city, at("2026-11-25T16:00"),
                           outcome="已约谈南湖区整治办主要负责人，限期三日内清零")
    assert done.status == Escalation.Status.DONE and done.scheduled_on == date(2026, 11, 25)
    moves = list(AuditEntry.objects.filter(action__startswith="escalation_")
                 .values_list("action", "from_state", "to_state"))
    assert moves == [("escalation_approve", "proposed", "approved"),
                     ("escalation_done", "approved", "done")]


def test_metered_kwh_wins_over_the_estimate_and_feeds_the_close(people: Personas) -> None:
    reference_load()
    cases = three_key_items(people)
    acct = TariffAccount.objects.create(case=cases[0], account_no="3300001234",
                                        mining_from=date(2026, 11, 1), mixed_use=True)
    # 30-day cycle of 3,000 kWh; mining from the 1st to the close (22nd): 22 days × 100.
    BillingCycle.objects.create(account=acct, start=date(2026, 11, 1), end=date(2026, 11, 30),
                                kwh=Decimal(3000))
    figures = compute(WEEK, at("2026-11-22T12:00"))
    site = next(s for s in figures["sites"] if s["case"] == cases[0].pk)
    assert (site["basis"], site["kwh"]) == ("metered", "2200.00")
    estimated = next(s for s in figures["sites"] if s["case"] == cases[1].pk)
    assert estimated["basis"] == "estimated"


# --- the daily digest ---------------------------------------------------------------------

def test_one_digest_per_county_per_day_however_many_items(people: Personas,
                                                          settings: object) -> None:
    from django.core import mail

    from qingling.supervision.digest import send_digests
    from qingling.supervision.models import Digest

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # type: ignore[attr-defined]
    people.county_a.email = "nanhu@example.gov.cn"
    people.county_a.save(update_fields=["email"])
    import_list(data=csv_bytes([row(f"60.12.2.{i}", f"单位{i}", when=SEEN) for i in range(1, 8)]),
                file_name="k.csv", list_type="key", week=WEEK, now=at("2026-11-16T09:00"))
    # Saturday after the cut-off: all seven are overdue.
    made = send_digests(date(2026, 11, 21), at("2026-11-21T08:00"), email=True)
    assert len(made) == 1 and made[0].county.code == COUNTY_A
    assert made[0].counts["overdue"] == 7 and made[0].counts["due_soon"] == 0
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["nanhu@example.gov.cn"]
    assert mail.outbox[0].body.count("案件") == 7
    # Again the same day: nothing new, nothing sent.
    assert send_digests(date(2026, 11, 21), at("2026-11-21T12:00"), email=True) == []
    assert len(mail.outbox) == 1 and Digest.objects.count() == 1
    # Thursday before the cut-off they are due soon, not overdue.
    before = send_digests(date(2026, 11, 19), at("2026-11-19T08:00"), email=False)
    assert before[0].counts == {"overdue": 0, "due_soon": 7, "rebounds": 0, "escalations": 0}
    assert len(mail.outbox) == 1  # e-mail off: in the app only
