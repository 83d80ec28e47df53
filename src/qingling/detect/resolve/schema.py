"""Canonical tables of subscriber resolution (Arrow; times are UTC microseconds).

| table | columns |
|---|---|
| RADIUS events | account, ip, status (start/interim/stop), session_id, nas_ip, ts |
| sessions | account, ip, start, stop, session_id, nas_ip, closed_by (stop / next_start / max_length / open) |
| CGNAT | private_ip, public_ip, port_lo, port_hi, start, stop |
| static | network (CIDR), account, kind (enterprise/idc/…), valid_from, valid_to |
| observations | obs_id, ip, port (null when unknown), ts, tz_assumed (true: the input had no zone) |
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

EVENTS = pa.schema([("account", pa.string()), ("ip", pa.string()), ("status", pa.string()),
                    ("session_id", pa.string()), ("nas_ip", pa.string()), ("ts", TS)])
SESSIONS = pa.schema([("account", pa.string()), ("ip", pa.string()), ("start", TS),
                      ("stop", TS), ("session_id", pa.string()), ("nas_ip", pa.string()),
                      ("closed_by", pa.string())])
CGNAT = pa.schema([("private_ip", pa.string()), ("public_ip", pa.string()),
                   ("port_lo", pa.int32()), ("port_hi", pa.int32()), ("start", TS), ("stop", TS)])
STATIC = pa.schema([("network", pa.string()), ("account", pa.string()), ("kind", pa.string()),
                    ("valid_from", TS), ("valid_to", TS)])
OBSERVATIONS = pa.schema([("obs_id", pa.string()), ("ip", pa.string()), ("port", pa.int32()),
                          ("ts", TS), ("tz_assumed", pa.bool_())])
RESOLVED = pa.schema([
    ("obs_id", pa.string()), ("ip", pa.string()), ("port", pa.int32()), ("ts", TS),
    ("status", pa.string()),  # resolved / ambiguous / unresolved
    ("account", pa.string()), ("via", pa.string()),  # radius / cgnat+radius / static
    ("confidence", pa.float64()), ("candidates", pa.int64()), ("reason", pa.string()),
    ("record", pa.string()),  # the session, mapping or allocation behind the answer
])
