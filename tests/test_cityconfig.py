"""The city's configuration pages: each change validated in Chinese naming the field,
audited with the row before and after, exported as XLSX; the weekly cut-off set by the city
moves every due date and close computed after it."""

from __future__ import annotations

import io
from datetime import time

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from qingling.audit.models import AuditEntry
from qingling.cases.identity import current_cutoff, cutoff_of
from qingling.common.weeks import IsoWeek
from qingling.org.models import CitySetting, Department, RoutingRule
from qingling.supervision.bulletin import check_text, text
from qingling.supervision.models import EnergyFactor, TariffRate, TextTemplate
from tests.conftest import Personas, at, client_for


def test_the_default_cut_off_is_friday_18_00_beijing(db: None) -> None:
    assert cutoff_of(IsoWeek(2026, 49)) == at("2026-12-04T18:00")


def test_the_city_moves_the_cut_off_and_due_dates_follow(people: Personas) -> None:
    c = client_for(people.city)
    resp = c.post(reverse("config_cutoff"), {"cutoff_weekday": "4", "cutoff_time": "17:30"})
    assert resp.status_code == 302
    # 2026-W49: Monday 30 November, Thursday 3 December.
    assert cutoff_of(IsoWeek(2026, 49)) == at("2026-12-03T17:30")
    # Thursday 17:29 Beijing is before it; 17:31 is after, so next Thursday's.
    assert current_cutoff(at("2026-12-03T17:29")) == at("2026-12-03T17:30")
    assert current_cutoff(at("2026-12-03T17:31")) == at("2026-12-10T17:30")
    # 09:31 UTC is 17:31 in Beijing: the week is judged in Beijing time.
    from datetime import UTC, datetime
    assert current_cutoff(datetime(2026, 12, 3, 9, 29, tzinfo=UTC)) == at("2026-12-03T17:30")
    entry = AuditEntry.objects.get(action="config_change")
    assert entry.data["before"] == {"cutoff_weekday": None, "cutoff_time": None}
    assert entry.data["after"] == {"cutoff_weekday": 4, "cutoff_time": "17:30:00"}


def test_an_emptied_cut_off_falls_back_to_the_default(people: Personas) -> None:
    CitySetting.objects.create(pk=1, cutoff_weekday=1, cutoff_time=time(9, 0))
    assert cutoff_of(IsoWeek(2026, 49)) == at("2026-11-30T09:00")
    client_for(people.city).post(reverse("config_cutoff"),
                                 {"cutoff_weekday": "", "cutoff_time": ""})
    assert cutoff_of(IsoWeek(2026, 49)) == at("2026-12-04T18:00")


def test_a_bad_cut_off_is_refused_naming_the_field(people: Personas) -> None:
    resp = client_for(people.city).post(reverse("config_cutoff"),
                                        {"cutoff_weekday": "9", "cutoff_time": "25:00"})
    page = resp.content.decode()
    assert resp.status_code == 400
    assert "截止星期" in page and "截止时间（北京时间）" in page
    assert not CitySetting.objects.exists()
    assert not AuditEntry.objects.filter(action="config_change").exists()


def test_the_city_edits_a_routing_rule_audited_before_and_after(people: Personas) -> None:
    rule = RoutingRule.objects.get(subject_type="school", behaviour="")
    psb = Department.objects.get(code="psb")
    edu = Department.objects.get(code="education")
    c = client_for(people.city)
    assert c.get(reverse("config_edit", args=["routing", rule.pk])).status_code == 200
    resp = c.post(reverse("config_edit", args=["routing", rule.pk]), {
        "subject_type": "school", "behaviour": "", "lead": edu.pk,
        "co_departments": [psb.pk], "note": "学校 → 教育局 + 公安"})
    assert resp.status_code == 302
    rule.refresh_from_db()
    assert list(rule.co_departments.values_list("code", flat=True)) == ["psb"]
    entry = AuditEntry.objects.get(action="config_change")
    assert entry.actor == people.city and entry.data["table"] == "routing"
    assert entry.data["before"]["co_departments"] == []
    assert entry.data["after"]["co_departments"] == [psb.pk]
    assert entry.data["after"]["note"] == "学校 → 教育局 + 公安"


def test_a_routing_rule_naming_nothing_is_refused(people: Personas) -> None:
    before = RoutingRule.objects.count()
    resp = client_for(people.city).post(reverse("config_new", args=["routing"]),
                                        {"subject_type": "", "behaviour": "", "note": "x"})
    assert resp.status_code == 400
    assert "路由规则须指定主体类型、行为或两者" in resp.content.decode()
    assert RoutingRule.objects.count() == before


def test_a_classification_rule_with_a_broken_pattern_is_refused_naming_the_field(
        people: Personas) -> None:
    resp = client_for(people.city).post(reverse("config_new", args=["classification"]), {
        "priority": "5", "name": "坏规则", "field": "unit_name", "operator": "regex",
        "value": "(学校", "set_subject_type": "school", "is_active": "on"})
    page = resp.content.decode()
    assert resp.status_code == 400
    assert "值：" in page and "正则表达式" in page
    assert not AuditEntry.objects.filter(action="config_change").exists()


