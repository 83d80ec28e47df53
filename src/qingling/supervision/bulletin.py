"""The weekly bulletin (通报) as an official document in GB/T 9704-2012 layout, its XLSX
annex with the item-level tables, and a PDF through LibreOffice when it is installed.

Everything printed comes from the frozen weekly close (``WeeklyClose.figures``): the same
numbers the dashboard shows. Wording comes from ``TextTemplate`` rows an administrator can
edit; the defaults are below.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template import Context, Template
from django.utils.translation import gettext as _
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from qingling.audit.services import audit_record
from qingling.cases.models import State
from qingling.common.weeks import SHANGHAI, IsoWeek
from qingling.common.xlsx import build_workbook
from qingling.supervision import charts, units
from qingling.supervision import figures as fig
from qingling.supervision.models import Bulletin, Escalation, TextTemplate, WeeklyClose
from qingling.supervision.projects import HEADERS as PROJECT_HEADERS
from qingling.supervision.projects import shown_rows
from qingling.supervision.services import next_document_number

# GB/T 9704-2012: A4; top 37 mm, binding (left) 28 mm; text block 156 × 225 mm;
# 22 lines × 28 characters of 3号 (16 pt) type.
PAGE_W, PAGE_H = 210, 297
TOP, BOTTOM, LEFT, RIGHT = 37, 35, 28, 26
LINE_PITCH_PT = 225 / 22 / 25.4 * 72  # 28.99 pt
CHAR_PITCH_PT = 156 / 28 / 25.4 * 72  # 15.79 pt
TITLE_FONT, BODY_FONT = "方正小标宋简体", "仿宋_GB2312"
H1_FONT, H2_FONT, PAGE_FONT = "黑体", "楷体_GB2312", "宋体"
RED = RGBColor(0xFF, 0x00, 0x00)

DEFAULT_TEXTS = {
    "title": "关于{{ week_label }}虚拟货币“挖矿”活动整治工作情况的通报",
    "recipients": "各县（市、区）整治虚拟货币“挖矿”活动工作专班，市级有关单位：",
    "opening": "现将{{ week_label }}全市虚拟货币“挖矿”活动整治工作情况通报如下。",
    "overall": (
        "本周全市重点名单应清零{{ city.key_received }}条，按期清零{{ city.key_on_time }}条，"
        "逾期清零{{ city.key_late }}条，逾期未清零{{ city.key_overdue }}条，按期清零率"
        "{{ city_rate }}。存量名单现有{{ city.stock_open }}条{{ city_stock_change }}。"
        "本周新增线索{{ city.new_cases }}条，反弹{{ city.rebounds }}条，收缴矿机"
        "{{ city.machines_seized }}台。"
    ),
    "key": (
        "各县（市、区）重点名单清零情况见表1。{% if laggards %}{{ laggards }}按期清零率未达"
        "100%。{% else %}各地均按期完成清零。{% endif %}"
    ),
    "overdue": (
        "{% if city.key_overdue %}截至本周清零时限，全市逾期未清零重点名单事项"
        "{{ city.key_overdue }}项{% if carried %}（其中往周结转{{ carried }}项）{% endif %}，"
        "明细见表2，须在下周清零时限前完成清零。{% else %}本周无逾期未清零事项。{% endif %}"
        "{% if interviews %}经市整治办研究，约谈{{ interviews|length }}家责任单位主要负责人"
        "（见表3）。{% endif %}"
    ),
    "stock": (
        "{% if risers %}{{ risers }}存量名单不降反升。{% endif %}"
        "{% if high %}{{ high }}存量名单居高不下。{% endif %}"
        "{% if notices %}经市整治办研究，对{{ notices }}予以全市通报，并通报所在地政府领导。"
        "{% endif %}{% if not risers and not high %}各地存量名单均未增加。{% endif %}"
    ),
    "energy": (
        "截至本周，已核实挖矿场所{{ city.energy_sites }}处（其中新发现项目"
        "{{ city.new_projects }}处），挖矿电量{{ kwh_wan }}万千瓦时，计入能耗双控考核电量"
        "{{ counted_kwh_wan }}万千瓦时，折合{{ city.tce }}吨标准煤、{{ city.tco2 }}吨二氧化碳。"
        "加倍计算规则：{{ doubling }}（{{ city.doubled_sites }}处场所加倍计算）。"
        "{% if city.no_estimate %}另有{{ city.no_estimate }}处已核实场所尚无功率或计量数据，"
        "暂未计入，明细见附件。{% endif %}挖矿用电执行惩罚性电价，加价标准见附件。"
    ),
    "next_steps": (
        "各地要对照本通报，于下周五{{ next_cutoff }}前完成本周逾期事项清零，"
        "存量名单只减不增，并按时报送核查、处置证据。"
    ),
}


# The named placeholders a bulletin text may use (what ``content_for`` gives), with what
# each says; ``city.…`` reads the city row of the frozen figures.
PLACEHOLDERS: dict[str, str] = {
    "week_label": "周次（如“2026年第49周（12月1日至12月7日）”）",
    "city": "全市合计（如 city.key_received 应清零条数）",
    "counties": "各县（市、区）数据",
    "city_rate": "全市按期清零率",
    "city_stock_change": "存量较上周的增减",
    "laggards": "按期清零率未达100%的地区",
    "risers": "存量不降反升的地区",
    "high": "存量居高不下的地区",
    "notices": "全市通报的地区",
    "interviews": "约谈事项",
    "carried": "往周结转的逾期事项数",
    "doubling": "加倍计算规则",
    "next_cutoff": "下周清零时限（如“12月11日18:00”）",
    "kwh_wan": "挖矿电量（万千瓦时）",
    "counted_kwh_wan": "计入能耗双控考核电量（万千瓦时）",
}
_ALLOWED_TAGS = ("IfNode", "ForNode", "TextNode", "VariableNode")


def check_text(body: str) -> list[str]:
    """What is wrong with a bulletin text, in words for the city (empty when it is fine):
    a placeholder the bulletin does not give, a tag other than if/for, broken syntax."""
    from django.template import TemplateSyntaxError
    from django.template.base import VariableNode
    from django.template.defaulttags import ForNode, IfNode

    try:
        nodes = Template(body).nodelist
    except TemplateSyntaxError as exc:
        return [_("The text cannot be read: %(error)s") % {"error": exc}]
    problems: list[str] = []
    names: list[str] = []
    bound: set[str] = set()

    def expr_names(expr: Any) -> None:
        var = getattr(expr, "var", None)
        lookups = getattr(var, "lookups", None)
        if lookups:
            names.append(lookups[0])

    def cond_names(cond: Any) -> None:
        if cond is None:
            return
        if hasattr(cond, "value"):
            expr_names(cond.value)
        for side in ("first", "second"):
            if getattr(cond, side, None) is not None:
                cond_names(getattr(cond, side))

    def walk(nodelist: Any) -> None:
        for node in nodelist:
            kind = type(node).__name__
            if kind not in _ALLOWED_TAGS:
                token = getattr(node, "token", None)
                tag = "{% " + token.contents + " %}" if token is not None else kind
                problems.append(_("Only placeholders and if/for are allowed in a bulletin text "
                                  "(found %(tag)s).") % {"tag": tag})
                continue
            if isinstance(node, VariableNode):
                expr_names(node.filter_expression)
            elif isinstance(node, IfNode):
                for cond, inner in node.conditions_nodelists:
                    cond_names(cond)
                    walk(inner)
            elif isinstance(node, ForNode):
                expr_names(node.sequence)
                bound.update(node.loopvars)
                walk(node.nodelist_loop)
                walk(node.nodelist_empty)

    walk(nodes)
    unknown = [n for n in dict.fromkeys(names)
               if n not in PLACEHOLDERS and n not in bound and n != "forloop"]
    problems += [_("Unknown placeholder “%(name)s”: the bulletin gives no such value.")
                 % {"name": n} for n in unknown]
    return problems


def text_body(key: str) -> str:
    """The text the bulletin uses now: the city's wording, else the default."""
    row = TextTemplate.objects.filter(key=key).first()
    return row.body if row else DEFAULT_TEXTS[key]


