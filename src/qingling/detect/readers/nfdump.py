"""nfdump CSV output (`nfdump -o csv`, 1.6 and 1.7 headers) → canonical flows.

Records are one-way; each is oriented so that the client is the source. The summary block
nfdump prints after the records is skipped.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from qingling.detect.readers.common import ReaderError, ReadStats
from qingling.detect.readers.netflow import orient
from qingling.detect.readers.orientation import InternalNets, settle
from qingling.detect.schema import flows_table

ALIASES = {
    "start": ("ts", "firstseen", "first_seen", "tstart"),
    "end": ("te", "lastseen", "last_seen", "tend"),
    "src": ("sa", "srcaddr", "src_addr"),
    "dst": ("da", "dstaddr", "dst_addr"),
    "sport": ("sp", "srcport", "src_port"),
    "dport": ("dp", "dstport", "dst_port"),
    "proto": ("pr", "proto", "protocol"),
    "flags": ("flg", "tcpflags", "flags"),
    "packets": ("ipkt", "inpackets", "packets", "in_pkts"),
    "octets": ("ibyt", "inbytes", "bytes", "in_bytes"),
}
FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20}
PROTO_NUM = {"tcp": 6, "udp": 17, "icmp": 1, "icmp6": 58}


def _time(text: str) -> float:
    text = text.strip()
    if text.isdigit():  # epoch milliseconds (nfdump 1.7 with -o csv:… some formats)
        return int(text) / 1000.0
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise ValueError(f"not a time: {text!r}")


def read_nfdump(path: Path, stats: ReadStats | None = None,
                internal: InternalNets | None = None) -> pa.Table:
    stats = stats or ReadStats(str(path))
    internal = internal or InternalNets.from_env()
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        index = {}
        for key, names in ALIASES.items():
            for n in names:
                if n in header:
                    index[key] = header.index(n)
                    break
        missing = [k for k in ("start", "src", "dst", "sport", "dport", "proto") if k not in index]
        if missing:
            raise ReaderError(f"{path}: not nfdump CSV (missing {', '.join(missing)} columns)")
        rows = []
        guessed = []
        for line_no, cells in enumerate(reader, start=2):
            if not cells or cells[0].strip().lower() in ("summary", "flows"):
                break  # the summary block
            stats.records += 1
            try:
                proto_txt = cells[index["proto"]].strip().lower()
                flags_txt = cells[index["flags"]].strip() if "flags" in index else ""
                flags = 0
                for ch in flags_txt:
                    flags |= FLAG_BITS.get(ch, 0)
                start = _time(cells[index["start"]])
                end = _time(cells[index["end"]]) if "end" in index else start
                row, guess = orient({
                    "src": cells[index["src"]].strip(), "dst": cells[index["dst"]].strip(),
                    "sport": int(float(cells[index["sport"]])),
                    "dport": int(float(cells[index["dport"]])),
                    "proto": PROTO_NUM.get(proto_txt, proto_txt),
                    "flags": flags if flags_txt else None,
                    "packets": int(float(cells[index["packets"]])) if "packets" in index else None,
                    "octets": int(float(cells[index["octets"]])) if "octets" in index else None,
                    "start": start, "end": end,
                }, "nfdump", internal)
                rows.append(row)
                guessed.append(guess)
            except (ValueError, IndexError) as exc:
                stats.bad += 1
                if len(stats.notes) < 5:
                    stats.notes.append(f"line {line_no}: {exc}")
    settle(rows, guessed)
    return flows_table(rows)
