"""Numbers as the work group writes them: energy in 万千瓦时 (10,000 kWh) and conversion
coefficients per 万千瓦时 ("1.229 吨标准煤/万千瓦时", never "每千瓦时 0.0001229000")."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

WAN = Decimal(10_000)


def wan_kwh(kwh: object, places: int = 2) -> str:
    """kWh (a number or its frozen string) in 万千瓦时, rounded half up: 123456 → "12.35"."""
    value = Decimal(str(kwh or 0)) / WAN
    return str(value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def per_wan_kwh(per_kwh: object) -> str:
    """A per-kWh coefficient per 万千瓦时, without trailing zeros: 0.0001229000 → "1.229"."""
    value = (Decimal(str(per_kwh)) * WAN).normalize()
    text = f"{value:f}"
    return text
