"""Name → division matching from the project's own gazetteer.

Used for the county column of list files and for addresses. Longest match wins, so that
"桐乡市乌镇镇" resolves to the township, not just the county.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qingling.geo.models import Division, ResponsibilityArea


@dataclass(frozen=True)
class Place:
    county_id: int
    county_name: str
    township_id: int | None = None
    zone_id: int | None = None


class Gazetteer:
    def __init__(self) -> None:
        self.city: Division | None = None
        self.counties: dict[int, Division] = {}
        self._names: list[tuple[str, Place]] = []
        self._exact: dict[str, Place] = {}
        self._places: dict[str, Place] = {}
        self._pattern: re.Pattern[str] | None = None

    @classmethod
    def load(cls, city_code: str) -> Gazetteer:
        g = cls()
        g.city = Division.objects.filter(code=city_code).first()
        if g.city is None:
            return g
        counties = list(Division.objects.filter(parent=g.city, level=Division.Level.COUNTY))
        g.counties = {c.pk: c for c in counties}
        for c in counties:
            p = Place(c.pk, c.name)
            for n in {c.name, c.short_name, c.code, *c.aliases}:
                g._add(n, p)
        towns = Division.objects.filter(parent__in=counties, level=Division.Level.TOWNSHIP)
        for t in towns:
            assert t.parent_id is not None
            county = g.counties[t.parent_id]
            p = Place(county.pk, county.name, township_id=t.pk)
            names = {t.name, *t.aliases}
            if len(t.short_name) >= 2:
                names.add(t.short_name)
            for n in names:
                # A short name alone (e.g. "新兴") is too loose to find inside an address; a
                # listed alias (e.g. 乌镇) is meant to be found anywhere.
                g._add(n, p, exact_only=n == t.short_name and n != t.name
                       and n not in t.aliases)
            g._exact[t.code] = p
        for z in ResponsibilityArea.objects.select_related("county"):
            p = Place(z.county_id, z.county.name, zone_id=z.pk)
            for n in {z.name, *z.aliases}:
                g._add(n, p)
        g._names.sort(key=lambda item: -len(item[0]))
        g._places = {}
        for name, place in g._names:
            g._places.setdefault(name, place)
        # One alternation, longest names first, so an address is scanned once.
        g._pattern = re.compile("|".join(re.escape(n) for n, _ in g._names)) if g._names else None
        return g

    def _add(self, name: str, place: Place, exact_only: bool = False) -> None:
        name = name.strip()
        if not name:
            return
        self._exact.setdefault(name, place)
        if not exact_only:
            self._names.append((name, place))

    def match_county(self, text: str) -> Place | None:
        """A county cell: the county's name, short name, code, or a zone's name."""
        t = text.strip().replace(" ", "")
        if not t:
            return None
        if self.city is not None:
            for prefix in (self.city.name, self.city.short_name):
                if t.startswith(prefix) and len(t) > len(prefix):
                    t = t[len(prefix) :]
                    break
        place = self._exact.get(t)
        if place is not None and place.township_id is None:
            return place
        return place

    def match_address(self, text: str) -> Place | None:
        """The most specific place named in an address, or None."""
        if self._pattern is None:
            return None
        t = text.replace(" ", "")
        best: Place | None = None
        for m in self._pattern.finditer(t):
            place = self._places[m.group(0)]
            if place.township_id or place.zone_id:
                return place
            if best is None:
                best = place
        return best
