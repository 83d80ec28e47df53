"""Detection results in the reader's language.

The engine (``detect/``) knows nothing of Django and words its evidence and resolution
reasons in English for operators. A signal keeps them as the engine gave them; this module
puts them into words when a page shows them: resolutions from their status, route and
record, evidence by its fixed phrases (a phrase it does not know is shown as it is).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

VERDICTS = {
    "mining": gettext_lazy("mining"),
    "suspicious": gettext_lazy("suspicious"),
    "clean": gettext_lazy("clean"),
    "suspect": gettext_lazy("suspect"),
}
STATUSES = {
    "resolved": gettext_lazy("resolved"),
    "ambiguous": gettext_lazy("ambiguous"),
    "unresolved": gettext_lazy("not resolved"),
}
# Figures a screening run keeps (ScreenSummary, ListResolution).
STATS = {
    "flagged": gettext_lazy("flagged"),
    "resolution": gettext_lazy("resolution"),
    "cases_created": gettext_lazy("cases created"),
    "cases_updated": gettext_lazy("cases updated"),
    "rebounds": gettext_lazy("rebounds"),
    "new_after_watch": gettext_lazy("new cases after the watch"),
    "signals": gettext_lazy("signals"),
    "appearances": gettext_lazy("list appearances"),
    "placed": gettext_lazy("cases placed"),
    "conflicts": gettext_lazy("county conflicts"),
}
NOTES = {
    "county_differs": gettext_lazy("the subscriber's county differs from the list's"),
    # Signals written before notes were kept as codes.
    "subscriber's county differs from the list's":
        gettext_lazy("the subscriber's county differs from the list's"),
}


def _english() -> bool:
    return (get_language() or "").startswith("en")


def label(table: Mapping[str, Any], code: object) -> str:
    return str(table.get(str(code), code))


def stats_text(stats: Mapping[str, Any]) -> str:
    """A run's figures: "cases created: 3; resolution: resolved 2"."""
    parts = []
    for k, v in stats.items():
        if isinstance(v, dict):
            v = ", ".join(f"{label(STATUSES, s)} {n}" for s, n in v.items()) or "—"
        parts.append(f"{label(STATS, k)}: {v}")
    return "; ".join(parts)


def resolution_text(res: Mapping[str, Any] | None) -> SafeString:
    """Who an address was resolved to, and through which records."""
    if not res:
        return SafeString("")
    if _english() and res.get("reason"):
        return format_html("{}", res["reason"])
    status, via = res.get("status"), res.get("via") or ""
    if status == "resolved":
        route = {"radius": _("RADIUS session"), "cgnat+radius": _("CGNAT translation and "
                 "RADIUS session"), "static": _("static allocation")}.get(via, via)
        return format_html(_("resolved through the {route} {record}"), route=route,
                           record=format_html("<code>{}</code>", res.get("record") or ""))
    for pattern, say in _WHY:
        m = pattern.fullmatch(str(res.get("reason") or ""))
        if m:
            return say(m)
    if status == "ambiguous":
        return SafeString(_("ambiguous: more than one subscriber or record fits; not "
                            "attributed"))
    return SafeString(_("not resolved: no subscriber record holds the address at that time"))


def _code(value: str) -> SafeString:
    return format_html("<code>{}</code>", value)


def _say(message: str, **params: object) -> SafeString:
    """A translated message with its parameters escaped (codes already marked)."""
    return mark_safe(conditional_escape(message) % {  # noqa: S308 - every part is escaped
        k: v if isinstance(v, SafeString) else conditional_escape(str(v))
        for k, v in params.items()})


_BEHAVIOUR = re.compile(
    r"(?P<min>[\d.]+) min active in (?P<n>\d+) session\(s\), (?P<ppm>[\d.?]+) pkt/min, "
    r"(?P<bpp>[\d.?]+) B/pkt(?:, ACK\+PSH (?P<psh>\d+)%)?(?:, server pushes every "
    r"(?P<push>\d+) s)?$")
# The phrases of the engine's evidence (detect/network: payload.py, names.py, engine.py
# explain): methods, names, addresses and agents are codes and stay as they are.
_PHRASES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], SafeString]]] = [
    (re.compile(r"miner sends (?P<m>.+)$"),
     lambda m: _say(_("the miner sends %(methods)s"), methods=_code(m["m"]))),
    (re.compile(r"pool pushes (?P<m>.+)$"),
     lambda m: _say(_("the pool pushes %(methods)s"), methods=_code(m["m"]))),
    (re.compile(r"Monero-style (?P<m>.+) with a mining job(?: \(agent (?P<a>.+)\))?$"),
     lambda m: _say(_("Monero-style %(methods)s with a mining job"), methods=_code(m["m"]))
     + (_say(_(" (miner software %(agent)s)"), agent=_code(m["a"])) if m["a"] else SafeString(""))),
    (re.compile(r"pool-side job message (?P<m>.+)$"),
     lambda m: _say(_("a pool-side job message %(sample)s"), sample=_code(m["m"]))),
    (re.compile(r"JSON-RPC (?P<m>.+) with replies$"),
     lambda m: _say(_("JSON-RPC %(methods)s with replies"), methods=_code(m["m"]))),
    (re.compile(r"(?P<n>\S+) is a known pool \((?P<src>.+), (?P<ym>\d{4}-\d{2})\)$"),
     lambda m: _say(_("%(name)s is a known mining pool (%(source)s, %(month)s)"),
                    name=_code(m["n"]), source=_code(m["src"]), month=m["ym"])),
    (re.compile(r"(?P<n>\S+) looks like a pool name$"),
     lambda m: _say(_("%(name)s looks like a mining pool's name"), name=_code(m["n"]))),
    (re.compile(r"(?P<ip>\S+) was a pool address in (?P<y>\d{4}) \((?P<src>.+)\)$"),
     lambda m: _say(_("%(ip)s was a mining pool's address in %(year)s (%(source)s)"),
                    ip=_code(m["ip"]), year=m["y"], source=_code(m["src"]))),
    (_BEHAVIOUR, lambda m: _behaviour(m)),
    (re.compile(r"port (?P<p>\d+) is a crypto peer-to-peer node port$"),
     lambda m: _say(_("port %(port)s is a cryptocurrency peer-to-peer node port"),
                    port=m["p"])),
    (re.compile(r"(?P<ip>\S+) is a shared egress: find the host behind it$"),
     lambda m: _say(_("%(ip)s is a shared egress: find the host behind it"),
                    ip=_code(m["ip"]))),
]