def text(key: str, context: dict[str, Any]) -> str:
    row = TextTemplate.objects.filter(key=key).first()
    body = row.body if row else DEFAULT_TEXTS[key]
    return Template(body).render(Context(context, autoescape=False)).strip()


def week_label(week: IsoWeek) -> str:
    mon = week.monday()
    sun = date.fromordinal(mon.toordinal() + 6)
    return f"{week.year}年第{week.week}周（{mon.month}月{mon.day}日至{sun.month}月{sun.day}日）"


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.1f}%"


def _stock_change(row: dict[str, Any]) -> str:
    if row["stock_delta"] is None:
        return "（无上周数据）"
    d = row["stock_delta"]
    return "，较上周持平" if d == 0 else (f"，较上周增加{d}条" if d > 0 else f"，较上周减少{-d}条")


# --- the tables: one definition, used by the .docx and by the annex -----------------------

KEY_HEADERS = ["县（市、区）", "应清零", "按期清零", "逾期清零", "逾期未清零", "核实排除", "按期清零率"]
STOCK_HEADERS = ["县（市、区）", "上周存量", "本周存量", "增减", "反弹", "新增线索", "收缴矿机"]
ENERGY_HEADERS = ["县（市、区）", "核实场所", "新发现项目", "电量（千瓦时）", "计入考核电量（千瓦时）",
                  "折标准煤（吨）", "二氧化碳（吨）"]
