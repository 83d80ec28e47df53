"""Warning lists: is an address a known shared egress?"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from qingling.cases.models import WarningEntry


@dataclass(frozen=True)
class Hit:
    network: str
    name: str
    kind: str


class WarningList:
    def __init__(self, entries: list[WarningEntry]) -> None:
        self.nets = [(ipaddress.ip_network(e.network, strict=False), e) for e in entries]

    @classmethod
    def load(cls) -> WarningList:
        return cls(list(WarningEntry.objects.filter(is_active=True)))

    def hit(self, ip: str) -> Hit | None:
        try:
            addr = ipaddress.ip_address(ip.split("/")[0])
        except ValueError:
            return None
        for net, e in self.nets:
            if addr.version == net.version and addr in net:
                return Hit(str(net), e.name, e.get_kind_display())
        return None

    def addresses(self, limit: int = 65536) -> list[str]:
        """Every single address listed (networks up to ``limit`` addresses expanded), for an
        engine that matches addresses exactly."""
        out: list[str] = []
        for net, _ in self.nets:
            if net.num_addresses <= limit:
                out += [str(a) for a in net]
        return out
