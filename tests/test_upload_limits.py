"""Uploads that cannot hurt: every hostile shape of list file seen in an attack — control
characters, over-long cells, zip bombs, huge fields, huge headers, a second IP column, the
same list in other bytes — ends in a clear message naming the file, row or column, never
in a database error or a half-written import; evidence cannot run script in the browser;
every page carries a strict Content-Security-Policy."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import openpyxl
import pytest
from django.urls import reverse

from qingling.cases.models import Case
from qingling.cases.services import case_transition, evidence_add
from qingling.intake.models import ListBatch, ListRow
from qingling.intake.readers import ListFileError
from qingling.intake.services import ListRejected, import_list
from tests.conftest import HEADER, WEEK, Personas, at, client_for, csv_bytes, row
from tests.test_uploads import png_bytes

SEEN = "2026-11-15 10:00:00"
NOW = at("2026-11-16T09:00")


def imp(data: bytes, accept_valid: bool = False, name: str = "k.csv") -> Any:
    return import_list(data=data, file_name=name, list_type="key", week=WEEK, now=NOW,
                       accept_valid=accept_valid)


@pytest.mark.parametrize("char", ["\x0b", "\x00", "\x1b"])
def test_a_control_character_refuses_its_row_and_is_not_stored(ref: None, char: str) -> None:
    # Far enough into the file that it is not taken for a binary file at first sight.
    filler = [row(f"60.3.0.{i}", f"某某单位{i}号", when=SEEN) for i in range(1, 121)]
    data = csv_bytes([*filler, row("60.1.1.1", f"甲{char}公司", when=SEEN)])
    assert char not in data[:4096].decode()
    with pytest.raises(ListRejected) as exc:
        imp(data)
    assert len(exc.value.errors) == 1
    assert "row 122" in str(exc.value.errors[0]) and "control characters" in str(exc.value.errors[0])
    summary = imp(data, accept_valid=True)
    assert (summary.accepted, summary.rejected) == (120, 1)
    stored = ListRow.objects.get(accepted=False)
    assert stored.fields["unit_name"] == "甲公司" and char not in str(stored.fields)
    assert Case.objects.count() == 120


def test_an_over_long_unit_name_is_refused_per_row_not_cut_or_crashed(ref: None) -> None:
    long_name = "某" * 201
    summary = imp(csv_bytes([row("60.1.2.1", long_name, when=SEEN),
                             row("60.1.2.2", "乙公司", when=SEEN)]), accept_valid=True)
    assert (summary.accepted, summary.rejected) == (1, 1)
    reason = summary.rejected_rows[0]
    assert reason["row"] == 2 and "201 characters, at most 180" in reason["reason"]
    assert not Case.objects.filter(subject_name__startswith="某某").exists()


def test_the_case_export_survives_control_characters_in_any_cell(people: Personas) -> None:
    imp(csv_bytes([row("60.1.3.1", "甲公司", when=SEEN)]))
    Case.objects.update(subject_name="甲\x0b公司\x1f")
    resp = client_for(people.city).get(reverse("case_export"))
    assert resp.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(resp.content)).active
    assert ws is not None
    assert "甲公司" in [c.value for c in next(ws.iter_rows(min_row=2, max_row=2))]


def bomb(uncompressed: int) -> bytes:
    """A valid workbook whose sheet part inflates to ``uncompressed`` bytes (padding that
    compresses a thousandfold: the shape of a zip bomb)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER)
    ws.append(row("60.1.4.1", "甲公司", when=SEEN))
    buf = io.BytesIO()
    wb.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b"<sheetData>", b"<sheetData>" + b" " * uncompressed)
            dst.writestr(info, body)
    return out.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_inflated(ref: None, settings: Any) -> None:
    settings.QINGLING_LIST_MAX_UNCOMPRESSED = 4 * 2**20
    small = bomb(10_000)
    assert imp(small, name="ok.xlsx").accepted == 1
    data = bomb(8 * 2**20)
    assert len(data) < 100_000  # tiny on the wire
    with pytest.raises(ListFileError, match=r"bomb\.xlsx: the workbook expands to 8 MB"):
        imp(data, name="bomb.xlsx")
    assert ListBatch.objects.count() == 1


