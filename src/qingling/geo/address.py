"""Address → county and township: the project's own gazetteer first (townships, aliases
such as 乌镇, functional zones), the cpca parser as a fallback for the county, anything
outside the city rejected, and anything short of a township sent to manual triage."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext, gettext_noop

from qingling.geo.gazetteer import Gazetteer
from qingling.geo.models import Division


@dataclass(frozen=True)
class Located:
    county_id: int | None
    township_id: int | None
    confidence: float  # 1.0 township or zone; 0.6 county only; 0 not placed
    reason: str  # why it needs triage ("" when it does not)

    @property
    def needs_triage(self) -> bool:
        return self.confidence < 1.0


def locate_many(addresses: list[str], gazetteer: Gazetteer | None = None) -> list[Located]:
    gaz = gazetteer or Gazetteer.load(settings.QINGLING_CITY_CODE)
    out: list[Located | None] = []
    rest: list[int] = []
    for i, a in enumerate(addresses):
        place = gaz.match_address(a) if a else None
        if place is not None and (place.township_id or place.zone_id):
            out.append(Located(place.county_id, place.township_id, 1.0, ""))
        elif place is not None:
            out.append(Located(place.county_id, None, 0.6, gettext_noop("county only: no township named")))
        else:
            out.append(None)
            if a:
                rest.append(i)
    if rest:
        counties = {d.code: d.pk for d in Division.objects.filter(
            parent__code=settings.QINGLING_CITY_CODE, level=Division.Level.COUNTY)}
        city_prefix = settings.QINGLING_CITY_CODE[:4]
        import cpca  # type: ignore[import-untyped]  # fallback parser; its data ships inside

        parsed = cpca.transform([addresses[i] for i in rest]).to_dict("records")
        for i, r in zip(rest, parsed, strict=True):
            # cpca leaves NaN where it found nothing.
            code = r["adcode"] if isinstance(r.get("adcode"), str) else ""
            where = "".join(r[k] for k in ("省", "市", "区") if isinstance(r.get(k), str))
            if code[:6] in counties:
                out[i] = Located(counties[code[:6]], None, 0.6,
                                 gettext_noop("county from the address parser: no township "
                                              "named"))
            elif code and code[:4] != city_prefix:
                out[i] = Located(None, None, 0.0, f"outside the city ({where})")
    return [x if x is not None else Located(None, None, 0.0, gettext_noop("no place recognised"))
            for x in out]


_OUTSIDE = re.compile(r"outside the city \((?P<where>.*)\)")


def triage_text(reason: str) -> str:
    """A kept triage reason (English, as ``locate_many`` gives it) in the reader's language."""
    m = _OUTSIDE.fullmatch(reason)
    if m:
        return gettext("outside the city (%(where)s)") % {"where": m["where"]}
    return gettext(reason) if reason else ""
