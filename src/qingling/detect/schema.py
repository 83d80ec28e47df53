"""The canonical flow schema: what every reader produces and the engine consumes.

One row is one connection (or one exporter record of it) seen from its client (which side
that is, is decided once for every reader in ``qingling.detect.readers.orientation``):

| column | type | meaning |
|---|---|---|
| ts_start, ts_end | timestamp[us, UTC] | first and last packet |
| src_ip, src_port | string, int32 | the client (the side that is not the pool/server) |
| dst_ip, dst_port | string, int32 | the server |
| proto | string | "tcp", "udp", "icmp" … |
| packets_fwd, packets_rev | int64, null if unknown | packets client→server, server→client |
| bytes_fwd, bytes_rev | int64, null if unknown | bytes (IP length) each way |
| psh_ack_packets | int64, null if unknown | packets with both ACK and PSH set |
| tcp_flags | int32, null if unknown | OR of all TCP flags |
| dns_name | string | a DNS name the client resolved to dst_ip |
| tls_sni | string | TLS server name |
| http_host | string | HTTP Host header |
| methods_fwd, methods_rev | string | JSON-RPC "method" values each way, "|"-joined |
| rpc_reply_rev | bool | a JSON-RPC reply ({"id":…,"result"…}) seen server→client |
| pool_job_rev | bool | pool-side job evidence ("job":{"blob" …) seen server→client |
| login_agent | string | the "agent" of a login request (XMRig/…), if any |
| share_fwd | string | dialect of a share submission sent client→server ("monero", "stratum", "ethereum") |
| share_ack_rev | bool | a reply accepting a share ({"status":"OK"}, true) seen server→client |
| push_iat_median, push_iat_cv | float64 | median (s) and CV of gaps between server messages |
| alert | string | an IDS alert signature on this flow |
| source | string | which reader made the row |

Stored as Arrow/Parquet; every column but the 5-tuple and times may be null.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

FLOW_SCHEMA = pa.schema(
    [
        ("ts_start", TS),
        ("ts_end", TS),
        ("src_ip", pa.string()),
        ("src_port", pa.int32()),
        ("dst_ip", pa.string()),
        ("dst_port", pa.int32()),
        ("proto", pa.string()),
        ("packets_fwd", pa.int64()),
        ("packets_rev", pa.int64()),
        ("bytes_fwd", pa.int64()),
        ("bytes_rev", pa.int64()),
        ("psh_ack_packets", pa.int64()),
        ("tcp_flags", pa.int32()),
        ("dns_name", pa.string()),
        ("tls_sni", pa.string()),
        ("http_host", pa.string()),
        ("methods_fwd", pa.string()),
        ("methods_rev", pa.string()),
        ("rpc_reply_rev", pa.bool_()),
        ("pool_job_rev", pa.bool_()),
        ("login_agent", pa.string()),
        ("share_fwd", pa.string()),
        ("share_ack_rev", pa.bool_()),
        ("push_iat_median", pa.float64()),
        ("push_iat_cv", pa.float64()),
        ("alert", pa.string()),
        ("source", pa.string()),
    ]
)
COLUMNS = FLOW_SCHEMA.names


def flows_table(rows: list[dict[str, object]]) -> pa.Table:
    """Rows as dicts (missing keys are null) → a table in the canonical schema."""
    return pa.Table.from_pylist([{c: r.get(c) for c in COLUMNS} for r in rows],
                                schema=FLOW_SCHEMA)


def conform(table: pa.Table) -> pa.Table:
    """Add missing canonical columns as nulls and cast to the canonical types."""
    if table.schema.equals(FLOW_SCHEMA):
        return table  # already canonical: no copy
    cols = []
    for field in FLOW_SCHEMA:
        if field.name in table.column_names:
            cols.append(table.column(field.name).cast(field.type))
        else:
            cols.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(cols, schema=FLOW_SCHEMA)
