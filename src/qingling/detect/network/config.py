"""Weights and thresholds of the network engine, in one validated place."""

from __future__ import annotations

import csv
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

# Crypto peer-to-peer ports: a node, not a miner (DETECTION.md A).
NODE_PORTS = (8333, 18333, 18080, 18081, 30303, 9333, 8233)


@dataclass(frozen=True)
class BenignProtocol:
    """A long-lived protocol whose keepalives look like a miner's flow: known by its port
    and by packets no larger on average than its keepalives and small messages carry."""

    name: str
    ports: tuple[int, ...]
    max_bpp: float


# Keepalives carry a few bytes (MQTT PINGREQ 2, OpenFlow echo 8, SIP CRLF 4) in 52-60 B
# packets; small telemetry and controller messages stay under the ceiling, and SIP phones
# that ping with OPTIONS (~450 B asked, ~400 B answered, each ACKed) average ~240 B.
# A pool's job pushes are 250-400 B packets and real pool sessions average 110-560 B, so
# a pool hiding on one of these ports is still judged unless its packets are this small.
BENIGN_PROTOCOLS = (
    BenignProtocol("MQTT", (1883, 8883), 160.0),
    BenignProtocol("SDN controller (OpenFlow/OVSDB)", (6633, 6653, 6640), 160.0),
    BenignProtocol("SIP (VoIP)", (5060, 5061), 320.0),
    BenignProtocol("H.323 (VoIP)", (1720,), 200.0),
    BenignProtocol("STUN/TURN (P2P voice and chat)", (3478, 5349), 200.0),
)


@dataclass(frozen=True)
class NetworkConfig:
    # Fusion is a weighted noisy-OR: score = 1 - Π(1 - weight_i × subscore_i).
    w_payload: float = 1.0
    w_names: float = 0.85
    w_behaviour: float = 0.6
    mining_at: float = 0.8
    suspicious_at: float = 0.4
    # Records of one 5-tuple closer than this (seconds) are one session cut by an exporter.
    stitch_gap_s: float = 120.0
    # Behaviour thresholds (measured on real sessions; DETECTION.md A).
    long_session_s: float = 900.0
    min_ppm: float = 6.0
    max_ppm: float = 45.0
    min_bpp: float = 50.0
    max_bpp: float = 450.0
    min_ack_psh_share: float = 0.5
    # Both directions' packets this small on average: only keepalives ever crossed (a
    # pool's job is never this small; real pool sessions' smaller side is 85+ B/packet).
    keepalive_max_bpp: float = 72.0
    shared_egress: tuple[str, ...] = field(default_factory=tuple)
    node_ports: tuple[int, ...] = NODE_PORTS
    benign_protocols: tuple[BenignProtocol, ...] = BENIGN_PROTOCOLS
    # Remote endpoints (address, port) the city has excluded after triage (排除): their
    # flow shape alone is no longer a lead; payload or a pool name still are.
    excluded: tuple[tuple[str, int], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("w_payload", "w_names", "w_behaviour", "mining_at", "suspicious_at"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value}: must be within [0, 1]")
        if not self.suspicious_at < self.mining_at:
            raise ValueError("suspicious_at must be below mining_at")
        if self.w_behaviour >= self.mining_at:
            # Flow shape alone must never convict: it makes a lead, not a verdict.
            raise ValueError("w_behaviour must stay below mining_at")
        if not (0 < self.min_ppm < self.max_ppm and 0 < self.min_bpp < self.max_bpp):
            raise ValueError("behaviour ranges must be increasing and positive")
        if not 0 < self.keepalive_max_bpp < self.max_bpp:
            raise ValueError("keepalive_max_bpp must be positive and below max_bpp")
        for proto in self.benign_protocols:
            if not proto.ports or not all(0 < p < 65536 for p in proto.ports) \
                    or proto.max_bpp <= 0:
                raise ValueError(f"benign protocol {proto.name!r}: ports 1-65535 and a "
                                 "positive max_bpp are needed")
        for n, item in enumerate(self.excluded, 1):
            try:
                ip, port = item
                ipaddress.ip_address(ip)
                if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
                    raise ValueError
            except (TypeError, ValueError):
                raise ValueError(f"excluded endpoint {n}: {item!r} is not (address, port 0-65535)"
                                 ) from None

    def excluded_keys(self) -> list[str]:
        """The excluded endpoints as "address|port", the form the engine matches."""
        return sorted({f"{ipaddress.ip_address(ip)}|{port}" for ip, port in self.excluded})


def read_excluded(path: Path) -> tuple[tuple[str, int], ...]:
    """The city's excluded endpoints from a CSV with ``ip`` and ``port`` columns; a row
    that is not an address and a port is refused, with its line named."""
    out = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"ip", "port"} <= {f.strip() for f in reader.fieldnames}:
            raise ValueError(f"{path}: needs the columns ip,port")
        for n, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                ip = str(ipaddress.ip_address(row["ip"]))
                port = int(row["port"])
                if not 0 <= port < 65536:
                    raise ValueError
            except ValueError:
                raise ValueError(f"{path}: line {n}: {row['ip']!r}, {row['port']!r} is not an "
                                 "address and a port 0-65535") from None
            out.append((ip, port))
    return tuple(out)
