"""Electricity screening: readers, the large-miner case, reasons backed by sub-scores, and
identical ranks on every engine."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from qingling.cli import main as qingling
from qingling.detect.engines import Engine, connect
from qingling.detect.power.devices import fit_units
from qingling.detect.power.engine import PowerConfig, detect_power
from qingling.detect.power.inject import synth_city, synth_meters
from qingling.detect.power.readers import PowerStats, read_meters
from tests.detect.conftest import SHARED

REAL = SHARED.parent / "power" / "sgsc_households_30min_dev.parquet"
AUSGRID = SHARED.parent / "power" / "ausgrid_customer12_30min_dev.parquet"


def test_long_readings_drop_duplicates_negatives_and_keep_gaps(tmp_path: Path) -> None:
    f = tmp_path / "long.csv"
    f.write_text("meter_id,ts,kwh\n"
                 "A,2026-10-01 00:00:00,0.5\n"
                 "A,2026-10-01 00:00:00,0.6\n"  # duplicate: first kept
                 "A,2026-10-01 00:30:00,-1\n"  # negative: dropped
                 "A,2026-10-01 02:00:00,0.5\n"  # a gap before it stays a gap
                 "A,2026-10-01 02:30:00,\n")
    stats = PowerStats("long")
    t = read_meters(f, stats=stats)
    assert t.column("kwh").to_pylist() == [0.5, 0.5]
    assert (stats.duplicates, stats.negative, stats.missing) == (1, 1, 1)
    # Each reading covers the meter's 30-minute interval, not the gap before it.
    assert t.column("minutes").to_pylist() == [30, 30]
    # Local meter time, stored in UTC.
    assert t.column("ts")[0].as_py() == datetime(2026, 9, 30, 16, 0)  # UTC, zone implied


@pytest.mark.parametrize("unit,factor", [("kwh", 1.0), ("kw", 0.25)])
def test_wide96_rows_become_15_minute_readings(tmp_path: Path, unit: str, factor: float) -> None:
    cols = {"meter_id": ["W1"], "date": ["2026-10-01"]}
    cols.update({f"p{i}": [1.0] for i in range(1, 97)})
    f = tmp_path / "wide.csv"
    pacsv.write_csv(pa.table(cols), f)
    t = read_meters(f, wide_unit=unit)
    assert t.num_rows == 96 and set(t.column("minutes").to_pylist()) == {15}
    assert sum(t.column("kwh").to_pylist()) == pytest.approx(96 * factor)


def test_daily_kwh_is_read(tmp_path: Path) -> None:
    f = tmp_path / "daily.csv"
    f.write_text("meter_id,date,kwh\nD1,2026-10-01,12.5\nD1,2026-10-02,13\n")
    t = read_meters(f)
    assert t.column("minutes").to_pylist() == [1440, 1440]


def test_unit_counts_fit_device_multiples() -> None:
    fit = fit_units(6.3)
    assert fit is not None and (fit[0].name, fit[1]) == ("S19", 2)
    assert fit_units(0.3) is None


def test_weights_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        PowerConfig(w_base=0.9)


def large_miner_recall(real: pa.Table | None) -> tuple[int, int, int, int]:
    readings, truth = synth_meters(3000, 30, 40, seed=11, real=real, negatives=0)
    ranked = {r["meter_id"]: r for r in detect_power(readings, connect("duckdb")).ranked.to_pylist()}
    miners = [t for t in truth.to_pylist() if t["kind"] == "miner" and t["schedule"] == "24/7"
              and t["kw"] >= 1.0]
    caught = sum(ranked[t["meter_id"]]["verdict"] == "suspect" for t in miners)
    miner_ids = {t["meter_id"] for t in truth.to_pylist()}
    false_leads = sum(1 for m, r in ranked.items() if r["verdict"] == "suspect"
                      and m not in miner_ids)
    return caught, len(miners), false_leads, len(ranked) - len(miner_ids)


def test_large_24_7_miners_are_all_found_with_almost_no_false_leads() -> None:
    caught, total, false_leads, normal = large_miner_recall(None)
    assert total >= 15 and caught == total
    assert false_leads <= max(1, normal // 10_000)


@pytest.mark.skipif(not REAL.exists(), reason="../shared/data/power is not beside this checkout")
def test_on_real_household_curves_too() -> None:
    caught, total, false_leads, normal = large_miner_recall(pq.read_table(REAL))
    assert total >= 15 and caught == total
    assert false_leads <= max(1, normal // 10_000)


PHRASES = {"基荷": "s_base", "阶跃": "s_step", "波动小": "s_stable", "负荷平直": "s_flat",
           "夜间/白天": "s_night", "高于同类居民": "s_level", "类别不符": "s_category",
           "合同容量": "s_capacity", "中位数": "s_peer", "同日起增": "s_site", "同一地址": "s_site"}


@pytest.mark.parametrize("with_register", [False, True])
def test_every_reason_is_backed_by_a_sub_score_of_its_row(with_register: bool) -> None:
    city = synth_city(800, 30, 20, seed=4, commercial=0.1)
    rows = detect_power(city.readings, connect("duckdb"),
                        register=city.register if with_register else None).ranked.to_pylist()
    suspects = [r for r in rows if r["verdict"] == "suspect"]
    assert suspects
    for r in suspects:
        assert r["reasons"]
        for column in set(PHRASES.values()):
            said = any(p in r["reasons"] for p, c in PHRASES.items() if c == column)
            assert said == (r[column] > 0), (column, r)
        assert r["est_kw"] is not None and r["est_kw"] > 0


def test_duckdb_and_spark_give_identical_ranks(engine: Engine) -> None:
    city = synth_city(200, 21, 6, seed=5, commercial=0.1, area_size=20)
    for register in (None, city.register):
        reference = detect_power(city.readings, connect("duckdb"),
                                 register=register).ranked.to_pylist()
        assert detect_power(city.readings, engine, register=register).ranked.to_pylist() \
            == reference


def test_night_window_steps_rank_identically_on_every_engine(engine: Engine) -> None:
    """The night-window and daytime minima come out of the one Ibis pass too: a city of
    night-only miners starting mid-window ranks the same on every engine."""
    city = synth_city(120, 28, 6, seed=6, onset_day=14, schedules=("valley",))
    reference = detect_power(city.readings, connect("duckdb")).ranked.to_pylist()
    assert any("夜间（22:00–08:00）阶跃" in r["reasons"] for r in reference)
    assert detect_power(city.readings, engine).ranked.to_pylist() == reference


def test_daily_totals_are_judged_on_level_and_steps_not_on_a_shape_they_do_not_have(
        tmp_path: Path) -> None:
    """One reading a day has no minimum, peak or night: such meters must not all look
    perfectly flat (they used to), yet a machine still shows in the level."""
    import pyarrow.compute as pc

    readings, truth = synth_meters(400, 30, 8, seed=12, negatives=0)
    local = pc.add(readings["ts"].cast(pa.int64()), 8 * 3600 * 1_000_000)
    day = pc.divide(local, 86_400 * 1_000_000)
    daily = (pa.table({"meter_id": readings["meter_id"], "day": day, "kwh": readings["kwh"]})
             .group_by(["meter_id", "day"]).aggregate([("kwh", "sum")]))
    dates = (daily["day"].to_numpy() * 86_400).astype("datetime64[s]").astype("datetime64[D]")
    f = tmp_path / "daily.csv"
    pacsv.write_csv(pa.table({"meter_id": daily["meter_id"],
                              "date": pa.array(dates.astype(str)),
                              "kwh": daily["kwh_sum"]}), f)
    rows = detect_power(read_meters(f, "daily"), connect("duckdb")).ranked.to_pylist()
    assert len(rows) == 400 and all(r["flatness"] is None and r["s_flat"] == 0 for r in rows)
    t = {r["meter_id"]: r for r in truth.to_pylist()}
    leads = {r["meter_id"] for r in rows if r["verdict"] == "suspect"}
    assert len(leads - set(t)) <= 1  # households
    big = {m for m, r in t.items() if r["schedule"] == "24/7" and r["kw"] >= 3}
    assert big and big <= leads
    for r in rows:
        if r["meter_id"] in leads and r["s_base"] > 0:
            assert "按日电量折算" in r["reasons"] and "夜间基荷" not in r["reasons"]


def test_monthly_bills_show_a_machine_as_a_level_and_the_month_it_started(
        tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(4)
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    days_in = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    season = [1.5, 1.4, 1.1, 0.9, 0.9, 1.2, 1.6, 1.7, 1.1, 0.9, 1.0, 1.3]  # heating, cooling
    lines = ["meter_id,month,kwh"]
    for m in range(200):
        per_day = rng.uniform(4, 14)
        for i, month in enumerate(months):
            kwh = per_day * season[i] * days_in[i] * rng.uniform(0.9, 1.1)
            if m == 7 and i >= 6:  # one S19 from July
                kwh += 3.15 * 24 * days_in[i]
            if m == 8:  # two S9 all year
                kwh += 2 * 1.35 * 24 * days_in[i]
            lines.append(f"H{m:03d},{month},{kwh:.1f}")
    f = tmp_path / "bills.csv"
    f.write_text("\n".join(lines) + "\n")
    readings = read_meters(f)  # sniffed as monthly
    assert readings["minutes"].to_pylist()[:2] == [31 * 1440, 28 * 1440]
    rows = {r["meter_id"]: r for r in detect_power(readings, connect("duckdb")).ranked.to_pylist()}
    assert len(rows) == 200 and rows["H000"]["days"] == 365
    july = rows["H007"]
    assert july["verdict"] == "suspect" and str(july["onset"]) == "2026-07-01"
    assert "按月电量折算" in july["reasons"] and july["est_units"] == 1
    assert rows["H008"]["verdict"] == "suspect"
    assert sum(r["verdict"] == "suspect" for r in rows.values()) <= 3


def test_the_register_clears_telecom_sites_and_lifts_homes_that_run_like_machines() -> None:
    """Telecom cabinets draw the same flat 1–2 kW as a small miner: on the curves alone
    some are leads. Registered as telecom sites they are not; homes with miners rank higher
    for their category; and no miner is lost."""
    city = synth_city(3000, 30, 30, seed=8, negatives=60, commercial=0.08, agricultural=0.02)
    kind = {r["meter_id"]: r["kind"] for r in city.truth.to_pylist()}
    engine = connect("duckdb")
    alone = detect_power(city.readings, engine).ranked.to_pylist()
    known = detect_power(city.readings, engine, register=city.register).ranked.to_pylist()

    def leads(rows: list[dict[str, object]], what: str) -> set[object]:
        return {r["meter_id"] for r in rows
                if r["verdict"] == "suspect" and kind.get(str(r["meter_id"])) == what}

    assert leads(alone, "telecom")  # the hard case is really there
    assert not leads(known, "telecom")
    assert leads(known, "miner") >= leads(alone, "miner")
    top = [kind.get(str(r["meter_id"])) for r in known[:20]]
    assert top.count("miner") >= [kind.get(str(r["meter_id"])) for r in alone[:20]].count("miner")
    homes = [r for r in known if r["verdict"] == "suspect" and r["s_category"] > 0]
    assert homes and all("居民用户全天基荷" in str(r["reasons"]) for r in homes)


@pytest.mark.parametrize("together", [True, False])
def test_meters_of_one_transformer_stepping_together_are_one_site(together: bool) -> None:
    """+0.6 kW on each of three meters from the same day: under notice one by one, one
    installation of 1.8 kW behind one transformer."""
    import numpy as np

    readings, _ = synth_meters(240, 30, 0, seed=21, negatives=0)
    ts = readings["ts"].cast(pa.int64()).to_numpy()
    ids = readings["meter_id"].to_numpy(zero_copy_only=False)
    chosen = (["M0000010", "M0000020", "M0000030"] if together   # areas: 80 meters each
              else ["M0000010", "M0000090", "M0000170"])
    add = np.where(np.isin(ids, chosen) & (ts >= ts.min() + 12 * 86_400_000_000), 0.3, 0.0)
    readings = readings.set_column(2, "kwh", pa.array(readings["kwh"].to_numpy() + add))
    register = pa.table({"meter_id": [f"M{i:07d}" for i in range(240)],
                         "category": ["居民"] * 240,
                         "transformer_area": [f"台区 {i // 80}" for i in range(240)]})
    rows = detect_power(readings, connect("duckdb"), register=register).ranked.to_pylist()
    leads = {r["meter_id"]: r for r in rows if r["verdict"] == "suspect"}
    if not together:
        assert not leads
        return
    assert set(leads) == set(chosen)
    for r in leads.values():
        assert r["site_meters"] == 3 and r["site_kw"] == pytest.approx(1.8, abs=0.15)
        assert "同台区 3 块电表同日起增负荷" in r["reasons"] and str(r["onset"]) == "2026-10-13"


@pytest.mark.parametrize("shared", [True, False])
def test_meters_at_one_address_carrying_like_loads_are_one_site(shared: bool) -> None:
    """+0.45 kW on each of three meters from the first day: no step to see, each under
    notice; registered at one address, one 1.35 kW installation (a family's second meter
    with a load of its own is not)."""
    import numpy as np

    readings, _ = synth_meters(240, 30, 0, seed=22, negatives=0)
    ids = readings["meter_id"].to_numpy(zero_copy_only=False)
    chosen = ["M0000010", "M0000050", "M0000110"]
    add = np.where(np.isin(ids, chosen), 0.225, 0.0)  # kWh per half hour
    readings = readings.set_column(2, "kwh", pa.array(readings["kwh"].to_numpy() + add))
    address = [f"示范路 {i} 号" for i in range(240)]
    address[200] = address[201]  # a family with two meters and ordinary loads
    if shared:
        address[50] = address[110] = address[10]
    register = pa.table({"meter_id": [f"M{i:07d}" for i in range(240)],
                         "category": ["居民"] * 240, "address": address})
    rows = detect_power(readings, connect("duckdb"), register=register).ranked.to_pylist()
    leads = {r["meter_id"]: r for r in rows if r["verdict"] == "suspect"}
    if not shared:
        assert not leads
        return
    assert set(leads) == set(chosen)
    for r in leads.values():
        assert r["site_meters"] == 3 and r["onset"] is None
        assert "同一地址 3 块电表合计基荷" in r["reasons"] and "≈ 1 台 S9" in r["reasons"]


def test_a_register_naming_a_meter_twice_or_a_bad_contract_is_refused(tmp_path: Path) -> None:
    readings, _ = synth_meters(30, 10, 1, seed=3)
    twice = pa.table({"meter_id": ["M0000001", "M0000002", "M0000001"],
                      "category": ["居民", "居民", "居民"]})
    with pytest.raises(ValueError, match=r"M0000001 appears twice \(rows 2 and 4\)"):
        detect_power(readings, connect("duckdb"), register=twice)
    bad = pa.table({"meter_id": ["M0000001"], "contract_kva": ["eight"]})
    with pytest.raises(ValueError, match=r"row 2: contract_kva 'eight'"):
        detect_power(readings, connect("duckdb"), register=bad)
    data, reg, out = tmp_path / "m.parquet", tmp_path / "reg.csv", tmp_path / "out.csv"
    pq.write_table(readings, data)
    reg.write_text("meter_id,category\nM0000001,居民\nM0000001,居民\n")
    assert qingling(["detect", "power", str(data), "--register", str(reg), "--out",
                     str(out)]) == 2
    assert not out.exists()


def test_mixed_intervals_give_each_meter_the_figures_it_gets_alone(engine: Engine) -> None:
    """One meter read hourly among 15-minute meters: the screening takes each reading's
    own interval, and the 15-minute meters come out exactly as they do beside the same
    meter read every 15 minutes (the households' level is the population's, so the
    comparison keeps the population)."""
    import numpy as np
    import pyarrow.compute as pc

    readings, _ = synth_meters(120, 21, 4, seed=6)
    src = readings.filter(pc.equal(readings["meter_id"], "M0000007"))
    twin = src.set_column(0, "meter_id", pa.array(["H1"] * src.num_rows))
    alone = {r["meter_id"]: r for r in detect_power(pa.concat_tables([readings, twin]), engine)
             .ranked.to_pylist()}
    # Four quarter-hours summed into each hour, stamped at the hour's start.
    ts = src["ts"].cast(pa.int64()).to_numpy() // 3_600_000_000 * 3_600_000_000
    hours, start = np.unique(ts, return_index=True)
    kwh = np.add.reduceat(src["kwh"].to_numpy(), start)
    hourly = pa.table({"meter_id": pa.array(["H1"] * len(hours)),
                       "ts": pa.array(hours, pa.int64()).cast(readings.schema.field("ts").type),
                       "kwh": pa.array(kwh), "minutes": pa.array([60] * len(hours), pa.int32())})
    mixed = pa.concat_tables([readings, hourly.cast(readings.schema)])
    rows = {r["meter_id"]: r for r in detect_power(mixed, engine).ranked.to_pylist()}
    assert rows["H1"]["days"] == alone["H1"]["days"] == 21
    assert rows["H1"]["daily_kwh"] == pytest.approx(alone["H1"]["daily_kwh"], abs=1e-3)
    assert rows["H1"]["verdict"] == alone["H1"]["verdict"]
    for meter, row in alone.items():
        if meter != "H1":
            assert {k: v for k, v in rows[meter].items() if k != "rank"} == \
                {k: v for k, v in row.items() if k != "rank"}


def test_the_cli_ranks_meters_and_joins_the_register(tmp_path: Path) -> None:
    data = tmp_path / "m.parquet"
    assert qingling(["synth", "meters", "--meters", "120", "--days", "14", "--miners", "3",
                     "--out", str(data), "--real", str(tmp_path / "none.parquet")]) == 0
    reg = tmp_path / "register.csv"
    reg.write_text("meter_id,category,transformer_area\nM0000001,居民,台区 7\n")
    out = tmp_path / "ranked.csv"
    assert qingling(["detect", "power", str(data), "--register", str(reg), "--out",
                     str(out)]) == 0
    rows = list(pacsv.read_csv(out).to_pylist())
    assert [r["rank"] for r in rows] == list(range(1, 121))
    assert {"meter_id", "rank", "score", "verdict", "est_kw", "est_units", "onset",
            "reasons", "category"} <= set(rows[0])
    # The synthetic city comes with its own register, which the screen reads.
    synth_reg = tmp_path / "m.register.csv"
    assert qingling(["detect", "power", str(data), "--register", str(synth_reg), "--out",
                     str(out)]) == 0
    rows = list(pacsv.read_csv(out).to_pylist())
    assert {r["category"] for r in rows} >= {"居民"}
    assert all(r["transformer_area"].startswith("台区") for r in rows)


def test_parquet_read_by_the_engine_ranks_like_arrow_input(tmp_path: Path) -> None:
    readings, _ = synth_meters(150, 14, 4, seed=9)
    f = tmp_path / "m.parquet"
    pq.write_table(readings, f)
    engine = connect("duckdb")
    from_arrow = detect_power(readings, engine).ranked.to_pylist()
    from_parquet = detect_power(engine.read_parquet([str(f)]), engine).ranked.to_pylist()
    assert from_parquet == from_arrow


def test_a_base_that_falls_back_after_days_is_not_a_mining_step() -> None:
    """A week of electric heating lifts the base and lets it fall: not a machine that keeps
    running. The same lift kept to the end of the window is a step."""
    import numpy as np

    days, per_day = 30, 96
    rng = np.random.default_rng(3)
    hours = np.arange(per_day) / 4
    shape = 0.15 + 0.6 * np.exp(-((hours - 19.5) ** 2) / 4)

    def curve(extra: np.ndarray) -> np.ndarray:
        kw = np.tile(shape, days) * rng.uniform(0.8, 1.2, days * per_day)
        return kw + np.repeat(extra, per_day)

    lift = np.zeros(days)
    lift[18:24] = 5.0  # six days at +5 kW, then back
    kept = np.zeros(days)
    kept[18:] = 5.0  # +5 kW from day 18 to the end
    t0 = int(datetime(2026, 10, 1).timestamp() * 1_000_000) - 8 * 3600 * 1_000_000
    ts = t0 + np.arange(days * per_day, dtype=np.int64) * 15 * 60 * 1_000_000
    rows = {"heater": curve(lift), "miner": curve(kept)}
    readings = pa.table({
        "meter_id": pa.array(np.repeat(list(rows), days * per_day)),
        "ts": pa.array(np.tile(ts, len(rows)), pa.timestamp("us")),
        "kwh": pa.array(np.concatenate(list(rows.values())) / 4),
        "minutes": pa.array(np.full(days * per_day * len(rows), 15, np.int32)),
    })
    ranked = {r["meter_id"]: r for r in detect_power(readings, connect("duckdb")).ranked.to_pylist()}
    assert ranked["miner"]["s_step"] > 0 and ranked["miner"]["verdict"] == "suspect"
    assert ranked["miner"]["onset"].isoformat() == "2026-10-19"
    assert ranked["heater"]["s_step"] == 0


def _households_with_miners(days: int, miners: dict[str, tuple[float, str, int]],
                            real: pa.Table | None = None, seed: int = 31) -> pa.Table:
    """300 households of the generator (real curves when given), with a miner added to each
    meter named: (kW, schedule, onset day)."""
    import numpy as np

    from qingling.detect.power.inject import STEP_MIN, miner_kw

    readings, _ = synth_meters(300, days, 0, seed=seed, real=real, negatives=0)
    ids = readings["meter_id"].to_numpy(zero_copy_only=False)
    kwh = readings["kwh"].to_numpy().copy()
    rng = np.random.default_rng(seed)
    for meter, (kw, schedule, onset) in miners.items():
        at = np.flatnonzero(ids == meter)
        kwh[at] += miner_kw(rng, days, 1, kw, schedule, onset, 3) * STEP_MIN / 60  # 2026-10-01
    return readings.set_column(2, "kwh", pa.array(kwh))


@pytest.mark.parametrize("source", ["generator", "sgsc"])
def test_a_night_only_miner_on_a_household_with_daytime_use_is_found_with_its_onset(
        source: str) -> None:
    """A miner running 22:00–08:00 from day 30 of 44: the household's lowest load stays in
    the day, so the daily minimum never steps; the night-window minimum does."""
    if source == "sgsc" and not REAL.exists():
        pytest.skip("../shared/data/power is not beside this checkout")
    real = pq.read_table(REAL) if source == "sgsc" else None
    readings = _households_with_miners(44, {"M0000010": (3.15, "valley", 30),
                                            "M0000020": (1.35, "valley", 30)}, real)
    rows = {r["meter_id"]: r for r in detect_power(readings, connect("duckdb")).ranked.to_pylist()}
    for meter in ("M0000010", "M0000020"):
        r = rows[meter]
        assert r["verdict"] == "suspect", r
        assert str(r["onset"]) == "2026-10-31" and r["s_step"] > 0
        assert "22:00–08:00" in r["reasons"]
    assert rows["M0000010"]["est_units"] == 1 and rows["M0000010"]["device"] == "S19"
    assert [m for m, r in rows.items() if r["verdict"] == "suspect"
            and m not in ("M0000010", "M0000020")] == []


@pytest.mark.parametrize("source", ["generator", "sgsc"])
def test_a_miner_starting_14_days_before_the_end_of_a_44_day_window_is_a_suspect(
        source: str) -> None:
    """Whole-window indicators dilute a step of two weeks ago: the days since the step are
    judged against the history before it."""
    if source == "sgsc" and not REAL.exists():
        pytest.skip("../shared/data/power is not beside this checkout")
    real = pq.read_table(REAL) if source == "sgsc" else None
    miners = {"M0000010": (1.35, "24/7", 30), "M0000020": (3.15, "24/7", 30),
              "M0000030": (1.7, "24/7", 30)}
    readings = _households_with_miners(44, miners, real)
    rows = {r["meter_id"]: r for r in detect_power(readings, connect("duckdb")).ranked.to_pylist()}
    for meter in miners:
        r = rows[meter]
        assert r["verdict"] == "suspect", r
        assert str(r["onset"]) == "2026-10-31" and r["s_step"] > 0
    assert [m for m, r in rows.items() if r["verdict"] == "suspect" and m not in miners] == []


@pytest.mark.skipif(not AUSGRID.exists(), reason="../shared/data/power is not beside this checkout")
def test_a_population_of_heavier_homes_is_measured_against_its_own_households() -> None:
    """A Sydney home with a pool and PV uses ~32 kWh a day on a 0.55 kW base, two and a
    half times a Chinese home's 95th percentile: a population of such homes all looked
    'above the 95th percentile', and two family meters at one address looked like one
    machine split in two. Judged against its own households, no ordinary home is a lead,
    and the miners among them still are."""
    city = synth_city(800, 30, 8, seed=13, real=pq.read_table(AUSGRID), negatives=0)
    truth = {t["meter_id"]: t for t in city.truth.to_pylist()}
    rows = {r["meter_id"]: r for r in detect_power(city.readings, connect("duckdb"),
                                                   register=city.register).ranked.to_pylist()}
    assert [m for m, r in rows.items() if r["verdict"] == "suspect" and m not in truth] == []
    big = [m for m, t in truth.items() if t["schedule"] == "24/7" and t["kw"] >= 1.0
           and not t["evasion"]]
    assert big and all(rows[m]["verdict"] == "suspect" for m in big)


def _timer_loads(readings: pa.Table, loads: dict[str, tuple[float, int, int]]) -> pa.Table:
    """Add to each meter named a load of kW switched on by a timer every night from one
    hour to another (local time): a storage heater, an off-peak hot-water cylinder, an EV."""
    import numpy as np

    from qingling.detect.power.inject import PER_DAY, STEP_MIN

    ids = readings["meter_id"].to_numpy(zero_copy_only=False)
    kwh = readings["kwh"].to_numpy().copy()
    hour = (np.arange(PER_DAY) * STEP_MIN / 60)[None, :]
    for meter, (kw, on, off) in loads.items():
        at = np.flatnonzero(ids == meter)
        lit = ((hour >= on) | (hour < off)) if on > off else ((hour >= on) & (hour < off))
        kwh[at] += (np.broadcast_to(lit, (len(at) // PER_DAY, PER_DAY)).ravel()
                    * kw * STEP_MIN / 60)
    return readings.set_column(2, "kwh", pa.array(kwh))


@pytest.mark.parametrize("source", ["generator", "ausgrid"])
def test_a_timer_load_at_night_is_not_a_lead_and_a_night_only_miner_still_is(
        source: str) -> None:
    """A storage heater or a hot-water cylinder on an off-peak timer (4.5 kW, 23:00–06:00)
    and an EV charged 23:00–03:00 make a home's day steady, high and heavy at night, and
    with the register its mean load near the contract; but they hold no load: the day's
    and the night window's minimum stay where a home's are. Where the homes themselves
    carry a base of half a kW (a Sydney home with a pool), that was enough for a lead. A
    miner at night holds its draw through the whole window and is still one, beside a
    home's own timer load too."""
    if source == "ausgrid" and not AUSGRID.exists():
        pytest.skip("../shared/data/power is not beside this checkout")
    real = pq.read_table(AUSGRID) if source == "ausgrid" else None
    city = synth_city(600, 30, 0, seed=5, real=real, negatives=0)
    timers = {f"M{i:07d}": (4.5, 23, 6) for i in range(10, 60, 5)}
    timers.update({f"M{i:07d}": (7.0, 23, 3) for i in range(60, 110, 5)})
    readings = _timer_loads(city.readings, timers)
    # A home's own hot water on a timer (00:00–04:00) beside a night-only miner: the night
    # is far from flat, but its minimum is the miner's, held night after night.
    readings = _timer_loads(readings, {"M0000230": (3.0, 0, 4)})
    miners = {"M0000200": (3.15, "valley", 0), "M0000210": (1.35, "valley", 12),
              "M0000220": (1.35, "24/7", 0), "M0000230": (1.35, "valley", 0)}
    import numpy as np

    from qingling.detect.power.inject import STEP_MIN, miner_kw

    ids = readings["meter_id"].to_numpy(zero_copy_only=False)
    kwh = readings["kwh"].to_numpy().copy()
    rng = np.random.default_rng(5)
    for meter, (kw, schedule, onset) in miners.items():
        kwh[ids == meter] += miner_kw(rng, 30, 1, kw, schedule, onset, 3) * STEP_MIN / 60
    readings = readings.set_column(2, "kwh", pa.array(kwh))
    register = city.register.set_column(  # every meter a home on a 4 kVA contract
        2, "contract_kva", pa.array([4.0] * city.register.num_rows))
    for reg in (None, register):
        rows = {r["meter_id"]: r for r in detect_power(readings, connect("duckdb"),
                                                       register=reg).ranked.to_pylist()}
        assert [m for m in timers if rows[m]["verdict"] == "suspect"] == []
        assert [m for m in miners if rows[m]["verdict"] != "suspect"] == []
        assert [m for m, r in rows.items() if r["verdict"] == "suspect"
                and m not in miners] == []


