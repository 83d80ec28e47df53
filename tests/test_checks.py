"""Power-market and support checks: imported lists matched against confirmed mining
subjects by credit code, name and address, each row shown with the rule used."""

from __future__ import annotations

import pytest

from qingling.cases.services import case_correct
from qingling.org.models import SubjectType
from qingling.org.services import user_provision
from qingling.tasks.checks import CheckError, check_import
from qingling.tasks.models import CheckList, CheckRow, DepartmentTask
from tests.conftest import PASSWORD, Personas, client_for, csv_bytes
from tests.test_tasks import confirm, make_case

HEADER = ["序号", "企业名称", "统一社会信用代码", "注册地址"]


@pytest.fixture
def grid(ref: None) -> object:
    return user_provision(username="grid", password=PASSWORD, role="department",
                          department_code="grid")


def test_a_power_market_list_is_matched_by_code_then_name_then_address(
        people: Personas, task_routes: None, grid: object) -> None:
    by_code = make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE)
    by_code.uscc = "91330402MA2B3C4D5E"
    by_code.save(update_fields=["uscc"])
    by_name = make_case("嘉兴华星电子有限公司", SubjectType.ENTERPRISE)
    by_address = make_case("嘉兴东方五金厂", SubjectType.ENTERPRISE)
    by_address.address = "嘉兴市南湖区凤桥镇工业路8号"
    by_address.save(update_fields=["address"])
    for c in (by_code, by_name, by_address):
        confirm(c, people)
    data = csv_bytes([["1", "恒达纺织（嘉兴）", "91330402MA2B3C4D5E", ""],
                      ["2", "嘉兴华星电子有限公司", "", "嘉兴市秀洲区"],
                      ["3", "嘉兴某某实业有限公司", "", "嘉兴市南湖区凤桥镇 工业路8号"],
                      ["4", "嘉兴无关贸易有限公司", "91330411MA2B3C4D6F", "嘉兴市秀洲区新塍镇"]],
                     header=HEADER, title="电力市场交易主体名单")
    cl, made = check_import(actor=grid, kind="power_market", data=data, file_name="交易主体.csv")
    assert made and (cl.rows, cl.matched) == (4, 3)
    assert list(CheckRow.objects.filter(check_list=cl).values_list("row_number", "rule",
                                                                    "case")) == [
        (3, "uscc", by_code.pk), (4, "name", by_name.pk), (5, "address", by_address.pk),
        (6, "", None)]
    drc = DepartmentTask.objects.filter(kind__code="drc_market")
    assert sorted(drc.values_list("case", flat=True)) == sorted(
        [by_code.pk, by_name.pk, by_address.pk])
    assert {t.source for t in drc} == {"check"}
    assert drc.get(case=by_address).basis == "电力市场交易主体名单（交易主体.csv 第 5 行，地址相同）"
    # The same rows again change nothing.
    again, made = check_import(actor=grid, kind="power_market", data=data, file_name="再次.csv")
    assert (again.pk, made) == (cl.pk, False) and drc.count() == 3
    # A change of facts re-routes the rule-made tasks but keeps the list's.
    case_correct(case_id=by_code.pk, actor=people.city, reason="更正", behaviour="active")
    assert drc.get(case=by_code).state == "todo"
    page = client_for(grid).get(f"/tasks/checks/{cl.pk}/").content.decode()
    assert page.count('data-rule="none"') == 1 and by_name.reference in page


def test_a_bad_row_refuses_the_whole_list_naming_row_and_field(
        people: Personas, task_routes: None, grid: object) -> None:
    data = csv_bytes([["1", "嘉兴恒达纺织有限公司", "91330402MA2B3C4D5E", ""],
                      ["2", "嘉兴华星电子有限公司", "9133040", ""]], header=HEADER)
    with pytest.raises(CheckError, match=r"优惠.csv row 3, 统一社会信用代码: not an 18-character"):
        check_import(actor=grid, kind="preferences", data=data, file_name="优惠.csv")
    assert not CheckList.objects.exists()
    with pytest.raises(CheckError, match="Only the grid"):
        check_import(actor=people.county_a, kind="preferences", data=data, file_name="x.csv")
    assert client_for(people.county_a).get("/tasks/checks/").status_code == 403
