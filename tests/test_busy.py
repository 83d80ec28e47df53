"""When the embedded database stays locked by another writer past the busy timeout, the
user gets a clear "busy, try again" answer — a Chinese page with 503, or a one-line message
and exit status 75 from the command line — never a traceback, and nothing is written."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

from django.db import OperationalError

from qingling.cases.models import Case, State
from qingling.cli import main
from qingling.intake.services import import_list
from tests.conftest import WEEK, Personas, at, client_for, csv_bytes, row


def test_a_save_that_meets_a_locked_database_gets_a_busy_page(people: Personas) -> None:
    import_list(data=csv_bytes([row("60.5.5.1", "甲公司", when="2026-11-15 10:00:00")]),
                file_name="k.csv", list_type="key", week=WEEK, now=at("2026-11-16T09:00"))
    case = Case.objects.get()
    with mock.patch("qingling.cases.views.case_transition",
                    side_effect=OperationalError("database is locked")):
        resp = client_for(people.county_a).post(f"/cases/{case.pk}/act/sign/")
    assert resp.status_code == 503 and resp["Retry-After"] == "10"
    page = resp.content.decode()
    assert "系统繁忙" in page and "Traceback" not in page
    assert Case.objects.get().state == State.DISPATCHED


def test_other_database_errors_are_not_hidden(people: Personas) -> None:
    import pytest

    c = client_for(people.county_a)
    c.raise_request_exception = True
    with mock.patch("qingling.cases.views.inbox", side_effect=OperationalError("no such table")):
        with pytest.raises(OperationalError):
            c.get("/inbox/")


def test_the_command_line_says_busy_and_exits_75(db: None, capsys: object,
                                                 tmp_path: Path) -> None:
    f = tmp_path / "k.csv"
    f.write_bytes(csv_bytes([row("60.5.5.2", "乙公司", when="2026-11-15 10:00:00")]))
    with mock.patch("qingling.intake.jobs.import_list",
                    side_effect=OperationalError("database is locked")):
        code = main(["import-list", str(f), "--list-type", "key", "--week", "2026-W47"])
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert code == 75 and "the database is busy" in err and "Traceback" not in err
