"""Department task pages: a department sees only its own tasks and their cases, and only
what its role may see of them; moves posted from the case page."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from qingling.audit.models import AuditEntry
from qingling.org.models import SubjectType
from qingling.tasks.models import DepartmentTask, TaskState
from tests.conftest import Personas, client_for
from tests.test_tasks import confirm, make_case, officer
from tests.test_uploads import png_bytes


def test_a_department_sees_only_its_tasks_and_their_cases(people: Personas,
                                                          task_routes: None) -> None:
    firm = confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people)
    home = confirm(make_case("张三丰", SubjectType.RESIDENTIAL, carrier="联通"), people)
    tax = client_for(officer("tax"))
    page = tax.get("/tasks/").content.decode()
    assert firm.reference in page and home.reference not in page
    assert tax.get(f"/cases/{firm.pk}/").status_code == 200
    # The tax bureau has no task on the household and does not lead it: not its case.
    assert tax.get(f"/cases/{home.pk}/").status_code == 404
    edu = client_for(people.dept_other)
    assert firm.reference not in edu.get("/tasks/").content.decode()
    assert edu.get(f"/cases/{firm.pk}/").status_code == 404


def test_a_department_sees_a_persons_name_masked(people: Personas, task_routes: None) -> None:
    home = confirm(make_case("张三丰", SubjectType.RESIDENTIAL, carrier="联通"), people)
    unicom = client_for(officer("unicom"))
    page = unicom.get("/tasks/").content.decode()
    assert home.reference in page and "张**" in page and "张三丰" not in page
    book = load_workbook(io.BytesIO(unicom.get("/tasks/export.xlsx").content))
    cells = [c for r in book.active.iter_rows(values_only=True) for c in r]  # type: ignore[union-attr]
    assert "张**" in cells and "张三丰" not in cells
    assert home.reference in cells and "市教育局" not in cells


def test_the_export_lists_only_the_departments_tasks(people: Personas, task_routes: None) -> None:
    confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people)
    book = load_workbook(io.BytesIO(client_for(officer("tax")).get("/tasks/export.xlsx").content))
    rows = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert [r[4] for r in rows[1:]] == ["市税务局"]
    assert AuditEntry.objects.filter(action="export", data__what="tasks").count() == 1


def test_bulk_start_moves_only_the_departments_own_tasks(people: Personas,
                                                         task_routes: None) -> None:
    confirm(make_case("嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE), people)
    ids = [str(pk) for pk in DepartmentTask.objects.values_list("pk", flat=True)]
    client_for(officer("amr")).post("/tasks/bulk/", {"task": ids})
    assert dict(DepartmentTask.objects.values_list("department__code", "state"))["amr"] == (
        TaskState.DOING)
    assert DepartmentTask.objects.filter(state=TaskState.DOING).count() == 1


def test_the_police_complete_a_task_from_the_case_page_and_the_city_sees_it(
        people: Personas, task_routes: None) -> None:
    case = confirm(make_case("南湖区凤桥镇中学", SubjectType.SCHOOL, carrier="移动"), people,
                   behaviour="hijacked")
    task = DepartmentTask.objects.get(case=case, department__code="psb")
    # The education officer sees the case (it has its own task on it) but may not move
    # the police's.
    edu = client_for(people.dept_other)
    assert f"task-{task.pk}-" not in edu.get(f"/cases/{case.pk}/").content.decode()
    forged = io.BytesIO(png_bytes())
    forged.name = "x.png"
    edu.post(f"/tasks/{task.pk}/complete/", {"outcome": "x", "file": forged})
    assert DepartmentTask.objects.get(pk=task.pk).state == TaskState.TODO
    psb = client_for(people.dept)
    assert f"task-{task.pk}-complete" in psb.get(f"/cases/{case.pk}/").content.decode()
    upload = io.BytesIO(png_bytes())
    upload.name = "笔录.png"
    r = psb.post(f"/tasks/{task.pk}/complete/", {"outcome": "已清除木马并立案侦查",
                                                 "file": upload})
    assert r.status_code == 302 and r["Location"] == f"/cases/{case.pk}/"
    task.refresh_from_db()
    assert task.state == TaskState.DONE and task.evidence.get().original_name == "笔录.png"
    page = client_for(people.city).get(f"/cases/{case.pk}/").content.decode()
    assert "已清除木马并立案侦查" in page and "笔录.png" in page
