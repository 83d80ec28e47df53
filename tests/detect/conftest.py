"""Detection tests: no Django. Engine-parametrised tests run on every engine named in
QINGLING_TEST_ENGINES (default: duckdb and spark; spark is skipped without Java)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qingling.detect.engines import Engine, connect

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "net"
MINING = sorted(p for p in (SHARED / "mining").glob("*.pcap*") if p.suffix != ".out")
BENIGN = sorted((SHARED / "benign").glob("*.pcap"))
needs_shared = pytest.mark.skipif(not SHARED.exists(),
                                  reason="../shared/data is not beside this checkout")


T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def record(start_s: float, end_s: float, **kw: object) -> dict[str, object]:
    """One canonical flow record: by default a miner's 10 minutes to a pool on 3333."""
    base: dict[str, object] = {
        "ts_start": T0 + timedelta(seconds=start_s), "ts_end": T0 + timedelta(seconds=end_s),
        "src_ip": "10.1.1.1", "src_port": 50000, "dst_ip": "198.51.100.9", "dst_port": 3333,
        "proto": "tcp", "packets_fwd": 60, "packets_rev": 60, "bytes_fwd": 6000,
        "bytes_rev": 9000, "psh_ack_packets": 100, "source": "test",
    }
    base.update(kw)
    return base


def _engines() -> list[str]:
    return [e for e in os.environ.get("QINGLING_TEST_ENGINES", "duckdb,spark").split(",") if e]


@pytest.fixture(params=_engines())
def engine(request: pytest.FixtureRequest) -> Engine:
    if request.param == "spark" and shutil.which("java") is None:
        pytest.skip("Spark needs Java (scripts/system-deps.sh installs it)")
    return connect(request.param)

