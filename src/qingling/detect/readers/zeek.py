"""Zeek logs (conn, dns, ssl, http; TSV with #fields headers or JSON lines) → canonical flows.

conn.log gives the flows; ssl.log and http.log add SNI and Host by uid; dns.log names the
addresses a host resolved. Malformed lines are counted, not fatal. Zeek's originator is
kept when its history shows the handshake; a TCP connection picked up mid-stream is
oriented by ``orientation`` (system ports, the internal ranges, then port guesses), as
Zeek's own guess is by port.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from qingling.detect.readers.common import ReaderError, ReadStats, json_lines
from qingling.detect.readers.orientation import InternalNets, decide, settle
from qingling.detect.schema import flows_table

UNSET = {"-", "(empty)", ""}


def _records(path: Path, stats: ReadStats) -> tuple[str, Iterator[dict[str, Any]]]:
    """The log's kind (conn, dns, ssl, http, …) and its records as dicts."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    if first.startswith("{"):
        kind = path.name.split(".")[0]
        return kind, json_lines(path, stats)
    if first.startswith("#separator"):
        return _tsv(path, stats)
    raise ReaderError(f"{path}: not a Zeek log (no #separator header, not JSON lines)")


def _tsv(path: Path, stats: ReadStats) -> tuple[str, Iterator[dict[str, Any]]]:
    sep = "\t"
    fields: list[str] = []
    kind = path.name.split(".")[0]
    with path.open(encoding="utf-8", errors="replace") as fh:
        header = []
        for line in fh:
            if not line.startswith("#"):
                break
            header.append(line.rstrip("\n"))
    for h in header:
        if h.startswith("#separator"):
            sep = h.split(" ", 1)[1].encode().decode("unicode_escape")
        elif h.startswith("#path"):
            kind = h.split(sep)[1]
        elif h.startswith("#fields"):
            fields = h.split(sep)[1:]
    if not fields:
        raise ReaderError(f"{path}: Zeek TSV log without a #fields line")

    def rows() -> Iterator[dict[str, Any]]:
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("#") or not line.strip():
                    continue
                stats.records += 1
                cells = line.rstrip("\n").split(sep)
                if len(cells) != len(fields):
                    stats.bad += 1
                    continue
                yield {f: (None if c in UNSET else c) for f, c in zip(fields, cells, strict=True)}

    return kind, rows()


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _orig_is_client(r: dict[str, Any], internal: InternalNets) -> tuple[bool, bool]:
    proto = (r.get("proto") or "").lower()
    history = r.get("history") or ""
    # S: the originator's SYN, h: the responder's SYN-ACK. Without either (or without a
    # history at all, as some exporters write conn logs) the opening was not seen.
    seen = proto != "tcp" or "S" in history or "h" in history
    orig = (r["id.orig_h"], int(_num(r.get("id.orig_p")) or 0))
    resp = (r["id.resp_h"], int(_num(r.get("id.resp_p")) or 0))
    return decide(orig, resp, internal, True if seen else None)


def read_zeek(paths: list[Path], stats: ReadStats | None = None,
              internal: InternalNets | None = None) -> pa.Table:
    stats = stats or ReadStats(", ".join(str(p) for p in paths))
    internal = internal or InternalNets.from_env()
    conns: list[dict[str, Any]] = []
    sni: dict[str, str] = {}
    host: dict[str, str] = {}
    resolved: dict[tuple[str, str], str] = {}
    for path in paths:
        kind, records = _records(path, stats)
        for r in records:
            if kind == "conn":
                conns.append(r)
            elif kind == "ssl" and r.get("uid") and r.get("server_name"):
                sni[r["uid"]] = r["server_name"].lower()
            elif kind == "http" and r.get("uid") and r.get("host"):
                host[r["uid"]] = r["host"].lower().split(":")[0]
            elif kind == "dns" and r.get("query") and r.get("answers"):
                answers = r["answers"]
                answers = answers if isinstance(answers, list) else str(answers).split(",")
                for a in answers:
                    resolved[(r.get("id.orig_h", ""), a.strip())] = r["query"].lower()
            else:
                stats.skipped += 1
    rows = []
    guessed = []
    for r in conns:
        ts, dur = _num(r.get("ts")), _num(r.get("duration")) or 0.0
        if ts is None or not r.get("id.orig_h") or not r.get("id.resp_h"):
            stats.bad += 1
            continue
        uid = r.get("uid") or ""
        ends = [(r["id.orig_h"], int(_num(r.get("id.orig_p")) or 0), _int(r.get("orig_pkts")),
                 _int(r.get("orig_ip_bytes"))),
                (r["id.resp_h"], int(_num(r.get("id.resp_p")) or 0), _int(r.get("resp_pkts")),
                 _int(r.get("resp_ip_bytes")))]
        orig_client, guess = _orig_is_client(r, internal)
        if not orig_client:
            ends.reverse()
        guessed.append(guess)
        (client, cport, cpk, cby), (server, sport, spk, sby) = ends
        rows.append({
            "ts_start": datetime.fromtimestamp(ts, UTC),
            "ts_end": datetime.fromtimestamp(ts + dur, UTC),
            "src_ip": client, "src_port": cport, "dst_ip": server, "dst_port": sport,
            "proto": (r.get("proto") or "").lower(),
            "packets_fwd": cpk, "packets_rev": spk, "bytes_fwd": cby, "bytes_rev": sby,
            "tls_sni": sni.get(uid), "http_host": host.get(uid),
            "source": "zeek",
        })
    settle(rows, guessed)
    for row in rows:  # the name the client resolved, once its side is settled
        row["dns_name"] = resolved.get((str(row["src_ip"]), str(row["dst_ip"])))
    return flows_table(rows)


def _int(v: Any) -> int | None:
    n = _num(v)
    return None if n is None else int(n)
