"""Background jobs: a large upload is imported by the worker while its page follows the
progress; imports write in short transactions and resume after a stop; one import at a time."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from qingling.audit.models import AuditEntry
from qingling.cases.models import Case
from qingling.cli import main
from qingling.intake import services
from qingling.intake.models import Appearance, ListBatch, ListRow
from qingling.intake.services import import_list
from qingling.jobs import runner
from qingling.jobs.models import Job
from tests.conftest import WEEK, Personas, at, client_for, csv_bytes, row


@pytest.fixture
def home(settings: Any, tmp_path: Path) -> Path:
    settings.QINGLING_HOME = tmp_path / "home"
    return settings.QINGLING_HOME  # type: ignore[no-any-return]


def rows(n: int, prefix: str = "60.9") -> bytes:
    return csv_bytes([row(f"{prefix}.{i // 250}.{i % 250 + 1}", f"单位{prefix}-{i}号",
                          when="2026-11-15 10:00:00") for i in range(n)])


def test_a_large_upload_goes_to_the_worker_and_its_page_follows_it(
        people: Personas, home: Path, settings: Any) -> None:
    settings.QINGLING_INLINE_IMPORT_BYTES = 10
    c = client_for(people.city)
    c.post("/lists/import/", {"file": SimpleUploadedFile("k.csv", rows(7)),
                              "list_type": "key", "week": "2026-W47"})
    preview = Job.objects.get()
    assert runner.worker_loop(once=True) == 1  # the preview, by the worker
    resp = c.post(f"/lists/import/{preview.pk}/confirm/", {"action": "import"})
    job = Job.objects.get(kind="import_list")
    assert resp.status_code == 302 and resp["Location"] == f"/jobs/{job.pk}/"
    assert job.state == Job.State.QUEUED and Case.objects.count() == 0
    # The input waits sealed, for the service account only.
    spooled = runner.spool_dir() / job.spool
    assert stat.S_IMODE(spooled.stat().st_mode) == 0o600
    assert "单位60.9-1号".encode() not in spooled.read_bytes()
    page = c.get(f"/jobs/{job.pk}/").content.decode()
    assert "排队中" in page and "没有正在运行的后台任务进程" in page
    assert json.loads(c.get(f"/jobs/{job.pk}/status.json").content)["state"] == "queued"

    assert runner.worker_loop(once=True) == 1
    job.refresh_from_db()
    batch = ListBatch.objects.get()
    assert job.state == Job.State.DONE and job.result["batch_id"] == batch.pk
    assert job.result["url"] == f"/lists/{batch.pk}/" and not spooled.exists()
    assert Case.objects.count() == 7 and batch.status == ListBatch.Status.COMPLETE
    status = json.loads(c.get(f"/jobs/{job.pk}/status.json").content)
    assert status["finished"] and status["url"] == f"/lists/{batch.pk}/"
    page = c.get(f"/jobs/{job.pk}/").content.decode()
    assert "已完成" in page and "新增 7" in page and f'href="/lists/{batch.pk}/"' in page
    # Someone else's job is not theirs to see.
    assert client_for(people.county_a).get(f"/jobs/{job.pk}/").status_code == 404
    assert client_for(people.county_a).get(f"/jobs/{job.pk}/status.json").status_code == 404
    assert AuditEntry.objects.filter(action="job_queue", object_id=str(job.pk)).count() == 1


def test_a_refused_file_shows_its_rows_on_the_job_page(people: Personas, home: Path,
                                                       settings: Any) -> None:
    settings.QINGLING_INLINE_IMPORT_BYTES = 10
    c = client_for(people.city)
    bad = csv_bytes([row("60.9.0.1", "甲"), row("not-an-ip", "乙")])
    c.post("/lists/import/", {"file": SimpleUploadedFile("k.csv", bad), "list_type": "key",
                              "week": "2026-W47"})
    runner.worker_loop(once=True)
    c.post(f"/lists/import/{Job.objects.get().pk}/confirm/", {"action": "import"})
    runner.worker_loop(once=True)
    job = Job.objects.get(kind="import_list")
    assert job.state == Job.State.FAILED and job.result["rejected"]
    page = c.get(f"/jobs/{job.pk}/").content.decode()
    assert "未导入任何数据" in page and "不是IP地址" in page
    assert ListBatch.objects.count() == 0 and Case.objects.count() == 0


def test_a_queued_job_can_be_cancelled_by_its_owner(people: Personas, home: Path,
                                                    settings: Any) -> None:
    settings.QINGLING_INLINE_IMPORT_BYTES = 10
    c = client_for(people.city)
    c.post("/lists/import/", {"file": SimpleUploadedFile("k.csv", rows(2)),
                              "list_type": "key", "week": "2026-W47"})
    job = Job.objects.get()
    assert job.kind == "import_preview"
    assert client_for(people.county_a).post(f"/jobs/{job.pk}/cancel/").status_code == 404
    c.post(f"/jobs/{job.pk}/cancel/")
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED and not (runner.spool_dir() / job.spool).exists()
    assert runner.worker_loop(once=True) == 0 and Case.objects.count() == 0


def test_imports_take_turns_and_a_dead_worker_s_job_is_queued_again(
        people: Personas, home: Path) -> None:
    first = runner.enqueue("import_list", title="a", params={}, data=b"x")
    second = runner.enqueue("import_list", title="b", params={}, data=b"y")
    other = runner.enqueue("other_kind", title="c", params={})
    now = timezone.now()
    assert runner.claim("w1", now=now) == first
    # The lists lane is busy: the next import waits; a job of another lane may run.
    assert runner.claim("w2", now=now) == other
    assert runner.claim("w2", now=now) is None
    # The first worker stopped beating: its job goes back to the queue, first in line.
    later = now + runner.STALE + timedelta(seconds=1)
    picked = runner.claim("w2", now=later)
    assert picked == first and picked is not None and picked.attempts == 2
    assert Job.objects.get(pk=second.pk).state == Job.State.QUEUED


def test_a_command_s_own_job_that_stopped_is_failed_not_rerun(people: Personas,
                                                              home: Path) -> None:
    job = runner.enqueue("import_list", title="cli", params={"inline": True})
    now = timezone.now()
    assert runner.claim("cli", job_id=job.pk, now=now) == job
    runner.claim("w", now=now + runner.STALE + timedelta(seconds=1))
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "run it again" in job.error


def test_an_import_that_stopped_midway_resumes_to_the_same_result(
        people: Personas, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "SLICE", 4)
    monkeypatch.setattr(services, "ROW_CHUNK", 5)
    data = rows(14)
    real = services._record_appearances
    calls = {"n": 0}

    def dies_on_the_third_slice(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("power cut")
        real(*args, **kwargs)

    with mock.patch.object(services, "_record_appearances", dies_on_the_third_slice):
        with pytest.raises(OSError):
            import_list(data=data, file_name="k.csv", list_type="key", week=WEEK,
                        now=at("2026-11-16T09:00"))
    batch = ListBatch.objects.get()
    # Two slices of four subjects were committed; the third rolled back on its own.
    assert batch.status == ListBatch.Status.IMPORTING and batch.progress["slices"] == 2
    assert Case.objects.count() == 8 and ListRow.objects.count() == 14
    s = import_list(data=data, file_name="k.csv", list_type="key", week=WEEK,
                    now=at("2026-11-16T10:00"))
    batch.refresh_from_db()
    assert s.batch_id == batch.pk and s.duplicate_of is None
    assert (s.rows, s.new, s.cases_created, s.present, s.absent) == (14, 14, 14, 0, 0)
    assert batch.status == ListBatch.Status.COMPLETE and batch.diff["new"] == 14
    assert Case.objects.count() == 14 and Appearance.objects.count() == 14
    assert ListRow.objects.count() == 14
    assert AuditEntry.objects.filter(action="create").count() == 14
    assert AuditEntry.objects.filter(action="import").count() == 1
    # The resumed import keeps the time of the first attempt.
    assert batch.imported_at == at("2026-11-16T09:00")
    again = import_list(data=data, file_name="k.csv", list_type="key", week=WEEK)
    assert again.duplicate_of == batch.pk and Case.objects.count() == 14


@pytest.mark.skipif(connection.vendor != "sqlite", reason="counts SQLite's BEGIN IMMEDIATE: "
                    "the embedded database's one write lock is what a long import would hold")
@pytest.mark.django_db(transaction=True)
def test_transactions_stay_short_however_long_the_list(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import departments_load, divisions_load, rules_load

    divisions_load()
    departments_load()
    rules_load()
    monkeypatch.setattr(services, "SLICE", 10)
    monkeypatch.setattr(services, "ROW_CHUNK", 10)

    def longest_transaction(data: bytes, week: Any) -> tuple[int, int]:
        counts: list[int] = []

        def watch(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            if sql.startswith("BEGIN"):
                counts.append(0)
            elif counts and connection.in_atomic_block:
                counts[-1] += len(params) if many and params else 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(watch):
            import_list(data=data, file_name=f"{week}.csv", list_type="stock", week=week)
        return max(counts), len(counts)

    from qingling.common.weeks import IsoWeek

    small, n_small = longest_transaction(rows(30, "60.7"), IsoWeek(2026, 46))
    large, n_large = longest_transaction(rows(300, "60.8"), IsoWeek(2026, 47))
    assert Case.objects.count() == 330
    # Ten times the rows: many times the transactions (a few are per import), none longer.
    assert n_large > 5 * n_small and large <= small * 1.5


def test_the_command_line_import_is_a_job_with_progress(people: Personas, home: Path,
                                                        tmp_path: Path, capsys: Any) -> None:
    f = tmp_path / "k.csv"
    f.write_bytes(rows(3))
    assert main(["import-list", str(f), "--list-type", "key", "--week", "2026-W47"]) == 0
    job = Job.objects.get()
    assert job.state == Job.State.DONE and job.result["cases_created"] == 3
    err = capsys.readouterr().err
    assert "Writing cases" in err and "3/3" in err
    g = tmp_path / "g.csv"
    g.write_bytes(rows(2, "60.6"))
    assert main(["import-list", str(g), "--list-type", "key", "--week", "2026-W47",
                 "--background", "--json"]) == 0
    queued = json.loads(capsys.readouterr().out)["job"]
    assert Job.objects.get(pk=queued).state == Job.State.QUEUED and Case.objects.count() == 3
    assert main(["worker", "--once"]) == 0
    assert Job.objects.get(pk=queued).state == Job.State.DONE and Case.objects.count() == 5


def test_the_default_key_file_is_not_beside_the_database(
        settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qingling.common import crypto

    monkeypatch.delenv("QINGLING_DATA_KEY", raising=False)
    monkeypatch.delenv("QINGLING_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    settings.QINGLING_HOME = tmp_path / "home"
    settings.QINGLING_HOME.mkdir()
    legacy = settings.QINGLING_HOME / "data_key"
    legacy.write_text("11" * 32)  # an installation from before: its key moves out
    key = crypto.kek()
    path = crypto.default_key_file(settings.QINGLING_HOME)
    assert key == bytes.fromhex("11" * 32) and not legacy.exists()
    assert path.is_file() and settings.QINGLING_HOME not in path.parents
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # A fresh installation makes its own key there.
    settings.QINGLING_HOME = tmp_path / "other"
    fresh = crypto.kek()
    assert fresh != key and crypto.default_key_file(tmp_path / "other").is_file()
    assert not (tmp_path / "other" / "data_key").exists()
