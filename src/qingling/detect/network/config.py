"""Weights and thresholds of the network engine, in one validated place."""

from __future__ import annotations

from dataclasses import dataclass, field

# Crypto peer-to-peer ports: a node, not a miner (DETECTION.md A).
NODE_PORTS = (8333, 18333, 18080, 18081, 30303, 9333, 8233)


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
    shared_egress: tuple[str, ...] = field(default_factory=tuple)
    node_ports: tuple[int, ...] = NODE_PORTS

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
