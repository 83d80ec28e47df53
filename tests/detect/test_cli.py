from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from qingling.cli import main as qingling
from tests.detect.conftest import MINING, needs_shared

DATA = Path(__file__).parent / "data"


@needs_shared
def test_detect_network_writes_one_row_per_pair_and_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "verdicts.csv"
    capture = next(p for p in MINING if p.name == "ndpi_mining.pcapng")
    assert qingling(["detect", "network", str(capture), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4 and {r["verdict"] for r in rows} == {"mining"}
    for col in ("src_ip", "dst_ip", "dst_port", "proto", "first_seen", "last_seen", "verdict",
                "score", "layers", "evidence"):
        assert rows[0][col] != ""
    err = capsys.readouterr().err
    assert "673 records, 0 bad" in err and "4 mining" in err


def test_several_formats_in_one_run_and_parquet_out(tmp_path: Path) -> None:
    out = tmp_path / "v.parquet"
    args = ["detect", "network", str(DATA / "eve_sample.json"), str(DATA / "nfdump_sample.csv"),
            "--out", str(out)]
    assert qingling(args) == 0
    assert "mining" in pq.read_table(out).column("verdict").to_pylist()


def test_a_bad_input_is_named_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "v.csv"
    assert qingling(["detect", "network", str(tmp_path / "missing.pcap"), "--out",
                     str(out)]) == 2
    assert "missing.pcap: no such file" in capsys.readouterr().err
    assert not out.exists()
