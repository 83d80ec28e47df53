"""The canonical flow schema itself, as Parquet or CSV (header = column names)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from qingling.detect.readers.common import ReaderError, ReadStats
from qingling.detect.schema import FLOW_SCHEMA, conform

REQUIRED = ("ts_start", "ts_end", "src_ip", "dst_ip", "dst_port", "proto")


def read_flows(path: Path, stats: ReadStats | None = None,
               columns: tuple[str, ...] | None = None) -> pa.Table:
    """Read canonical flows; with ``columns``, a Parquet file is read for those alone (the
    rest come back as nulls), which spares a city day's unused text columns."""
    stats = stats or ReadStats(str(path))
    try:
        if path.suffix.lower() == ".csv":
            types = {f.name: f.type for f in FLOW_SCHEMA}
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
        else:
            wanted = None
            if columns is not None:
                present = set(pq.read_schema(path).names)
                wanted = [c for c in FLOW_SCHEMA.names if c in columns and c in present]
            table = pq.read_table(path, columns=wanted)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReaderError(f"{path}: {exc}") from None
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise ReaderError(f"{path}: missing column(s) {', '.join(missing)}")
    stats.records += table.num_rows
    try:
        return conform(table)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ReaderError(f"{path}: a column has the wrong type: {exc}") from None
