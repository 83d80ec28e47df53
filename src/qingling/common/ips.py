"""IP helpers: parse what list files contain (IPv4, IPv6, CIDR) into one normal form."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.utils.translation import gettext_lazy, gettext_noop

from qingling.common.problems import Problem

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ParsedIP:
    value: str  # normal form: "1.2.3.4", "2001:db8::1", "10.0.0.0/24"
    version: int
    is_range: bool
    special: str  # "" for a public address, otherwise why it is not routable on the Internet
    host_bits_cleared: bool = False


def _special(net: IPNet) -> str:
    addr = net.network_address
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_unspecified:
        return "unspecified"
    if isinstance(addr, ipaddress.IPv4Address) and addr in ipaddress.ip_network("100.64.0.0/10"):
        # Carrier-grade NAT shared space (RFC 6598): a subscriber cannot be found from it.
        return "cgnat"
    if addr.is_private:
        return "private"
    if addr.is_reserved:
        return "reserved"
    if not addr.is_global:
        return "reserved"
    return ""


def parse_ip(text: str) -> ParsedIP:
    """Parse one cell. Raises ValueError with a message fit for an import report."""
    raw = text.strip().replace("\u3000", "").replace("．", ".").replace("：", ":")
    if not raw:
        raise Problem(gettext_noop("empty IP address"))
    if raw.startswith("[") and "]" in raw:
        raw = raw[1 : raw.index("]")]
    if "/" in raw:
        try:
            net = ipaddress.ip_network(raw, strict=False)
        except ValueError:
            raise Problem(gettext_noop("not an IP range: %(value)s"), value=repr(text)) from None
        cleared = str(net) != raw.lower() and str(ipaddress.ip_interface(raw).ip) != str(
            net.network_address
        )
        if net.num_addresses == 1:
            return ParsedIP(str(net.network_address), net.version, False, _special(net))
        return ParsedIP(str(net), net.version, True, _special(net), cleared)
    try:
        addr = ipaddress.ip_address(raw)
    except ValueError:
        raise Problem(gettext_noop("not an IP address: %(value)s"), value=repr(text)) from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    net = ipaddress.ip_network(addr)
    return ParsedIP(str(addr), addr.version, False, _special(net))


# What ``ParsedIP.special`` means, for people (the stored value is the code).
SPECIAL_LABELS = {
    "loopback": gettext_lazy("loopback"),
    "link-local": gettext_lazy("link-local"),
    "multicast": gettext_lazy("multicast"),
    "unspecified": gettext_lazy("unspecified"),
    "cgnat": gettext_lazy("carrier-grade NAT (shared)"),
    "private": gettext_lazy("private network"),
    "reserved": gettext_lazy("reserved"),
}
