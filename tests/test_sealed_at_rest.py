"""The database holds ciphertext only: after the demo and the README's screening path, the
SQLite file (and its WAL) contains none of the people's names, ID numbers or phones the
lists and the carrier register carried; a key rotation re-seals everything and the data
still reads."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command
from django.db.models import TextField
from django.db.models.functions import Cast

from qingling.cases.models import Case, SiteVisit
from qingling.common import crypto
from qingling.common.models import DataKey
from qingling.intake.models import ListRow
from qingling.intake.services import import_list
from tests.conftest import WEEK, Personas, at, csv_bytes, row

ROOT = Path(__file__).resolve().parents[1]


def run(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(QINGLING_HOME=str(home), PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run([sys.executable, "-m", "qingling", *args], env=env, cwd=home,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def raw(model: type, field: str) -> str:
    """The stored token itself, as the database holds it."""
    return str(model.objects.annotate(r=Cast(field, TextField())).values_list("r", flat=True)
               .first())


def people_in(files: list[Path]) -> set[str]:
    """Names of persons, ID numbers and phones in the files the demo was given."""
    found: set[str] = set()
    for f in files:
        text = f.read_text(encoding="utf-8-sig", errors="ignore") if f.suffix == ".csv" else ""
        for r in csv.reader(text.splitlines()):
            for cell in r:
                cell = cell.strip()
                if len(cell) == 18 and cell[:17].isdigit():  # an ID number
                    found.add(cell)
                elif len(cell) == 11 and cell.isdigit() and cell.startswith("1"):  # a mobile
                    found.add(cell)
    return found


def test_the_database_file_holds_no_personal_data_in_clear(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    run(home, "demo")
    run(home, "synth", "flows", "--rows", "20000", "--miners", "5", "--out", "day.parquet")
    run(home, "synth", "carrier", "--for-flows", "day.parquet", "--out-dir", "carrier")
    run(home, "import-subscribers", "carrier/subscribers.csv")
    run(home, "screen", "network", "day.parquet", "--radius", "carrier/radius.csv")
    subscribers = list(csv.DictReader((home / "carrier" / "subscribers.csv").open(
        encoding="utf-8-sig")))
    secrets = people_in([*home.glob("*.csv"), home / "carrier" / "subscribers.csv"])
    names = {r[k] for r in subscribers for k in r if k in ("name", "户名", "姓名", "用户名称")
             if r[k]}
    # The residential subjects of the demo's lists: persons' names (2–4 characters).
    for f in home.glob("*.csv"):
        for r in csv.reader(f.read_text(encoding="utf-8-sig", errors="ignore").splitlines()):
            if r and r[-1].strip() in ("个人", "个人宽带", "家庭宽带"):
                names.add(r[5].strip())
    names = {n for n in names if len(n) >= 2}
    assert secrets and names, "the demo's files should carry personal data to look for"
    blob = b"".join(p.read_bytes() for p in home.glob("qingling.sqlite3*"))
    leaked = sorted(v for v in secrets | names if v.encode("utf-8") in blob)
    assert leaked == []


def test_rotation_re_seals_everything_and_the_data_still_reads(people: Personas) -> None:
    import_list(data=csv_bytes([row("60.8.1.1", "黄华", address="嘉兴市南湖区某路1号",
                                    kind="个人宽带", when="2026-11-15 10:00:00")]),
                file_name="k.csv", list_type="key", week=WEEK, now=at("2026-11-16T09:00"))
    case = Case.objects.get()
    case.phone = "13800001234"
    case.save()
    assert crypto.version_of(raw(Case, "phone")) == 1
    assert raw(Case, "phone") != "13800001234"
    call_command("keys", "rotate")
    assert DataKey.objects.count() == 2
    crypto.reset_cache()
    assert crypto.version_of(raw(Case, "phone")) == 2
    assert crypto.version_of(raw(ListRow, "fields")) == 2
    again = Case.objects.get()
    assert (again.subject_name, again.phone) == ("黄华", "13800001234")
    assert ListRow.objects.get().fields["unit_name"] == "黄华"
    # Found by exact phone and name through the blind indexes, after rotation too.
    assert Case.objects.filter(phone_index=crypto.blind("13800001234", "phone")).exists()
    assert Case.objects.filter(name_index=crypto.blind("黄华", "subject_name")).exists()
    assert not SiteVisit.objects.exists()
