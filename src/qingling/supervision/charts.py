"""Charts as PNG images for the bulletin, drawn with the system's Noto CJK fonts (Debian
fonts-noto-cjk), so Chinese labels never come out as boxes."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

CJK_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
)


@lru_cache(maxsize=1)
def cjk_family() -> str | None:
    """The CJK font family matplotlib will use, or None when none is installed."""
    from matplotlib import font_manager

    for path in CJK_CANDIDATES:
        if Path(path).exists():
            font_manager.fontManager.addfont(path)
            return "Noto Sans CJK SC"
    for f in font_manager.fontManager.ttflist:
        if "CJK" in f.name or "WenQuanYi" in f.name:
            return str(f.name)
    return None


def _figure(width_mm: float = 150, height_mm: float = 80) -> Any:
    import matplotlib.pyplot as plt

    family = cjk_family()
    if family:
        plt.rcParams["font.family"] = [family]
    plt.rcParams["axes.unicode_minus"] = False
    return plt.figure(figsize=(width_mm / 25.4, height_mm / 25.4), dpi=200)


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def clearance_chart(rows: list[dict[str, Any]], title: str) -> bytes:
    """On-time clearance rate of key-list items by county (bars, % labelled)."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    names = [r["name"] or r["code"] for r in rows]
    rates = [100 * (r["on_time_rate"] or 0) for r in rows]
    bars = ax.bar(names, rates, color=["#c0392b" if r["key_overdue"] else "#2e7d32" for r in rows])
    for b, r in zip(bars, rows, strict=True):
        label = "—" if r["on_time_rate"] is None else f"{100 * r['on_time_rate']:.0f}%"
        ax.annotate(label, (b.get_x() + b.get_width() / 2, b.get_height()), ha="center",
                    va="bottom", fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_ylabel("%")
    ax.set_title(title, fontsize=11)
    ax.tick_params(axis="x", labelsize=8)
    return _png(fig)


def stock_chart(trend: list[dict[str, Any]], names: dict[str, str], title: str) -> bytes:
    """Open stock-list items per county over the last weekly closes."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    weeks = [t["week"] for t in trend]
    for code, name in names.items():
        ax.plot(weeks, [t["counties"].get(code, {}).get("stock_open", 0) for t in trend],
                marker="o", label=name)
    ax.set_title(title, fontsize=11)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=7, ncol=4)
    return _png(fig)
