"""The audit log's hash chain: each entry carries an SM3-HMAC over its content and the
previous entry's hash, so changing, removing or reordering any entry breaks every hash
after it. The key lives outside the database (``common.crypto.audit_key``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac

GENESIS = "0" * 64
FIELDS = ("at", "actor_id", "action", "object_type", "object_id", "case_id", "from_state",
          "to_state", "comment", "data")


def canonical(entry: Any) -> bytes:
    values: dict[str, Any] = {f: getattr(entry, f) for f in FIELDS}
    values["at"] = entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str).encode("utf-8")


def entry_hash(key: bytes, prev: str, entry: Any) -> str:
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(prev.encode("ascii"))
    mac.update(canonical(entry))
    return mac.finalize().hex()


@dataclass(frozen=True)
class Break:
    entry_id: int
    reason: str


def verify(key: bytes, entries: Iterator[Any], head: str | None) -> tuple[int, list[Break]]:
    """Walk entries in id order; every break found (at most the first 20), and the count."""
    prev, n, breaks = GENESIS, 0, []
    for e in entries:
        n += 1
        if e.prev_hash != prev:
            breaks.append(Break(e.pk, "does not follow the entry before it (removed or "
                                      "reordered entries)"))
        elif e.hash != entry_hash(key, prev, e):
            breaks.append(Break(e.pk, "its content was changed after it was written"))
        prev = e.hash
        if len(breaks) >= 20:
            break
    if not breaks and head is not None and head != prev:
        breaks.append(Break(0, "the latest entries were removed (the chain head does not "
                               "match)"))
    return n, breaks