INTERVIEW_HEADERS = ["序号", "县（市、区）", "约谈对象", "事由", "状态"]
OVERDUE_HEADERS = ["序号", "县（市、区）", "案件", "IP", "清零时限", "逾期周数", "状态"]
TASK_HEADERS = ["成员单位", "本周到期", "已办结", "逾期未办结", "未办结"]
MAKER_HEADERS = ["县（市、区）", "涉矿生产设备有关企业", "整改到位", "整改到位率"]
ENERGY_HEADERS = [*ENERGY_HEADERS[:3], "无估算场所", *ENERGY_HEADERS[3:]]
DOUBLING_TEXT = {
    "high_stock": "存量项目居高不下、不降反升地区的挖矿能耗量加倍计算",
    "new_projects": "新发现挖矿项目的能耗量加倍计算",
    "all": "全部已核实挖矿项目的能耗量加倍计算",
}


def key_rows(figures: dict[str, Any]) -> list[list[Any]]:
    rows = [[r["name"] or "未定位", r["key_received"], r["key_on_time"], r["key_late"],
             r["key_overdue"], r["key_excluded"], _pct(r["on_time_rate"])]
            for r in figures["counties"]]
    c = figures["city"]
    rows.append(["全市", c["key_received"], c["key_on_time"], c["key_late"], c["key_overdue"],
                 c["key_excluded"], _pct(c["on_time_rate"])])
    return rows


def stock_rows(figures: dict[str, Any]) -> list[list[Any]]:
    def delta(r: dict[str, Any]) -> str:
        d = r["stock_delta"]
        return "—" if d is None else f"{d:+d}"

    rows = [[r["name"] or "未定位", "—" if r["stock_prev"] is None else r["stock_prev"],
             r["stock_open"], delta(r), r["rebounds"], r["new_cases"], r["machines_seized"]]
            for r in figures["counties"]]
    c = figures["city"]
    rows.append(["全市", "—" if c["stock_prev"] is None else c["stock_prev"], c["stock_open"],
                 delta(c), c["rebounds"], c["new_cases"], c["machines_seized"]])
    return rows


def energy_rows(figures: dict[str, Any]) -> list[list[Any]]:
    rows = [[r["name"] or "未定位", r["energy_sites"], r["new_projects"], r["no_estimate"],
             r["kwh"], r["counted_kwh"], r["tce"], r["tco2"]] for r in figures["counties"]]
    c = figures["city"]
    rows.append(["全市", c["energy_sites"], c["new_projects"], c["no_estimate"], c["kwh"],
                 c["counted_kwh"], c["tce"], c["tco2"]])
    return rows


