"""Imports you can check before they land: upload → preview (columns in Chinese, rejected
rows with their cells, the diff row by row) → remap a column → confirm or cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from qingling.cases.models import Case, State
from qingling.cli import main
from qingling.intake.models import ListBatch
from qingling.intake.services import import_list
from qingling.jobs import runner
from qingling.jobs.models import Job
from tests.conftest import WEEK, Personas, at, client_for, csv_bytes, row


@pytest.fixture(autouse=True)
def home(settings: Any, tmp_path: Path) -> Path:
    settings.QINGLING_HOME = tmp_path / "home"
    return settings.QINGLING_HOME  # type: ignore[no-any-return]


HEADER = ["IP地址", "端口", "发现时间", "客户名", "所属区县"]  # 客户名: no alias knows it


def upload(c: Client, data: bytes, week: str = "2026-W48") -> tuple[Job, str]:
    resp = c.post("/lists/import/", {"file": SimpleUploadedFile("k.csv", data),
                                     "list_type": "key", "week": week}, follow=True)
    job = Job.objects.filter(kind="import_preview").order_by("-id").first()
    assert job is not None and resp.redirect_chain[-1][0] == f"/jobs/{job.pk}/"
    return job, resp.content.decode()


def week47(people: Personas) -> None:
    """Last week's key list: A and B listed; B has since been cleared."""
    when = "2026-11-15 10:00:00"
    import_list(data=csv_bytes([row("60.3.0.1", "甲公司", when=when),
                                row("60.3.0.2", "乙公司", when=when),
                                row("60.3.0.3", "丙公司", when=when)]),
                file_name="w47.csv", list_type="key", week=WEEK, now=at("2026-11-16T09:00"))
    Case.objects.filter(ip_summary="60.3.0.2").update(state=State.CLEARED)


def test_preview_remap_and_confirm(people: Personas) -> None:
    week47(people)
    data = csv_bytes([["60.3.0.1", "3333", "2026-11-23 10:00:00", "甲公司", "南湖区"],
                      ["60.3.0.2", "3333", "2026-11-23 10:00:00", "乙公司", "南湖区"],
                      ["60.3.0.9", "3333", "2026-11-23 10:00:00", "丁公司", "南湖区"],
                      ["not-an-ip", "3333", "2026-11-23 10:00:00", "戊公司", "南湖区"]],
                     header=HEADER)
    c = client_for(people.city)
    job, page = upload(c, data)
    # Nothing was written by the preview.
    assert ListBatch.objects.count() == 1 and Case.objects.count() == 3
    assert "尚未写入任何数据" in page and "共读取 4 行：可导入 3 行，有误 1 行" in page
    r = job.result
    assert r["counts"] == {"new": 1, "present": 1, "reappeared": 1, "absent": 1}
    by = {s["key"]: [d["ip"] for d in s["rows"]] for s in r["sections"]}
    assert by == {"new": ["60.3.0.9"], "present": ["60.3.0.1"], "reappeared": ["60.3.0.2"],
                  "absent": ["60.3.0.3"]}
    # The rejected row keeps every original cell; the columns are named in Chinese.
    assert r["errors"] == [{"row": 5, "reasons": [r["errors"][0]["reasons"][0]],
                            "cells": ["not-an-ip", "3333", "2026-11-23 10:00:00", "戊公司",
                                      "南湖区"]}]
    assert "不是IP地址" in page and "戊公司" in page and "单位名称" in page
    unknown = [col for col in r["columns"] if not col["known"]]
    assert [col["header"] for col in unknown] == ["客户名"]
    # Read 客户名 as the unit name, preview again, then import the valid rows.
    idx = unknown[0]["index"]
    c.post(f"/lists/import/{job.pk}/confirm/", {"action": "repreview", f"map-{idx}": "unit_name"})
    again = Job.objects.filter(kind="import_preview").order_by("-id").first()
    assert again is not None and again.pk != job.pk and again.params["remap"] == {
        "客户名": "unit_name"}
    assert [col["field"] for col in again.result["columns"]][3] == "unit_name"
    assert not (runner.spool_dir() / job.spool).exists() or Job.objects.get(pk=job.pk).spool == ""
    resp = c.post(f"/lists/import/{again.pk}/confirm/", {"action": "import",
                                                         "accept_valid": "1"})
    batch = ListBatch.objects.order_by("-id").first()
    assert batch is not None and resp["Location"] == f"/lists/{batch.pk}/"
    assert batch.diff["new"] == 1 and batch.diff["present"] == 1
    assert batch.diff["reappeared"] == 1 and batch.diff["absent"] == 1
    assert batch.columns["客户名"] == "unit_name" and batch.rejected_count == 1
    assert Case.objects.get(ip_summary="60.3.0.9").subject_name == "丁公司"
    # The batch page lists the rows of each category; the rejected rows' sheet keeps every
    # original column.
    detail = c.get(f"/lists/{batch.pk}/").content.decode()
    for key, ip in (("new", "60.3.0.9"), ("present", "60.3.0.1"), ("reappeared", "60.3.0.2"),
                    ("absent", "60.3.0.3")):
        part = detail.split(f'id="diff-{key}"', 1)[1].split("</section>", 1)[0]
        assert f"<code>{ip}</code>" in part, key
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(c.get(f"/lists/{batch.pk}/rejected.xlsx").content)).active
    values = [[cell.value for cell in r] for r in sheet.iter_rows()]
    assert values[0][2:] == HEADER and values[1][2:] == ["not-an-ip", "3333",
                                                         "2026-11-23 10:00:00", "戊公司", "南湖区"]
    # The file was used: the preview cannot import it a second time.
    assert Job.objects.get(pk=again.pk).spool == ""
    c.post(f"/lists/import/{again.pk}/confirm/", {"action": "import", "accept_valid": "1"})
    assert ListBatch.objects.count() == 2


