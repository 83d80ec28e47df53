from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qingling.cases.models import Case, State
from qingling.cases.selectors import CaseFilters, case_page, cases_filtered
from qingling.intake.services import import_list
from tests.conftest import WEEK, Personas, csv_bytes, row


def make_cases(n: int) -> list[Case]:
    import_list(data=csv_bytes([row(f"60.12.5.{i}", f"公司{i}") for i in range(1, n + 1)]),
                file_name="s.csv", list_type="stock", week=WEEK)
    now = timezone.now()
    cases = list(Case.objects.order_by("id"))
    for i, c in enumerate(cases):
        # Due dates in the reverse order of ids, so a sort by due is visible.
        Case.objects.filter(pk=c.pk).update(due_at=now + timedelta(hours=len(cases) - i))
    return cases


def test_a_page_keeps_the_sort_order_and_pages_through_everything(people: Personas) -> None:
    cases = make_cases(7)
    f = CaseFilters.from_params({"sort": "due"})
    qs = cases_filtered(people.city, f, timezone.now())
    first = case_page(qs, 1, per_page=3)
    assert [c.pk for c in first.object_list] == [c.pk for c in reversed(cases)][:3]
    seen = [c.pk for n in (1, 2, 3) for c in case_page(qs, n, per_page=3).object_list]
    assert sorted(seen) == sorted(c.pk for c in cases) and len(seen) == 7
    assert first.paginator.count == 7


def test_the_list_filters_by_state_and_overdue(people: Personas) -> None:
    cases = make_cases(3)
    Case.objects.filter(pk=cases[0].pk).update(state=State.CLEARED)
    Case.objects.filter(pk=cases[1].pk).update(due_at=timezone.now() - timedelta(hours=1))
    c = Client()
    c.force_login(people.city)
    page = c.get(reverse("case_list"), {"state": "cleared"}).content.decode()
    assert cases[0].reference in page and cases[2].reference not in page
    page = c.get(reverse("case_list"), {"overdue": "1"}).content.decode()
    assert cases[1].reference in page and cases[2].reference not in page


def test_search_finds_a_case_by_any_of_its_ips_and_by_department(people: Personas) -> None:
    import_list(data=csv_bytes([row("60.12.6.1", "某科技有限公司"), row("60.12.6.2", "某科技有限公司"),
                                row("60.12.6.3", "另一公司")]),
                file_name="k.csv", list_type="key", week=WEEK)
    case = Case.objects.get(ips__value="60.12.6.2")
    qs = cases_filtered(people.city, CaseFilters.from_params({"q": "60.12.6.2"}), timezone.now())
    assert list(qs) == [case]
    co = case.co_departments.first()
    assert co is not None
    by_dept = cases_filtered(people.city, CaseFilters.from_params({"department": co.code}),
                             timezone.now())
    assert case in by_dept