def test_more_rows_than_the_limit_are_refused_while_reading(ref: None, settings: Any) -> None:
    settings.QINGLING_LIST_MAX_ROWS = 50
    data = csv_bytes([row(f"60.2.{i // 250}.{i % 250 + 1}", f"单位{i}", when=SEEN)
                      for i in range(80)])
    with pytest.raises(ListFileError, match="more than 50 rows"):
        imp(data)
    assert ListBatch.objects.count() == 0


def test_a_huge_csv_field_names_its_line(ref: None) -> None:
    data = csv_bytes([row("60.1.5.1", "甲公司", when=SEEN),
                      row("60.1.5.2", "乙" * 40_000, when=SEEN)])
    with pytest.raises(ListFileError, match=r"k\.csv: line 3: a field is longer than 32,768"):
        imp(data)


def test_a_header_wider_than_200_columns_is_refused(ref: None) -> None:
    header = [*HEADER, *[f"列{i}" for i in range(1_000)]]
    data = csv_bytes([row("60.1.6.1", "甲公司", when=SEEN)], header=header)
    with pytest.raises(ListFileError, match=r"the header has 1009 columns; at most 200"):
        imp(data)


def test_a_second_ip_column_is_refused_not_ignored(ref: None) -> None:
    header = [*HEADER, "IP地址（备用）"]
    data = csv_bytes([[*row("60.1.7.1", "甲公司", when=SEEN), "60.1.7.2"]], header=header)
    with pytest.raises(ListFileError, match="2 columns hold IP addresses"):
        imp(data)


def test_the_same_list_with_a_bom_or_as_gbk_is_a_duplicate(ref: None) -> None:
    rows = [row("60.1.8.1", "甲公司", when=SEEN), row("60.1.8.2", "乙公司", when=SEEN)]
    first = imp(csv_bytes(rows))
    assert first.duplicate_of is None
    again = imp(b"\xef\xbb\xbf" + csv_bytes(rows), name="k-bom.csv")
    assert again.duplicate_of == first.batch_id
    gbk = imp(csv_bytes(rows, encoding="gbk"), name="k-gbk.csv")
    assert gbk.duplicate_of == first.batch_id
    assert ListBatch.objects.count() == 1 and Case.objects.count() == 2


def test_evidence_other_than_pictures_is_downloaded_in_a_sandbox(people: Personas) -> None:
    imp(csv_bytes([row("60.1.9.1", "甲公司", when=SEEN)]))
    case = Case.objects.get()
    case_transition(case_id=case.pk, action="sign", actor=people.county_a)
    pdf = evidence_add(case_id=case.pk, actor=people.county_a, original_name="x.pdf",
                       stream=io.BytesIO(b"%PDF-1.4\n/JS (app.alert(1))\n%%EOF\n"))
    png = evidence_add(case_id=case.pk, actor=people.county_a, original_name="p.png",
                       stream=io.BytesIO(png_bytes()))
    c = client_for(people.county_a)
    r = c.get(reverse("evidence_download", args=[pdf.pk]))
    assert r["Content-Disposition"].startswith("attachment")
    assert r["Content-Security-Policy"].startswith("sandbox")
    r = c.get(reverse("evidence_download", args=[png.pk]))
    assert r["Content-Disposition"].startswith("inline")


def test_every_page_has_a_strict_csp_and_no_inline_script(people: Personas) -> None:
    c = client_for(people.city)
    for url in ("/dashboard/", "/inbox/", "/cases/", "/supervision/", "/login/", "/account/"):
        resp = c.get(url)
        csp = resp["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split(
            "style-src-attr")[0], url
        page = resp.content.decode()
        assert "onchange=" not in page and "onclick=" not in page, url