def test_a_future_or_older_week_is_warned_about(people: Personas) -> None:
    week47(people)
    c = client_for(people.city)
    _job, future = upload(c, csv_bytes([row("60.3.1.1", "甲")]), week="2030-W10")
    assert "2030-W10 是将来的周" in future
    _job, older = upload(c, csv_bytes([row("60.3.1.2", "乙")]), week="2026-W40")
    assert "已导入更晚的重点名单（2026-W47）" in older


def test_cancel_writes_nothing_and_forgets_the_file(people: Personas) -> None:
    c = client_for(people.city)
    job, _page = upload(c, csv_bytes([row("60.3.2.1", "甲")]))
    spooled = runner.spool_dir() / job.spool
    assert spooled.exists()
    # Someone else cannot use another officer's preview.
    other = client_for(people.county_a)
    assert other.post(f"/lists/import/{job.pk}/confirm/", {"action": "import"}).status_code == 403
    c.post(f"/lists/import/{job.pk}/confirm/", {"action": "cancel"})
    assert not spooled.exists() and ListBatch.objects.count() == 0 and Case.objects.count() == 0


def test_a_large_file_is_previewed_and_imported_by_the_worker(people: Personas,
                                                              settings: Any) -> None:
    settings.QINGLING_INLINE_IMPORT_BYTES = 10
    c = client_for(people.city)
    c.post("/lists/import/", {"file": SimpleUploadedFile("k.csv", csv_bytes(
        [row("60.3.3.1", "甲"), row("60.3.3.2", "乙")])), "list_type": "key",
        "week": "2026-W48"})
    job = Job.objects.get()
    assert job.state == Job.State.QUEUED
    runner.worker_loop(once=True)
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.result["counts"]["new"] == 2
    resp = c.post(f"/lists/import/{job.pk}/confirm/", {"action": "import"})
    imp = Job.objects.get(kind="import_list")
    assert resp["Location"] == f"/jobs/{imp.pk}/" and imp.state == Job.State.QUEUED
    runner.worker_loop(once=True)
    assert Job.objects.get(pk=imp.pk).state == Job.State.DONE and Case.objects.count() == 2


def test_the_command_line_previews_without_writing(people: Personas, tmp_path: Path,
                                                   capsys: Any) -> None:
    f = tmp_path / "k.csv"
    f.write_bytes(csv_bytes([row("60.3.4.1", "甲"), row("bad", "乙")]))
    assert main(["import-list", str(f), "--list-type", "key", "--week", "2026-W47",
                 "--preview"]) == 0
    out = capsys.readouterr().out
    assert "2 rows, 1 importable, 1 rejected" in out and "new 1" in out
    assert ListBatch.objects.count() == 0 and Job.objects.count() == 0