def overdue_rows(figures: dict[str, Any]) -> list[list[Any]]:
    names = {r["code"]: r["name"] for r in figures["counties"]}
    states = dict(State.choices)
    return [[n + 1, names.get(i["county"]) or "未定位", i["ref"], i["ip"], i["due_local"],
             i["weeks_overdue"] or "本周", str(states.get(i["state"], i["state"]))]
            for n, i in enumerate(figures["overdue_items"])]


def task_rows(figures: dict[str, Any]) -> list[list[Any]]:
    """Member units' tasks: due in the week, done by the close, overdue (any week), open."""
    rows = [[r["name"], r["due"], r["done"], r["overdue"], r["open"]]
            for r in figures.get("department_tasks", [])]
    if rows:
        rows.append(["合计", *(sum(r[i] for r in rows) for i in range(1, 5))])
    return rows


def maker_rows(figures: dict[str, Any]) -> list[list[Any]]:
    return [[r["name"] or "全市", r["makers"], r["rectified"], _pct(r["rate"])]
            for r in figures.get("makers", [])]


def unit_of(e: Escalation) -> str:
    """Where an escalation's subject sits: its county, or the city for a member unit."""
    return e.county.name if e.county else "市级成员单位"


DECIDED = (Escalation.Status.APPROVED, Escalation.Status.DONE)


def decided_escalations(week: str) -> list[Escalation]:
    """Only what the city decided is announced: a proposal is not a decision."""
    return list(Escalation.objects.filter(week=week, status__in=DECIDED)
                .select_related("county").order_by("county__code", "kind", "id"))


# --- the .docx --------------------------------------------------------------------------

def _fonts(run: Any, name: str, size_pt: float, bold: bool = False,
           color: RGBColor | None = None) -> None:
    run.font.name = name
    run.font.size = Pt(size_pt)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), name)
    if size_pt == 16:
        spacing = OxmlElement("w:spacing")
        spacing.set(qn("w:val"), str(round((CHAR_PITCH_PT - 16) * 20)))
        rpr.append(spacing)


def _no_grid(paragraph: Any) -> None:
    """Lay this paragraph out by its own type size, not the 28-character grid (titles,
    the organ mark and table cells use other sizes)."""
    el = OxmlElement("w:snapToGrid")
    el.set(qn("w:val"), "0")
    paragraph._p.get_or_add_pPr().append(el)


def _para(doc: Any, content: str, font: str = BODY_FONT, size: float = 16, *,
          align: Any = WD_ALIGN_PARAGRAPH.JUSTIFY, indent: bool = True, bold: bool = False,
          color: RGBColor | None = None) -> Any:
    p = doc.add_paragraph()
    if size != 16:
        _no_grid(p)
    p.alignment = align
    fmt = p.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(LINE_PITCH_PT)
    fmt.space_before = fmt.space_after = Pt(0)
    if indent:
        fmt.first_line_indent = Pt(2 * size)
    _fonts(p.add_run(content), font, size, bold, color)
    return p


def _red_rule(paragraph: Any) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "12"), ("w:space", "1"), ("w:color", "FF0000")):
        bottom.set(qn(k), v)
    border.append(bottom)
    ppr.append(border)


def _page_number(footer: Any, align: Any) -> None:
    p = footer.paragraphs[0]
    p.alignment = align
    _fonts(p.add_run("— "), PAGE_FONT, 14)
    for kind, txt in (("begin", None), ("instr", " PAGE "), ("separate", None), ("num", "1"),
                      ("end", None)):
        run = p.add_run()
        _fonts(run, PAGE_FONT, 14)
        if kind == "instr":
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = txt
            run._r.append(el)
        elif kind == "num":
            run.text = txt
        else:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
            run._r.append(el)
    _fonts(p.add_run(" —"), PAGE_FONT, 14)


