"""The demo is the first thing a new user runs: it must leave a closed week and a bulletin
they can open."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

from django.core.management import call_command
from docx import Document

from qingling.supervision.bulletin import bulletin_dir
from qingling.supervision.models import Bulletin, WeeklyClose


def test_the_demo_closes_last_week_and_writes_its_bulletin(db: None, settings: object,
                                                           tmp_path: Path) -> None:
    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    out = io.StringIO()
    call_command("demo", stdout=out)
    close = WeeklyClose.objects.get()
    bulletin = Bulletin.objects.get(week=close.week)
    docx = bulletin_dir() / f"bulletin-{close.week}.docx"
    assert docx.exists() and (bulletin_dir() / f"bulletin-{close.week}-annex.xlsx").exists()
    text = "\n".join(p.text for p in Document(str(docx)).paragraphs)
    assert bulletin.doc_number in text
    assert f"按期清零{close.figures['city']['key_on_time']}条" in text
    assert close.figures["city"]["key_received"] > 0
    assert str(docx) in out.getvalue()
    # Every confirmed site of the closed week counts energy, or is listed as having none.
    sites = close.figures["sites"]
    assert sites and all(Decimal(s["kwh"]) > 0 or s["basis"] == "none" for s in sites)
    assert sum(Decimal(s["kwh"]) > 0 for s in sites) > len(sites) / 2
    assert close.figures["city"]["no_estimate"] == sum(s["basis"] == "none" for s in sites)
    # Running the demo again loads nothing twice and issues no second number.
    call_command("demo", stdout=io.StringIO())
    assert WeeklyClose.objects.count() == 1 and Bulletin.objects.count() == 1


def test_after_the_demo_every_member_unit_has_tasks_and_the_project_list_matches_the_close(
        db: None, settings: object, tmp_path: Path, capsys: object) -> None:
    import json

    from openpyxl import load_workbook

    from qingling import cli

    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    call_command("demo", stdout=io.StringIO())
    capsys.readouterr()  # type: ignore[attr-defined]
    assert cli.main(["tasks", "--json"]) == 0
    tasks = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert {"case", "department", "kind", "due", "state"} <= set(tasks[0])
    assert len({t["department"] for t in tasks}) >= 6
    assert cli.main(["tasks", "--json", "--department", "psb"]) == 0
    psb = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert psb and {t["department"] for t in psb} == {"psb"}

    close = WeeklyClose.objects.get()
    # Two makers registered by the economy & IT bureau, one rectified.
    assert {k: close.figures["makers"][-1][k] for k in ("makers", "rectified", "rate")} == {
        "makers": 2, "rectified": 1, "rate": 0.5}
    out = tmp_path / "projects.xlsx"
    assert cli.main(["project-list", "--week", close.week, "--out", str(out)]) == 0
    rows = list(load_workbook(out).worksheets[0].iter_rows(values_only=True))
    header = list(rows[0])
    assert {"所属企业", "规模", "算力", "耗电量", "状态"} <= set(header)
    kwh_of = {r[header.index("案件")]: r[header.index("耗电量")] for r in rows[1:]}
    sites = close.figures["sites"]
    # One row per confirmed site, each with the energy the close counted for it.
    assert len(rows) - 1 == len(sites)
    assert {f"QL{s['case']:07d}": Decimal(s["kwh"]) for s in sites if s["basis"] != "none"} == {
        ref: Decimal(str(v)) for ref, v in kwh_of.items() if v not in (None, "")}
    assert sum(Decimal(str(v)) for v in kwh_of.values() if v) == Decimal(close.figures["city"]["kwh"])
    # The demo's machines are Antminer S19s: 95 TH/s each.
    scale = header.index("规模")
    assert all(Decimal(str(r[header.index("算力")])) == 95 * r[scale] for r in rows[1:] if r[scale])
