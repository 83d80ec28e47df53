"""Which side of a connection is the client: one rule for every reader.

Evidence comes in order of strength, and a weaker kind is asked only when the stronger
ones are silent:

1. the opening: who sent the SYN (a capture), the exporter's own direction fields
   (IPFIX biflowDirection, Zeek's history with a handshake);
2. the protocol (captures only): the side that sends Stratum/XMRig/eth requests and shares
   is the client, the side that pushes jobs and answers requests is the pool
   (``payload.client_stream``); a TLS ClientHello or an HTTP request is a client's;
3. a service port below 1024 on one side only: an IANA system port is the protocol's own
   statement (a city web server answering on 443 is not a client of its visitors);
4. the internal address ranges (``QINGLING_INTERNAL_NETS``): a city host talking to an
   outside address is the client;
5. flow exports only: which end meets more distinct peers over the whole input (``settle``):
   a pool is met by every reconnect and every miner, a miner's port by one pool;
6. port guesses, last: a known pool or server port, then the ephemeral range. Pools listen
   on 45700, 45560 or 33333 too, which is why ports come last.
"""

from __future__ import annotations

import ipaddress
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from functools import lru_cache
from pathlib import Path

ENV = "QINGLING_INTERNAL_NETS"
# RFC 1918, the carriers' CGNAT shared space (RFC 6598, where a city's subscribers sit),
# IPv6 unique-local. A city adds its carriers' public ranges: `private,FILE` or CIDRs.
PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
KNOWN_SERVER_PORTS = frozenset({
    80, 443, 53, 1111, 2142, 3333, 3334, 4444, 5555, 5222, 6666, 7777, 8008, 8080, 8333,
    8888, 9000, 9050, 9200, 9999, 14433, 14444, 18080, 30303,
})
EPHEMERAL_FROM = 32768  # Linux's client range starts here (Windows' at 49152)

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


class InternalNets:
    """The address ranges of the city: hosts in them are the ones screened."""

    def __init__(self, nets: Iterable[Net]) -> None:
        self.nets = tuple(nets)
        self._contains = lru_cache(maxsize=65536)(self._lookup)

    @classmethod
    def parse(cls, spec: str, *, origin: str = ENV) -> InternalNets:
        """Comma-separated items: a CIDR, ``private`` (the ranges above), or the path of a
        file with one CIDR a line (``#`` comments). Anything else is refused, named."""
        nets: list[Net] = []
        for raw in spec.split(","):
            item = raw.strip()
            if not item:
                continue
            if item.lower() == "private":
                nets.extend(ipaddress.ip_network(n) for n in PRIVATE)
            elif "/" in item and not Path(item).is_file():
                nets.append(_net(item, origin))
            else:
                path = Path(item)
                if not path.is_file():
                    raise ValueError(f"{origin}: {item!r} is neither a CIDR, 'private' nor a file")
                for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    text = line.split("#", 1)[0].strip()
                    if text:
                        nets.append(_net(text, f"{origin}: {path}: line {n}"))
        if not nets:
            raise ValueError(f"{origin}: no address range given")
        return cls(nets)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> InternalNets:
        env = os.environ if environ is None else environ
        return cls.parse(env.get(ENV) or "private")

    def _lookup(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.nets)

    def __contains__(self, ip: object) -> bool:
        return isinstance(ip, str) and self._contains(ip)


def _net(text: str, origin: str) -> Net:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{origin}: {text!r} is not an address range (CIDR)") from None


def first_is_client(a: tuple[str, int], b: tuple[str, int], internal: InternalNets,
                    opening: bool | None = None) -> bool:
    """True when endpoint a is the client of the connection between a and b.

    ``opening`` is what the opening or the protocol said (True: a is the client), None when
    they were silent; then system ports, the internal ranges and port guesses decide.
    """
    return decide(a, b, internal, opening)[0]


def decide(a: tuple[str, int], b: tuple[str, int], internal: InternalNets,
           opening: bool | None = None) -> tuple[bool, bool]:
    """(a is the client, only the port guess said so)."""
    if opening is not None:
        return opening, False
    (a_ip, a_port), (b_ip, b_port) = a, b
    if (a_port < 1024) != (b_port < 1024):
        return b_port < 1024, False
    a_in, b_in = a_ip in internal, b_ip in internal
    if a_in != b_in:
        return a_in, False
    return _by_ports(a_port, b_port), True


SWAP = (("src_ip", "dst_ip"), ("src_port", "dst_port"), ("packets_fwd", "packets_rev"),
        ("bytes_fwd", "bytes_rev"))


def settle(rows: Sequence[MutableMapping[str, object]], guessed: Sequence[bool]) -> int:
    """Turn round the canonical rows whose side was only a port guess when their client's
    end meets more distinct peers in the input than their server's: a server is met by
    every reconnect and every client, a client's port by its one server. Returns how many
    were turned."""
    peers: defaultdict[tuple[object, ...], set[tuple[object, ...]]] = defaultdict(set)
    for r in rows:
        src, dst = (r["src_ip"], r["src_port"], r["proto"]), (r["dst_ip"], r["dst_port"],
                                                             r["proto"])
        peers[src].add(dst)
        peers[dst].add(src)
    turned = 0
    for r, guess in zip(rows, guessed, strict=True):
        if not guess:
            continue
        src = (r["src_ip"], r["src_port"], r["proto"])
        dst = (r["dst_ip"], r["dst_port"], r["proto"])
        if len(peers[src]) > len(peers[dst]):
            for x, y in SWAP:
                r[x], r[y] = r[y], r[x]
            turned += 1
    return turned


def _by_ports(a_port: int, b_port: int) -> bool:
    a_known, b_known = a_port in KNOWN_SERVER_PORTS, b_port in KNOWN_SERVER_PORTS
    if a_known != b_known:
        return b_known
    a_eph, b_eph = a_port >= EPHEMERAL_FROM, b_port >= EPHEMERAL_FROM
    if a_eph != b_eph:
        return a_eph
    return a_port > b_port