def test_a_coefficient_must_be_positive_and_dated_once(people: Personas) -> None:
    c = client_for(people.city)
    good = {"valid_from": "2026-01-01", "tce_per_kwh": "0.0001229", "tco2_per_kwh": "0.000581",
            "source": "GB/T 2589"}
    assert c.post(reverse("config_new", args=["coefficients"]), good).status_code == 302
    again = c.post(reverse("config_new", args=["coefficients"]), good).content.decode()
    assert "生效日期" in again
    neg = c.post(reverse("config_new", args=["coefficients"]),
                 {**good, "valid_from": "2026-02-01", "tce_per_kwh": "-1"})
    assert neg.status_code == 400 and "系数须为正数" in neg.content.decode()
    assert EnergyFactor.objects.count() == 1


def test_a_tariff_rate_needs_a_province_code(people: Personas) -> None:
    c = client_for(people.city)
    resp = c.post(reverse("config_new", args=["tariffs"]), {
        "province_code": "33", "province_name": "浙江省", "yuan_per_kwh": "0.3",
        "valid_from": "2026-01-01"})
    assert resp.status_code == 400 and "省份代码" in resp.content.decode()
    resp = c.post(reverse("config_new", args=["tariffs"]), {
        "province_code": "330000", "province_name": "浙江省", "yuan_per_kwh": "0.3",
        "valid_from": "2026-01-01"})
    assert resp.status_code == 302
    assert TariffRate.objects.get().province_code == "330000"


def test_an_unknown_placeholder_is_refused_naming_it(people: Personas) -> None:
    resp = client_for(people.city).post(reverse("config_text_edit", args=["title"]),
                                        {"body": "关于{{ week_label }}和{{ 周次 }}{{ bogus }}的通报"})
    page = resp.content.decode()
    assert resp.status_code == 400
    assert "bogus" in page and "周次" in page and "未知占位符" in page
    assert not TextTemplate.objects.exists()


def test_the_city_rewords_a_bulletin_text_and_the_bulletin_uses_it(people: Personas) -> None:
    resp = client_for(people.city).post(reverse("config_text_edit", args=["title"]),
                                        {"body": "{{ week_label }}挖矿整治通报"})
    assert resp.status_code == 302
    assert text("title", {"week_label": "2026年第49周"}) == "2026年第49周挖矿整治通报"
    entry = AuditEntry.objects.get(action="config_change")
    assert entry.data["before"]["body"].startswith("关于{{ week_label }}")
    assert entry.data["after"]["body"] == "{{ week_label }}挖矿整治通报"


@pytest.mark.parametrize(("body", "named"), [
    ("{% if risers %}{{ risers }}{% endif %}{{ city.key_received }}", None),
    ("{% for i in interviews %}{{ i }}{% endfor %}", None),
    ("{% if nobody %}x{% endif %}", "“nobody”"),
    ("{{ bogus|length }}", "“bogus”"),
    ("{% load static %}", "{% load static %}"),
    ("{% if risers %}没有结尾", "endif"),
])
def test_bulletin_texts_are_checked(db: None, body: str, named: str | None) -> None:
    problems = check_text(body)
    if named is None:
        assert problems == []
    else:
        assert len(problems) == 1 and named in problems[0]


def test_every_default_text_passes_the_check(db: None) -> None:
    from qingling.supervision.bulletin import DEFAULT_TEXTS

    assert {k: check_text(v) for k, v in DEFAULT_TEXTS.items()} == {k: [] for k in DEFAULT_TEXTS}


def test_each_table_exports_what_it_shows(people: Personas) -> None:
    c = client_for(people.city)
    wb = load_workbook(io.BytesIO(c.get(reverse("config_export", args=["routing"])).content))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][:3] == ("主体类型", "行为", "牵头")
    assert len(rows) == 1 + RoutingRule.objects.count()
    school = RoutingRule.objects.get(subject_type="school", behaviour="")
    assert [str(school.get_subject_type_display()), "", school.lead.name] in [
        [r[0], r[1] or "", r[2]] for r in rows]
    cut = load_workbook(io.BytesIO(c.get(reverse("config_cutoff_export")).content)).active
    assert list(cut.iter_rows(values_only=True))[1][:2] == ("星期五", "18:00")


def test_a_classification_rule_testing_a_fact_the_classifier_lacks_is_refused(
        people: Personas) -> None:
    resp = client_for(people.city).post(reverse("config_new", args=["classification"]), {
        "priority": "5", "name": "错字段", "field": "unitname", "operator": "regex",
        "value": "学校", "set_subject_type": "school", "is_active": "on"})
    assert resp.status_code == 400 and "字段：" in resp.content.decode()


def test_the_classification_table_names_the_facts_in_chinese(people: Personas) -> None:
    page = client_for(people.city).get(reverse("config_table", args=["classification"]))
    text = page.content.decode()
    assert "<td>类型列</td>" in text and "<td>单位名称</td>" in text
    assert "<code>党政|机关|政府</code>" in text