def _setup(doc: Any) -> None:
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Mm(PAGE_W), Mm(PAGE_H)
    sec.top_margin, sec.bottom_margin = Mm(TOP), Mm(BOTTOM)
    sec.left_margin, sec.right_margin = Mm(LEFT), Mm(RIGHT)
    sec.footer_distance = Mm(25)
    # The document grid: 22 lines of 28 characters (w:docGrid; python-docx has no API).
    grid = sec._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        sec._sectPr.append(grid)
    # A line grid; the 28 characters per line come from condensing 3号 body type by the
    # difference between its 16 pt and the 15.79 pt a 156 mm line allows (a character
    # grid does the same in Word but makes LibreOffice give each glyph two cells).
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(round(LINE_PITCH_PT * 20)))
    normal = doc.styles["Normal"]
    normal.font.name = BODY_FONT
    normal.font.size = Pt(16)
    rpr = normal.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    fonts.set(qn("w:eastAsia"), BODY_FONT)
    # The grid's character pitch is reckoned from the document default size: make it 3号.
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        d_rpr = defaults.find(qn("w:rPrDefault") + "/" + qn("w:rPr"))
        if d_rpr is not None:
            for tag in ("w:sz", "w:szCs"):
                el = d_rpr.find(qn(tag))
                if el is None:
                    el = OxmlElement(tag)
                    d_rpr.append(el)
                el.set(qn("w:val"), "32")
    # Page numbers "— N —": odd pages at the right, even pages at the left (GB/T 9704 7.5).
    doc.settings.odd_and_even_pages_header_footer = True
    _page_number(sec.footer, WD_ALIGN_PARAGRAPH.RIGHT)
    _page_number(sec.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)


