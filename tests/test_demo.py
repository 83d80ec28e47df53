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
