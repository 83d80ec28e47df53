"""Subscriber resolution: every generated observation resolves to the right account or to
an explicit ambiguity, on every engine; the edges (handover, clock tolerance, CGNAT port
range, missing Stop, time without zone) are checked by hand."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from qingling.detect.engines import Engine
from qingling.detect.readers.common import ReaderError, ReadStats
from qingling.detect.resolve import schema
from qingling.detect.resolve.engine import ResolveConfig, build_sessions, resolve
from qingling.detect.resolve.readers import parse_time, read_observations, read_radius
from qingling.detect.resolve.synth import synth_carrier


def t(h: int, m: int = 0, s: int = 0) -> datetime:
    return datetime(2026, 11, 20, h, m, s, tzinfo=UTC)


def events(*rows: tuple[str, str, str, str, datetime]) -> pa.Table:
    return pa.Table.from_pylist([{"account": a, "ip": ip, "status": st, "session_id": sid,
                                  "nas_ip": "10.0.0.1", "ts": ts}
                                 for a, ip, st, sid, ts in rows], schema=schema.EVENTS)


def observe(*rows: tuple[str, int | None, datetime] | tuple[str, int | None, datetime, bool]
            ) -> pa.Table:
    return pa.Table.from_pylist([{"obs_id": str(i), "ip": r[0], "port": r[1], "ts": r[2],
                                  "tz_assumed": r[3] if len(r) > 3 else False}
                                 for i, r in enumerate(rows)], schema=schema.OBSERVATIONS)


def test_generated_carrier_data_resolves_to_its_answer_key(engine: Engine,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    data = synth_carrier(n_ips=300, days=2, observations=1500, seed=7)
    sessions = build_sessions(data.events, engine)
    keep = ["account", "ip", "start", "stop", "session_id", "closed_by"]
    assert sessions.select(keep).sort_by("session_id").equals(
        data.sessions.select(keep).sort_by("session_id"))
    out = resolve(data.observations, sessions, engine, cgnat=data.cgnat, static=data.static)
    truth = {r["obs_id"]: r for r in data.truth.to_pylist()}
    wrong = [(truth[r["obs_id"]]["case"], r["status"], r["reason"]) for r in out.to_pylist()
             if (r["status"], r["account"]) != (truth[r["obs_id"]]["status"],
                                                truth[r["obs_id"]]["account"])]
    cases = Counter(r["case"] for r in truth.values())
    with capsys.disabled():
        print(f"\nresolution on {engine.name}: {len(truth) - len(wrong)}/{len(truth)} as the key "
              f"says; cases {dict(cases)}")
    assert wrong == []
    # Every kind of case is present, so the check above covers each of them.
    assert set(cases) == {"radius", "cgnat", "handover", "cgnat_no_port", "static", "unknown"}
    # A reassigned address: the same IP held by different accounts within one day.
    by_ip = Counter((r["ip"], r["start"].date()) for r in sessions.to_pylist())
    assert max(by_ip.values()) >= 3


def test_sessions_without_stop_end_at_the_next_start_or_the_maximum(engine: Engine) -> None:
    s = build_sessions(events(
        ("A", "61.1.1.1", "start", "s1", t(1)),
        ("A", "61.1.1.1", "interim", "s1", t(2)),
        ("B", "61.1.1.1", "start", "s2", t(6)),  # A's Stop was lost
        ("B", "61.1.1.1", "stop", "s2", t(8)),
        ("C", "61.1.1.2", "start", "s3", t(1)),  # no Stop, nothing after: capped
        ("D", "61.1.1.3", "interim", "s4", t(3)),  # only an interim record: starts there
        ("D", "61.1.1.3", "stop", "s4", t(4)),
        ("E", "61.1.1.9", "start", "s5", t(23, 30)),  # still running at the end of the data
    ), engine, ResolveConfig(max_session_s=6 * 3600)).to_pylist()
    got = {r["session_id"]: (r["start"], r["stop"], r["closed_by"]) for r in s}
    assert got["s1"] == (t(1), t(6), "next_start")
    assert got["s2"] == (t(6), t(8), "stop")
    assert got["s3"] == (t(1), t(7), "max_length")
    assert got["s4"] == (t(3), t(4), "stop")
    assert got["s5"][2] == "open"


def test_edges_ports_and_zones(engine: Engine) -> None:
    ev = events(("A", "100.64.0.1", "start", "s1", t(1)), ("A", "100.64.0.1", "stop", "s1", t(5)),
                ("B", "100.64.0.1", "start", "s2", t(5, 1)),  # 60 s later: a handover
                ("B", "100.64.0.1", "stop", "s2", t(9)),
                ("C", "61.2.2.2", "start", "s3", t(1)), ("C", "61.2.2.2", "stop", "s3", t(2)))
    cg = pa.Table.from_pylist([
        {"private_ip": "100.64.0.1", "public_ip": "220.1.1.1", "port_lo": 1024,
         "port_hi": 2047, "start": t(0), "stop": t(23)}], schema=schema.CGNAT)
    obs = observe(
        ("220.1.1.1", 1024, t(3)),  # 0 first port of the block
        ("220.1.1.1", 2047, t(3)),  # 1 last port of the block
        ("220.1.1.1", 2048, t(3)),  # 2 one past it
        ("220.1.1.1", 1500, t(5)),  # 3 at the handover
        ("220.1.1.1", 1500, t(9, 1)),  # 4 60 s after B's Stop: within the tolerance
        ("220.1.1.1", 1500, t(9, 3)),  # 5 180 s after: beyond it
        ("61.2.2.2", None, t(2, 1)),  # 6 a public address, 60 s after its session
        ("61.2.2.2", None, t(1, 30), True),  # 7 no zone: as UTC 09:30 nobody holds it
    )
    r = resolve(obs, build_sessions(ev, engine), engine, cgnat=cg).to_pylist()
    got = [(x["status"], x["account"]) for x in r]
    assert got == [("resolved", "A"), ("resolved", "A"), ("unresolved", None),
                   ("ambiguous", None), ("resolved", "B"), ("unresolved", None),
                   ("resolved", "C"), ("ambiguous", None)]
    assert r[0]["via"] == "cgnat+radius" and r[0]["confidence"] == 1.0
    assert "220.1.1.1:1024-2047 → 100.64.0.1" in r[0]["record"]
    assert "reassigned" in r[3]["reason"] and r[3]["candidates"] == 2
    assert r[4]["confidence"] == 0.6 and "within 120 s" in r[4]["reason"]
    assert "give the zone" in r[7]["reason"]


def test_readers_take_rfc2866_csv_and_freeradius_detail(tmp_path: Path) -> None:
    csv_path = tmp_path / "radius.csv"
    csv_path.write_text(
        "User-Name,Framed-IP-Address,Acct-Status-Type,Acct-Session-Id,NAS-IP-Address,"
        "Event-Timestamp\n"
        "u1,100.64.0.7,Start,abc,10.0.0.1,Nov 20 2026 10:00:00 CST\n"
        "u1,100.64.0.7,Stop,abc,10.0.0.1,1795152000\n"
        "u2,not-an-ip,Start,abd,10.0.0.1,1795152000\n", encoding="utf-8")
    stats = ReadStats(str(csv_path))
    ev = read_radius(csv_path, stats)
    assert ev.num_rows == 2 and stats.bad == 1 and "row 4" in stats.notes[0]
    assert ev["ts"][0].as_py() == t(2)  # 10:00 China Standard Time
    detail = tmp_path / "detail-20261120"
    detail.write_text(
        "Fri Nov 20 10:00:00 2026\n"
        '\tAcct-Session-Id = "0000A1"\n\tAcct-Status-Type = Start\n\tUser-Name = "u9"\n'
        "\tFramed-IP-Address = 100.64.9.9\n\tNAS-IP-Address = 10.0.0.2\n"
        '\tEvent-Timestamp = "Nov 20 2026 10:00:00 CST"\n\tTimestamp = 1795142400\n\n'
        "Fri Nov 20 11:00:00 2026\n"
        '\tAcct-Session-Id = "0000A1"\n\tAcct-Status-Type = Stop\n\tUser-Name = "u9"\n'
        "\tFramed-IP-Address = 100.64.9.9\n\tNAS-IP-Address = 10.0.0.2\n"
        '\tEvent-Timestamp = "Nov 20 2026 11:00:00 CST"\n\n'
        "Fri Nov 20 11:30:00 2026\n\tUser-Name = \"broken\"\n\n", encoding="utf-8")
    st2 = ReadStats(str(detail))
    ev2 = read_radius(detail, st2)
    assert ev2["status"].to_pylist() == ["start", "stop"] and st2.bad == 1
    # The epoch Timestamp wins over Event-Timestamp; 11:00 CST is 03:00 UTC.
    assert ev2["ts"].to_pylist() == [t(2, 40), t(3)]
    with pytest.raises(ReaderError, match=r"no column for session_id .*acct-session-id"):
        bad = tmp_path / "bad.csv"
        bad.write_text("User-Name,Acct-Status-Type,Event-Timestamp\nu,Start,1\n", encoding="utf-8")
        read_radius(bad)


def test_a_time_without_zone_is_flagged_for_the_resolver(tmp_path: Path) -> None:
    assert parse_time("2026-11-20 10:00:00") == (t(2), True)
    assert parse_time("2026-11-20T10:00:00+08:00") == (t(2), False)
    p = tmp_path / "obs.csv"
    p.write_text("ip,port,发现时间\n1.2.3.4,,2026-11-20 10:00:00\n220.1.1.1,1500,"
                 "2026-11-20T02:00:00Z\n", encoding="utf-8")
    obs = read_observations(p)
    assert obs["tz_assumed"].to_pylist() == [True, False]
    assert obs["port"].to_pylist() == [None, 1500] and obs["obs_id"].to_pylist() == ["1", "2"]


def test_the_cli_resolves_generated_carrier_files_to_their_key(tmp_path: Path) -> None:
    import csv

    from qingling.detect.cli import resolve_main, synth_carrier_main

    assert synth_carrier_main(["--ips", "200", "--observations", "300", "--seed", "4",
                               "--out-dir", str(tmp_path)]) == 0
    out = tmp_path / "resolved.csv"
    assert resolve_main(["--observations", str(tmp_path / "observations.csv"),
                         "--radius", str(tmp_path / "radius.csv"),
                         "--cgnat", str(tmp_path / "cgnat.csv"),
                         "--static", str(tmp_path / "static.csv"), "--out", str(out)]) == 0
    key = {r["obs_id"]: r for r in csv.DictReader((tmp_path / "truth.csv").open())}
    got = list(csv.DictReader(out.open()))
    assert len(got) == len(key)
    assert all((r["status"], r["account"]) == (key[r["obs_id"]]["status"],
                                               key[r["obs_id"]]["account"]) for r in got)
    assert resolve_main(["--observations", str(tmp_path / "nope.csv"), "--radius",
                         str(tmp_path / "radius.csv"), "--out", str(out)]) == 2