# Why an address was not attributed (detect/resolve/engine.py, and screen.py for a pair
# whose two ends resolve differently).
_WHY: list[tuple[re.Pattern[str], Callable[[re.Match[str]], SafeString]]] = [
    (re.compile(r"(?P<ip>\S+) is a CGNAT public address: the source port is needed"),
     lambda m: _say(_("%(ip)s is a CGNAT public address: the source port is needed to find "
                      "the subscriber"), ip=_code(m["ip"]))),
    (re.compile(r"no CGNAT translation of (?P<ip>\S+) at that time"),
     lambda m: _say(_("no CGNAT translation of %(ip)s at that time"), ip=_code(m["ip"]))),
    (re.compile(r"(?P<n>\d+) CGNAT translations match (?P<ip>\S+)"),
     lambda m: _say(_("%(n)s CGNAT translations match %(ip)s: not attributed"), n=m["n"],
                    ip=_code(m["ip"]))),
    (re.compile(r"sessions of (?P<n>\d+) accounts \((?P<a>.+)\) cover this time within "
                r"±(?P<s>\d+) s: the address was reassigned"),
     lambda m: _say(_("sessions of %(n)s accounts (%(accounts)s) cover this time within "
                      "±%(s)s s: the address was reassigned; not attributed"),
                    n=m["n"], accounts=_code(m["a"]), s=m["s"])),
    (re.compile(r"(?P<n>\d+) static allocations overlap"),
     lambda m: _say(_("%(n)s static allocations overlap: not attributed"), n=m["n"])),
    (re.compile(r"no RADIUS session or static allocation holds (?P<ip>\S+) at that time"),
     lambda m: _say(_("no RADIUS session or static allocation holds %(ip)s at that time"),
                    ip=_code(m["ip"]))),
    (re.compile(r"the time had no zone: read as Asia/Shanghai it is (?P<a>.+), read as UTC "
                r"it is (?P<b>.+); give the zone"),
     lambda m: _say(_("the time has no time zone: read as Beijing time it is %(a)s, read as "
                      "UTC it is %(b)s; give the time zone"), a=_code(m["a"]),
                    b=_code(m["b"]))),
    (re.compile(r"source ports (?P<lo>\S+)–(?P<hi>\S+) belong to different subscribers "
                r"\((?P<who>.+)\)"),
     lambda m: _say(_("source ports %(lo)s–%(hi)s belong to different subscribers "
                      "(%(who)s): not attributed"), lo=m["lo"], hi=m["hi"],
                    who=_code(m["who"]))),
]


def _behaviour(m: re.Match[str]) -> SafeString:
    text = _say(_("active %(min)s min in %(n)s sessions, %(ppm)s packets/min, %(bpp)s bytes "
                  "per packet"), min=m["min"], n=m["n"], ppm=m["ppm"], bpp=m["bpp"])
    if m["psh"]:
        text += _say(_(", ACK+PSH %(share)s%%"), share=m["psh"])
    if m["push"]:
        text += _say(_(", the server pushes every %(s)s s"), s=m["push"])
    return text


def evidence_text(evidence: str) -> SafeString:
    """The engine's evidence ("…; …"), phrase by phrase in the reader's language; a phrase
    it does not know is shown as it is."""
    if _english() or not evidence:
        return format_html("{}", evidence)
    out = []
    for part in evidence.split("; "):
        for pattern, say in _PHRASES:
            m = pattern.match(part)
            if m:
                out.append(say(m))
                break
        else:
            out.append(conditional_escape(part))
    return mark_safe(conditional_escape(_("; ")).join(out))  # noqa: S308 - every part is escaped


def signal_text(signal: Any) -> SafeString:
    """One line for a signal on the case page, from what it keeps."""
    p = signal.payload or {}
    if signal.kind == "network" and "verdict" in p:
        dst = p.get("pair", "").split("|")
        target = f"{dst[1]}:{dst[2]}" if len(dst) >= 3 else ""
        return format_html("{} {} → <code>{}</code>; {}", label(VERDICTS, p["verdict"]),
                           f"{float(p.get('score') or 0):.2f}", target,
                           evidence_text(p.get("evidence") or ""))
    if signal.kind == "list" and "list_type" in p:
        from qingling.cases.models import ListType

        who = p.get("account") or label(STATUSES, (p.get("resolution") or {}).get("status"))
        note = p.get("note")
        return format_html("{} {}: <code>{}</code> → {}{}",
                           label(dict(ListType.choices), p["list_type"]), p.get("week", ""),
                           p.get("ip", ""), who,
                           _(" (%(note)s)") % {"note": label(NOTES, note)} if note else "")
    if signal.kind == "list" and p.get("note"):
        return format_html("{}{}", signal.summary.split("（")[0],
                           _(" (%(note)s)") % {"note": label(NOTES, p["note"])})
    return format_html("{}", signal.summary)
