"""Detection tests: no Django. Engine-parametrised tests run on every engine named in
QINGLING_TEST_ENGINES (default: duckdb and spark; spark is skipped without Java)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from qingling.detect.engines import Engine, connect

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "net"
MINING = sorted(p for p in (SHARED / "mining").glob("*.pcap*") if p.suffix != ".out")
BENIGN = sorted((SHARED / "benign").glob("*.pcap"))
needs_shared = pytest.mark.skipif(not SHARED.exists(),
                                  reason="../shared/data is not beside this checkout")


def _engines() -> list[str]:
    return [e for e in os.environ.get("QINGLING_TEST_ENGINES", "duckdb,spark").split(",") if e]


@pytest.fixture(params=_engines())
def engine(request: pytest.FixtureRequest) -> Engine:
    if request.param == "spark" and shutil.which("java") is None:
        pytest.skip("Spark needs Java (scripts/system-deps.sh installs it)")
    return connect(request.param)
