"""The in-app 操作手册: one markdown page per role (``org/data/manual-<role>.md``), rendered
by a small, safe subset of markdown (headings, paragraphs, lists, bold, code): every
character of the source is escaped first, so a page can never carry markup or script."""

from __future__ import annotations

import re
from pathlib import Path

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

MANUALS = Path(__file__).resolve().parent / "data"
_INLINE = [(re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
           (re.compile(r"`(.+?)`"), r"<code>\1</code>")]


def _inline(text: str) -> str:
    out = str(escape(text))
    for pattern, repl in _INLINE:
        out = pattern.sub(repl, out)
    return out


def render_markdown(source: str) -> SafeString:
    html: list[str] = []
    para: list[str] = []
    lst: str | None = None

    def flush() -> None:
        nonlocal lst
        if para:
            html.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()
        if lst:
            html.append(f"</{lst}>")
            lst = None

    for raw in source.splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        if m := re.match(r"(#{1,4})\s+(.*)", line):
            flush()
            level = min(len(m.group(1)) + 1, 5)  # the page's own title is the h1
            html.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
            continue
        item = re.match(r"[-*]\s+(.*)", line)
        numbered = re.match(r"\d+[.、]\s*(.*)", line)
        if item or numbered:
            kind = "ul" if item else "ol"
            if para:
                html.append(f"<p>{_inline(' '.join(para))}</p>")
                para.clear()
            if lst != kind:
                if lst:
                    html.append(f"</{lst}>")
                html.append(f"<{kind}>")
                lst = kind
            html.append(f"<li>{_inline((item or numbered).group(1))}</li>")  # type: ignore[union-attr]
            continue
        if lst:
            html.append(f"</{lst}>")
            lst = None
        para.append(line)
    flush()
    return mark_safe("\n".join(html))  # noqa: S308 - every text is escaped above


def manual_for(role: str) -> SafeString:
    path = MANUALS / f"manual-{role}.md"
    if not path.is_file():
        path = MANUALS / "manual-county.md"
    return render_markdown(path.read_text(encoding="utf-8"))
