"""The bulletin as an official document: GB/T 9704 layout, numbering, and the same numbers
as the close, the annex and the dashboard."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm
from openpyxl import load_workbook

from qingling.supervision import bulletin as bul
from qingling.supervision.bulletin import issue
from qingling.supervision.services import reference_load, weekly_close
from tests.conftest import WEEK, Personas, at
from tests.test_supervision import three_key_items

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "bulletin"


@pytest.fixture
def closed(people: Personas) -> None:
    reference_load()
    three_key_items(people)
    weekly_close(WEEK.shift(-1), at("2026-11-15T12:00"))
    weekly_close(WEEK, at("2026-11-22T12:00"))


def run_fonts(doc: object) -> set[str]:
    names = set()
    for el in doc.element.body.iter(qn("w:rFonts")):  # type: ignore[attr-defined]
        names.add(el.get(qn("w:eastAsia")))
    return names


def test_the_docx_has_the_gb9704_page_fonts_red_header_and_numbers(closed: None,
                                                                     tmp_path: Path) -> None:
    files = issue(WEEK.shift(-1), tmp_path, at("2026-11-16T09:00"), pdf=False)
    assert files.doc_number == "嘉挖专班〔2026〕1号"
    files = issue(WEEK, tmp_path, at("2026-11-23T09:00"), pdf=False)
    assert files.doc_number == "嘉挖专班〔2026〕2号"
    # Issuing a week again keeps its number; the sequence does not move.
    assert issue(WEEK, tmp_path, at("2026-11-23T10:00"), pdf=False).doc_number == files.doc_number
    doc = Document(str(files.docx))
    sec = doc.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)
    assert [round(x.mm) for x in (sec.top_margin, sec.bottom_margin, sec.left_margin,
                                  sec.right_margin)] == [37, 35, 28, 26]
    assert round((sec.page_width - sec.left_margin - sec.right_margin) / Mm(1)) == 156
    grid = sec._sectPr.find(qn("w:docGrid"))
    assert grid is not None and int(grid.get(qn("w:linePitch"))) == 580  # 22 lines in 225 mm
    assert {"仿宋_GB2312", "方正小标宋简体", "黑体", "楷体_GB2312"} <= run_fonts(doc)
    paras = doc.paragraphs
    organ = paras[0]
    assert organ.text == "嘉兴市整治虚拟货币“挖矿”活动工作专班"
    assert all(r.font.color.rgb == bul.RED for r in organ.runs)
    number = next(p for p in paras if p.text == files.doc_number)
    rule = number._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom"))
    assert rule.get(qn("w:color")) == "FF0000"
    title = next(p for p in paras if p.text.endswith("通报"))
    assert title.runs[0].font.size.pt == 22 and title.runs[0].font.name == "方正小标宋简体"
    body = next(p for p in paras if p.text.startswith("本周全市重点名单"))
    assert body.runs[0].font.size.pt == 16 and body.runs[0].font.name == "仿宋_GB2312"
    footer = sec.footer.paragraphs[0]
    assert footer.text.startswith("— ") and footer.text.endswith(" —")
    assert "PAGE" in "".join(t.text for t in footer._p.iter(qn("w:instrText")))


def test_the_bulletin_annex_and_close_agree(closed: None, tmp_path: Path,
                                            client: object, people: Personas) -> None:
    from qingling.supervision.models import WeeklyClose

    files = issue(WEEK, tmp_path, at("2026-11-23T09:00"), pdf=False)
    figures = WeeklyClose.objects.get(week=str(WEEK)).figures
    expected = bul.key_rows(figures)
    doc = Document(str(files.docx))
    table1 = doc.tables[0]
    docx_rows = [[c.text for c in r.cells] for r in table1.rows][1:]
    assert docx_rows == [[str(v) for v in r] for r in expected]
    ws = load_workbook(files.xlsx)["表1 重点名单清零"]
    xlsx_rows = [[c for c in r] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert xlsx_rows == expected
    nanhu = next(r for r in expected if r[0] == "南湖区")
    assert nanhu[1:5] == [3, 1, 1, 1]
    assert "逾期未清零1条" in "".join(p.text for p in doc.paragraphs)


@pytest.mark.skipif(bul.soffice() is None,
                    reason="LibreOffice is not installed (.ci/run installs it)")
def test_libreoffice_opens_the_docx_and_page_one_is_saved_as_an_image(closed: None,
                                                                      tmp_path: Path) -> None:
    files = issue(WEEK, tmp_path, at("2026-11-23T09:00"))
    assert files.pdf is not None and files.pdf.read_bytes().startswith(b"%PDF")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                        str(files.pdf), str(ARTIFACTS / "page1")], check=True)
        assert (ARTIFACTS / "page1.png").stat().st_size > 10_000
    info = subprocess.run(["pdfinfo", str(files.pdf)], capture_output=True, text=True)
    if info.returncode == 0:
        assert "(A4)" in info.stdout and "python-docx" not in info.stdout


def test_without_libreoffice_the_message_says_so(closed: None, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bul.shutil, "which", lambda _name: None)
    files = issue(WEEK, tmp_path, at("2026-11-23T09:00"))
    assert files.pdf is None and "LibreOffice" in files.pdf_message
    assert files.docx.exists() and files.xlsx.exists()


def test_a_week_not_yet_closed_has_no_bulletin(people: Personas, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not closed yet"):
        issue(WEEK, tmp_path, at("2026-11-23T09:00"))
