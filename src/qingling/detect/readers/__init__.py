"""Readers turn what carriers have into canonical flows (see ``qingling.detect.schema``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from qingling.detect.readers.common import ReaderError, ReadStats

FORMATS = ("auto", "pcap", "flows")


def sniff_format(path: Path) -> str:
    name = path.name.lower()
    with path.open("rb") as fh:
        head = fh.read(8)
    if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                    b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a"):
        return "pcap"
    if head[:4] == b"PAR1" or name.endswith((".parquet", ".csv")):
        return "flows"
    raise ReaderError(f"{path}: cannot tell its format; name it with --input-format")


def read_any(path: Path, fmt: str = "auto", stats: ReadStats | None = None,
             progress: Callable[[int], None] | None = None) -> pa.Table:
    if not path.exists():
        raise ReaderError(f"{path}: no such file")
    fmt = sniff_format(path) if fmt == "auto" else fmt
    if fmt == "pcap":
        from qingling.detect.readers.pcap import read_pcap

        return read_pcap(path, stats, progress)
    if fmt == "flows":
        from qingling.detect.readers.flows import read_flows

        return read_flows(path, stats)
    raise ReaderError(f"{path}: unknown input format {fmt!r} (one of {', '.join(FORMATS)})")
