"""Engine adapters: the only place that knows DuckDB from Spark.

Detection logic is written once as Ibis expressions over a table; an adapter turns an
Arrow table into an Ibis table on its engine and executes an expression back to Arrow.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

import ibis
import pyarrow as pa

ENGINES = ("duckdb", "spark")


class Engine:
    name: str
    con: Any

    def table(self, data: pa.Table, name: str) -> Any:
        raise NotImplementedError

    def read_parquet(self, paths: list[str]) -> Any:
        """Parquet files as a table the engine scans itself (nothing loaded into Python)."""
        return self.con.read_parquet(paths if len(paths) > 1 else paths[0])

    def execute(self, expr: Any) -> pa.Table:
        raise NotImplementedError


class DuckDBEngine(Engine):
    name = "duckdb"

    def __init__(self, threads: int | None = None) -> None:
        self.con = ibis.duckdb.connect(**({"threads": threads} if threads else {}))

    def table(self, data: pa.Table, name: str) -> Any:
        # Registered, not copied: DuckDB scans the Arrow buffers in place.
        return ibis.memtable(data)

    def execute(self, expr: Any) -> pa.Table:
        return utc_timestamps(self.con.to_pyarrow(expr))


class SparkEngine(Engine):
    name = "spark"
    _session: Any = None

    def __init__(self) -> None:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise RuntimeError(
                "--engine spark needs PySpark: pip install 'qingling[spark]' (and Java 17+)"
            ) from None
        if SparkEngine._session is None:
            SparkEngine._session = (
                SparkSession.builder.master("local[2]")
                .appName("qingling")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="qingling-spark-"))
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .getOrCreate()
            )
            SparkEngine._session.sparkContext.setLogLevel("ERROR")
        self.con = ibis.pyspark.connect(SparkEngine._session)

    def table(self, data: pa.Table, name: str) -> Any:
        # An in-memory table becomes a temporary view: nothing written to a warehouse.
        return ibis.memtable(data.combine_chunks())

    def execute(self, expr: Any) -> pa.Table:
        return utc_timestamps(self.con.to_pyarrow(expr))


def utc_timestamps(table: pa.Table) -> pa.Table:
    """Spark hands back session-time (UTC) timestamps without a zone; name it."""
    fields = [
        pa.field(f.name, pa.timestamp("us", tz="UTC"))
        if pa.types.is_timestamp(f.type) and f.type.tz is None else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def connect(name: str) -> Engine:
    factories: dict[str, Callable[[], Engine]] = {"duckdb": DuckDBEngine, "spark": SparkEngine}
    if name not in factories:
        raise ValueError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")
    return factories[name]()
