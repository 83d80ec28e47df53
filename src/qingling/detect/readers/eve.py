"""Suricata EVE JSON (flow, dns, tls, http, alert events) → canonical flows.

Suricata orients flows to the server, so src is the client. Events of one flow are joined
by flow_id; coin-miner alerts become payload evidence.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from qingling.detect.readers.common import ReadStats, json_lines
from qingling.detect.schema import flows_table


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def read_eve(path: Path, stats: ReadStats | None = None) -> pa.Table:
    stats = stats or ReadStats(str(path))
    flows: dict[Any, dict[str, Any]] = {}
    extra: dict[Any, dict[str, Any]] = {}
    resolved: dict[tuple[str, str], str] = {}
    for e in json_lines(path, stats):
        kind = e.get("event_type")
        fid = e.get("flow_id")
        x = extra.setdefault(fid, {}) if fid is not None else {}
        if kind == "flow":
            flows[fid] = e
        elif kind == "tls" and e.get("tls", {}).get("sni"):
            x["tls_sni"] = e["tls"]["sni"].lower()
        elif kind == "http" and e.get("http", {}).get("hostname"):
            x["http_host"] = e["http"]["hostname"].lower()
        elif kind == "dns":
            d = e.get("dns", {})
            for a in d.get("answers", []) or []:
                if a.get("rrtype") in ("A", "AAAA") and a.get("rdata") and a.get("rrname"):
                    resolved[(e.get("dest_ip", ""), a["rdata"])] = a["rrname"].lower()
                    resolved[(e.get("src_ip", ""), a["rdata"])] = a["rrname"].lower()
        elif kind == "alert":
            sig = e.get("alert", {}).get("signature", "")
            x["alert"] = sig
            flows.setdefault(("alert", fid), e)
        else:
            stats.skipped += 1
    # An alert stands for its flow only when Suricata logged no flow event for it.
    flows = {k: v for k, v in flows.items()
             if not (isinstance(k, tuple) and k[1] in flows)}
    rows = []
    for fid, e in flows.items():
        f = e.get("flow", {})
        start = _when(f.get("start")) or _when(e.get("timestamp"))
        end = _when(f.get("end")) or start
        if start is None or not e.get("src_ip") or not e.get("dest_ip"):
            stats.bad += 1
            continue
        x = extra.get(fid[1] if isinstance(fid, tuple) else fid, {})
        rows.append({
            "ts_start": start, "ts_end": end,
            "src_ip": e["src_ip"], "src_port": e.get("src_port") or 0,
            "dst_ip": e["dest_ip"], "dst_port": e.get("dest_port") or 0,
            "proto": str(e.get("proto", "")).lower(),
            "packets_fwd": f.get("pkts_toserver"), "packets_rev": f.get("pkts_toclient"),
            "bytes_fwd": f.get("bytes_toserver"), "bytes_rev": f.get("bytes_toclient"),
            "tls_sni": x.get("tls_sni"), "http_host": x.get("http_host"), "alert": x.get("alert"),
            "dns_name": resolved.get((e["src_ip"], e["dest_ip"])),
            "source": "eve",
        })
    return flows_table(rows)