def _table(doc: Any, caption: str, headers: list[str], rows: list[list[Any]]) -> None:
    _para(doc, caption, H2_FONT, 16, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    t = doc.add_table(rows=1 + len(rows), cols=len(headers))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    for r_i, values in enumerate([headers, *rows]):
        for c_i, v in enumerate(values):
            cell = t.cell(r_i, c_i)
            cell.text = ""
            p = cell.paragraphs[0]
            _no_grid(p)
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            _fonts(p.add_run(str(v)), H1_FONT if r_i == 0 else BODY_FONT, 10.5)


@dataclass
class BulletinFiles:
    doc_number: str
    docx: Path
    xlsx: Path
    pdf: Path | None
    pdf_message: str


def content_for(close: WeeklyClose, issued: date) -> dict[str, Any]:
    """Everything the bulletin prints, rendered once: frozen with the bulletin when it is
    first issued, so that issuing it again prints the same document."""
    f = close.figures
    week = IsoWeek.parse(close.week)
    decided = decided_escalations(close.week)
    interviews = [[n + 1, unit_of(e), e.subject, e.basis, str(e.get_status_display())]
                  for n, e in enumerate(x for x in decided
                                        if x.kind == Escalation.Kind.INTERVIEW)]
    notices = "、".join(dict.fromkeys(unit_of(e) for e in decided
                                      if e.kind == Escalation.Kind.CITY_NOTICE))
    nxt = fig.cutoff_of(week.shift(1)).astimezone(SHANGHAI)
    doubling = f.get("doubling") or {}
    ctx = {
        "week_label": week_label(week), "city": f["city"], "counties": f["counties"],
        "city_rate": _pct(f["city"]["on_time_rate"]),
        "city_stock_change": _stock_change(f["city"]),
        "laggards": "、".join(r["name"] for r in f["counties"]
                             if r["name"] and r["key_received"] and (r["on_time_rate"] or 0) < 1),
        "risers": "、".join(r["name"] for r in f["counties"] if r["name"] and r["stock_rose"]),
        "high": "、".join(r["name"] for r in f["counties"]
                          if r["name"] and r.get("stock_high") and not r["stock_rose"]),
        "notices": notices, "interviews": interviews,
        "carried": sum(1 for i in f["overdue_items"] if i["weeks_overdue"]),
        "doubling": DOUBLING_TEXT.get(doubling.get("rule", ""), "未设定加倍计算规则"),
        "next_cutoff": f"{nxt.month}月{nxt.day}日{nxt:%H:%M}",
        "kwh_wan": units.wan_kwh(f["city"]["kwh"]),
        "counted_kwh_wan": units.wan_kwh(f["city"]["counted_kwh"]),
    }
    return {
        "week": close.week, "final": close.final, "issued": issued.isoformat(),
        "texts": {k: text(k, ctx) for k in DEFAULT_TEXTS},
        "key_rows": key_rows(f), "overdue_rows": overdue_rows(f), "interviews": interviews,
        "stock_rows": stock_rows(f), "energy_rows": energy_rows(f),
        "trend": f.get("trend") or fig.trend(until=close.week),
        "names": {r["code"]: r["name"] for r in f["counties"] if r["name"]},
        "clearance": [{k: r[k] for k in ("code", "name", "on_time_rate", "key_received", "key_overdue")}
                      for r in f["counties"]],
        "task_rows": task_rows(f),
        "maker_rows": maker_rows(f),
        # 项目清单 annex: a person's name masked as for any reader; frozen with the bulletin.
        "projects": [[str(v) if isinstance(v, Decimal) else v for v in r]
                     for r in shown_rows(f.get("projects", []), None)],
        "escalations": [[str(e.get_kind_display()), unit_of(e), e.subject, e.basis,
                         str(e.get_status_display()),
                         e.scheduled_on.isoformat() if e.scheduled_on else "", e.outcome]
                        for e in decided],
        "overdue_annex": [[i["ref"], i["county"], i["ip"], i["department"], i["due_local"],
                           i["weeks_overdue"], i["state"]] for i in f["overdue_items"]],
        "sites": [[s["case"], s["county"], s["basis"], s["since"], s["until"], s["kwh"],
                   s["new_project"], s["doubled"], s["counted_kwh"]] for s in f["sites"]],
    }


def _watermark(doc: Any) -> None:
    """草稿 across the top of every page of a draft (its header), large and grey."""
    sec = doc.sections[0]
    for header in (sec.header, sec.even_page_header):
        p = header.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _fonts(p.add_run("草稿 · 未经最终周结，不得印发"), H1_FONT, 26, True,
               RGBColor(0xBF, 0xBF, 0xBF))


def build_docx(content: dict[str, Any], doc_number: str) -> bytes:
    t = content["texts"]
    issued = date.fromisoformat(content["issued"])
    draft = not content["final"]
    doc = Document()
    _setup(doc)
    if draft:
        _watermark(doc)
    doc.core_properties.author = settings.QINGLING_ORGAN_NAME
    doc.core_properties.title = f"{doc_number} {t['title']}"
    doc.core_properties.comments = ""
    # 版头: the organ mark in red, the document number, the red rule.
    # As large as fits one line of the 156 mm text block, at most 26 pt.
    organ = settings.QINGLING_ORGAN_NAME
    organ_pt = min(26.0, (PAGE_W - LEFT - RIGHT) / 25.4 * 72 / max(len(organ), 1))
    _para(doc, organ, TITLE_FONT, organ_pt, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False,
          color=RED)
    _para(doc, "", indent=False)
    number = _para(doc, doc_number, BODY_FONT, 16, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    _red_rule(number)
    _para(doc, "", indent=False)
    # 主体
    _para(doc, ("（草稿）" if draft else "") + t["title"], TITLE_FONT, 22,
          align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    _para(doc, "", indent=False)
    _para(doc, t["recipients"], indent=False)
    _para(doc, t["opening"])
    _para(doc, "一、总体情况", H1_FONT)
    _para(doc, t["overall"])
    _para(doc, "二、重点名单清零情况", H1_FONT)
    _para(doc, t["key"])
    _table(doc, "表1  各县（市、区）重点名单清零情况", KEY_HEADERS, content["key_rows"])
    doc.add_picture(io.BytesIO(charts.clearance_chart(content["clearance"], "重点名单按期清零率")),
                    width=Mm(150))
    _para(doc, "三、逾期事项及约谈安排", H1_FONT)
    _para(doc, t["overdue"])
    if content["overdue_rows"]:
        _table(doc, "表2  逾期未清零重点名单事项", OVERDUE_HEADERS, content["overdue_rows"])
    if content["interviews"]:
        _table(doc, "表3  约谈名单", INTERVIEW_HEADERS, content["interviews"])
    _para(doc, "四、存量名单变化及通报", H1_FONT)
    _para(doc, t["stock"])
    _table(doc, "表4  存量名单变化情况", STOCK_HEADERS, content["stock_rows"])
    doc.add_picture(io.BytesIO(charts.stock_chart(content["trend"], content["names"],
                                                  "存量名单变化趋势")), width=Mm(150))
    _para(doc, "五、能耗双控与惩罚性电价", H1_FONT)
    _para(doc, t["energy"])
    _table(doc, "表5  挖矿能耗计入双控考核情况", ENERGY_HEADERS, content["energy_rows"])
    members = bool(content.get("task_rows") or content.get("maker_rows"))
    if members:
        _para(doc, "六、成员单位任务及矿机生产企业整改情况", H1_FONT)
    if content.get("task_rows"):
        _table(doc, "表6  成员单位任务办理情况", TASK_HEADERS, content["task_rows"])
    if content.get("maker_rows"):
        _table(doc, "表7  涉矿生产设备有关企业整改情况（目标100%）", MAKER_HEADERS,
               content["maker_rows"])
    _para(doc, "七、下一步工作" if members else "六、下一步工作", H1_FONT)
    _para(doc, t["next_steps"])
    _para(doc, "", indent=False)
    _para(doc, "附件：通报明细表（电子表格）", indent=True)
    _para(doc, "", indent=False)
    _para(doc, settings.QINGLING_ORGAN_NAME, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    _para(doc, f"{issued.year}年{issued.month}月{issued.day}日", align=WD_ALIGN_PARAGRAPH.RIGHT,
          indent=False)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def build_annex(content: dict[str, Any]) -> bytes:
    sites = [[*s[:5], Decimal(s[5]), s[6], s[7], Decimal(s[8])] for s in content["sites"]]
    basis = {"metered": "计量", "estimated": "估算", "none": "无估算"}
    for s in sites:
        s[2] = basis.get(s[2], s[2])
    return build_workbook([
        ("表1 重点名单清零", KEY_HEADERS, content["key_rows"]),
        ("表2 逾期未清零事项", ["案件", "县（市、区）代码", "IP", "责任单位", "清零时限",
                          "逾期周数", "状态"], content["overdue_annex"]),
        ("约谈及通报", ["类型", "县（市、区）", "对象", "事由", "状态", "日期", "结果"],
         content["escalations"]),
        ("表4 存量变化", STOCK_HEADERS, content["stock_rows"]),
        ("表5 能耗", ENERGY_HEADERS, content["energy_rows"]),
        ("表6 成员单位任务", TASK_HEADERS, content.get("task_rows", [])),
        ("表7 矿机生产企业整改", MAKER_HEADERS, content.get("maker_rows", [])),
        ("项目清单", PROJECT_HEADERS, [
            [Decimal(v) if i in (7, 9, 10) and v else v for i, v in enumerate(r)]
            for r in content.get("projects", [])]),
        ("能耗明细", ["案件", "县（市、区）代码", "依据", "起算时间", "截止时间", "电量（千瓦时）",
                  "新发现项目", "加倍计算", "计入考核电量（千瓦时）"], sites),
    ])


def _alias(family: str, target: str) -> str:
    return (f"<alias binding=\"same\"><family>{family}</family>"
            f"<prefer><family>{target}</family></prefer></alias>")


FONTCONFIG = (
    "<?xml version=\"1.0\"?><!DOCTYPE fontconfig SYSTEM \"fonts.dtd\"><fontconfig>"
    "<include ignore_missing=\"yes\">/etc/fonts/fonts.conf</include>"
    + _alias(BODY_FONT, "Noto Serif CJK SC") + _alias(TITLE_FONT, "Noto Serif CJK SC")
    + _alias(H2_FONT, "Noto Serif CJK SC") + _alias(H1_FONT, "Noto Sans CJK SC")
    + _alias(PAGE_FONT, "Noto Serif CJK SC") + "</fontconfig>"
)


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(docx_path: Path) -> tuple[Path | None, str]:
    exe = soffice()
    if exe is None:
        return None, _("LibreOffice (soffice) is not installed: no PDF was written. Install "
                       "libreoffice-writer-nogui to get one; the .docx is complete without it.")
    with tempfile.TemporaryDirectory(prefix="qingling-lo-") as profile:
        # The official fonts are proprietary: render them with Noto CJK (serif for 仿宋,
        # 楷体 and 小标宋, sans for 黑体) through a fontconfig alias for this run only.
        conf = Path(profile) / "fonts.conf"
        conf.write_text(FONTCONFIG, encoding="utf-8")
        env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
        cmd = [exe, f"-env:UserInstallation=file://{profile}/lo", "--headless", "--convert-to",
               "pdf", "--outdir", str(docx_path.parent), str(docx_path)]
        try:
            # soffice is found on PATH; the only argument from outside is our own file name.
            subprocess.run(cmd, check=True, capture_output=True, timeout=300, env=env)  # noqa: S603
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            return None, _("LibreOffice could not convert %(file)s: %(error)s") % {
                "file": docx_path.name, "error": exc}
    pdf = docx_path.with_suffix(".pdf")
    if pdf.exists():
        return pdf, ""
    return None, _("LibreOffice wrote no PDF for %(file)s") % {"file": docx_path.name}


def bulletin_dir() -> Path:
    """Where issued bulletins are kept (the web UI serves them from here)."""
    return Path(settings.QINGLING_HOME) / "bulletins"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def issue(week: IsoWeek, out_dir: Path, now: datetime, actor: Any = None,
          pdf: bool = True) -> BulletinFiles:
    """Write the bulletin of a closed week. A final close's bulletin takes a document number
    and its content is frozen the first time: issuing it again writes the same document
    under the same number. A draft close gives a draft (草稿, no number, nothing kept)."""
    close = WeeklyClose.objects.filter(week=str(week)).first()
    if close is None:
        raise ValueError(_("%(week)s is not closed yet: close the week first (the bulletin "
                           "prints the frozen figures)") % {"week": week})
    out_dir.mkdir(parents=True, exist_ok=True)
    if not close.final:
        content = content_for(close, now.astimezone(SHANGHAI).date())
        stem, number = f"bulletin-{week}-draft", "草稿"
    else:
        with transaction.atomic():
            bulletin = Bulletin.objects.select_for_update().filter(week=str(week)).first()
            if bulletin is None:
                bulletin = Bulletin.objects.create(
                    week=str(week), doc_number=next_document_number(week.year), issued_at=now,
                    issued_by=actor if getattr(actor, "is_authenticated", False) else None)
                audit_record(actor=actor, action="bulletin_issue", obj=bulletin, at=now,
                             data={"week": str(week), "doc_number": bulletin.doc_number})
            if not bulletin.content:
                bulletin.content = content_for(
                    close, bulletin.issued_at.astimezone(SHANGHAI).date())
                bulletin.save(update_fields=["content"])
        content, stem, number = bulletin.content, f"bulletin-{week}", bulletin.doc_number
    docx_path, xlsx_path = out_dir / f"{stem}.docx", out_dir / f"{stem}-annex.xlsx"
    _write_atomic(docx_path, build_docx(content, number))
    _write_atomic(xlsx_path, build_annex(content))
    pdf_path, message = to_pdf(docx_path) if pdf else (None, _("PDF not requested"))
    return BulletinFiles(number, docx_path, xlsx_path, pdf_path, message)