@pytest.mark.parametrize("source", ["generator", "sgsc"])
def test_a_few_days_of_a_held_load_that_ended_is_not_a_step_and_a_weeks_miner_is(
        source: str) -> None:
    """An SGSC home drew +3.6 kW around the clock for four days near the end of a window and
    then fell back (a heater in a cold snap, a guest): with five days after it, its split
    passed for a step of 3 S9. A machine keeps running: a step counts once its level has
    held a week. A miner that started eight days before the end is still a lead."""
    import numpy as np

    from qingling.detect.power.inject import PER_DAY, STEP_MIN

    if source == "sgsc" and not REAL.exists():
        pytest.skip("../shared/data/power is not beside this checkout")
    real = pq.read_table(REAL) if source == "sgsc" else None
    days = 30
    readings = _households_with_miners(days, {"M0000020": (3.15, "24/7", 22)}, real)
    ids = readings["meter_id"].to_numpy(zero_copy_only=False)
    kwh = readings["kwh"].to_numpy().copy()
    burst = np.zeros(days * PER_DAY)
    burst[25 * PER_DAY + 10 : 29 * PER_DAY + 10] = 3.6  # from 05:00 on day 25 for four days
    kwh[ids == "M0000010"] += burst * STEP_MIN / 60
    readings = readings.set_column(2, "kwh", pa.array(kwh))
    rows = {r["meter_id"]: r for r in detect_power(readings, connect("duckdb")).ranked.to_pylist()}
    assert rows["M0000010"]["verdict"] == "normal" and rows["M0000010"]["s_step"] == 0
    assert rows["M0000020"]["verdict"] == "suspect" and str(rows["M0000020"]["onset"]) == \
        "2026-10-23"
