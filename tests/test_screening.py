"""Screening: network verdicts resolved to subscribers become cases in the right counties,
once per input; a cleared site that mines again within the watch is reopened as 反弹, and
after it becomes a new case linked to the old one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from django.utils import timezone

from qingling.audit.models import AuditEntry
from qingling.cases.identity import SubjectFacts, key_of, signal_attach
from qingling.cases.models import Case, State
from qingling.detect.engines import connect
from qingling.detect.resolve.engine import build_sessions
from qingling.detect.resolve.synth import carrier_for_flows
from qingling.detect.synth import synth_flows
from qingling.screening.models import Signal, Subscriber
from qingling.screening.screen import facts_of, input_digest, screen_network
from qingling.screening.services import subscribers_import
from qingling.supervision.digest import build
from tests.conftest import Personas, client_for


@pytest.fixture
def carrier(people: Personas, settings: object, tmp_path: Path) -> dict[str, object]:
    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    flows, truth = synth_flows(20_000, miners=5, seed=3)
    events, subs = carrier_for_flows(flows, seed=3)
    csv_path = tmp_path / "subscribers.csv"
    pacsv.write_csv(subs.rename_columns(["账号", "户名", "证件号码", "联系电话", "装机地址",
                                         "运营商"]), csv_path)
    summary = subscribers_import(data=csv_path.read_bytes(), file_name="subscribers.csv")
    assert summary.rejected == [] and summary.triage == 0
    sessions = build_sessions(events, connect("duckdb"))
    return {"flows": flows, "truth": truth, "sessions": sessions,
            "hosts": dict(zip(sorted(pc.unique(flows["src_ip"]).to_pylist()),
                              [f"JX{i:08d}" for i in range(subs.num_rows)], strict=True))}


def test_screening_makes_cases_in_the_subscribers_counties_once(carrier: dict) -> None:
    now = timezone.now()
    kw = {"flows": carrier["flows"], "digest": input_digest([b"day-1"]), "names": ["day.parquet"],
          "sessions": carrier["sessions"], "now": now}
    s = screen_network(**kw)
    assert s.flagged > 0 and s.resolution == {"resolved": s.flagged}
    assert s.cases_created > 0 and s.signals == s.flagged
    miners = {r["src_ip"] for r in carrier["truth"].to_pylist()}
    for ip in miners:
        account = carrier["hosts"][ip]
        case = Case.objects.get(keys__key=key_of("account", account))
        sub = Subscriber.objects.get(account=account)
        assert case.county_id == sub.county_id and case.county_id is not None
        assert case.subject_name == sub.name and case.address == sub.address
        assert case.state == State.PENDING and case.found_by_monitoring
        assert ip in case.ip_summary
        sig = Signal.objects.filter(case=case).first()
        assert sig is not None and sig.payload["resolution"]["account"] == account
        assert sig.payload["resolution"]["status"] == "resolved"
    cases, signals = Case.objects.count(), Signal.objects.count()
    again = screen_network(**kw)
    assert again.duplicate and again.run == s.run
    assert (Case.objects.count(), Signal.objects.count()) == (cases, signals)


def test_a_signal_within_the_watch_reopens_and_after_it_opens_a_linked_case(
        carrier: dict) -> None:
    now = timezone.now()
    ip, account = next(iter(carrier["hosts"].items()))
    sub = Subscriber.objects.get(account=account)
    first, change = signal_attach(facts_of(sub, account, ip), now=now - timedelta(weeks=12),
                                actor=None, reason="test")
    assert change == "created"
    Case.objects.filter(pk=first.pk).update(state=State.CLEARED,
                                            cleared_at=now - timedelta(weeks=3))
    again, change = signal_attach(facts_of(sub, account, ip), now=now, actor=None,
                                reason="网络监测")
    assert change == "rebound" and again.pk == first.pk
    again.refresh_from_db()
    assert again.state == State.DISPATCHED and again.rebound_count == 1
    entry = AuditEntry.objects.get(action="rebound", case=again)
    assert entry.from_state == State.CLEARED and "回头看" in entry.comment
    # The county hears of it in its daily digest.
    counts, body = build(again.county, now + timedelta(hours=1))
    assert counts["rebounds"] == 1 and str(again.pk) in body
    # Cleared again, and nine weeks later mining is seen again: a new case, linked.
    Case.objects.filter(pk=first.pk).update(state=State.CLEARED,
                                            cleared_at=now - timedelta(weeks=9))
    later, change = signal_attach(facts_of(sub, account, ip), now=now, actor=None,
                                reason="网络监测")
    assert change == "new_after_watch" and later.pk != first.pk
    assert later.previous_case_id == first.pk and later.state == State.PENDING
    first.refresh_from_db()
    assert first.state == State.CLEARED


def test_the_case_page_shows_its_signals_on_one_timeline(carrier: dict,
                                                         people: Personas) -> None:
    screen_network(flows=carrier["flows"], digest=input_digest([b"d"]), names=["d"],
                   sessions=carrier["sessions"], now=timezone.now())
    ip = next(r["src_ip"] for r in carrier["truth"].to_pylist())
    case = Case.objects.get(keys__key=key_of("account", carrier["hosts"][ip]))
    c = client_for(people.city)
    html = c.get(f"/cases/{case.pk}/").content.decode()
    assert "data-signals-summary" in html and 'data-signal="network"' in html
    # How the address was resolved, in the reader's language (the engine words it in English).
    assert "经RADIUS 认证会话定位" in html
    english = c.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "RADIUS session" in english
    other = client_for(people.dept_other)
    assert other.get(f"/cases/{case.pk}/").status_code in (403, 404)


def test_a_shared_egress_makes_a_false_positive_candidate_not_a_blamed_unit(
        carrier: dict, people: Personas) -> None:
    from qingling.cases.models import Behaviour, WarningEntry

    ip = next(r["src_ip"] for r in carrier["truth"].to_pylist())
    c = client_for(people.city)
    resp = c.post("/warning-lists/", {"network": f"{ip}/32", "kind": "gov_exit",
                                      "name": "市政务外网出口", "note": ""})
    assert resp.status_code == 302 and WarningEntry.objects.get().network == ip
    assert AuditEntry.objects.filter(action="warning_add", actor=people.city).exists()
    county = client_for(people.county_a)
    assert county.get("/warning-lists/").status_code == 403
    assert county.post("/warning-lists/", {"network": "1.2.3.4", "kind": "other",
                                           "name": "x"}).status_code == 403
    screen_network(flows=carrier["flows"], digest=input_digest([b"e"]), names=["e"],
                   sessions=carrier["sessions"], now=timezone.now())
    case = Case.objects.get(keys__key=key_of("account", carrier["hosts"][ip]))
    assert case.behaviour == Behaviour.FALSE_POSITIVE and case.state == State.PENDING
    assert any("共享出口" in r for r in case.classification)
    sig = Signal.objects.filter(case=case).first()
    assert sig is not None and sig.payload["shared_egress"] == "市政务外网出口"


def test_list_addresses_resolve_to_subscribers_and_place_unplaced_cases(
        people: Personas, settings: object, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    import pyarrow as pa

    from qingling.common.weeks import IsoWeek
    from qingling.detect.resolve import schema
    from qingling.intake.services import import_list
    from qingling.screening.screen import resolve_lists
    from tests.conftest import COUNTY_A, COUNTY_B, csv_bytes, row

    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    week = IsoWeek(2026, 47)
    import_list(data=csv_bytes([
        row("61.10.0.5", county="", when="2026-11-17 10:00:00"),  # the list cannot place it
        row("61.10.0.6", "丙公司", county="南湖区", when="2026-11-17 10:00:00"),
    ]), file_name="k.csv", list_type="key", week=week,
        now=datetime(2026, 11, 18, 9, tzinfo=UTC))
    subscribers_import(data=("账号,户名,装机地址,运营商\n"
                             "ACC1,赵六,嘉兴市秀洲区王江泾镇某村3号,电信\n"
                             "ACC2,钱七,嘉兴市秀洲区新塍镇某路9号,电信\n").encode(),
                       file_name="subs.csv")

    def ts(h: int) -> datetime:
        return datetime(2026, 11, 17, h, tzinfo=UTC)

    events = pa.Table.from_pylist([
        {"account": a, "ip": ip, "status": st, "session_id": sid, "nas_ip": "10.0.0.1", "ts": t}
        for a, ip, sid in (("ACC1", "61.10.0.5", "s1"), ("ACC2", "61.10.0.6", "s2"))
        for st, t in (("start", ts(0)), ("stop", ts(12)))], schema=schema.EVENTS)
    sessions = build_sessions(events, connect("duckdb"))
    r = resolve_lists(week=str(week), digest="d1", names=["radius.csv"], sessions=sessions,
                      now=timezone.now())
    assert (r.appearances, r.resolution, r.placed, r.conflicts) == (2, {"resolved": 2}, 1, 1)
    placed = Case.objects.get(ip_summary="61.10.0.5")
    assert placed.county.code == COUNTY_B and placed.subject_name == "赵六"
    assert placed.state == State.PENDING  # the city still dispatches it
    kept = Case.objects.get(ip_summary="61.10.0.6")
    assert kept.county.code == COUNTY_A  # the list's county is kept; the signal says why
    assert "differs" in Signal.objects.get(case=kept).payload["note"]
    assert resolve_lists(week=str(week), digest="d1", names=[], sessions=sessions,
                         now=timezone.now()).duplicate
    assert Signal.objects.count() == 2


def test_a_host_behind_cgnat_is_resolved_by_its_source_ports(people: Personas,
                                                             settings: object,
                                                             tmp_path: Path) -> None:
    from datetime import UTC, datetime

    import pyarrow as pa

    from qingling.detect.resolve import schema

    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    flows, truth = synth_flows(5_000, miners=1, seed=5)
    miner = truth.to_pylist()[0]["src_ip"]
    # The miner's traffic leaves through a CGNAT public address; its ports are in one block.
    n = flows.num_rows
    is_miner = pc.equal(flows["src_ip"], miner)
    flows = flows.set_column(flows.schema.get_field_index("src_ip"), "src_ip",
                             pc.if_else(is_miner, "220.9.9.9", flows["src_ip"]))
    flows = flows.set_column(flows.schema.get_field_index("src_port"), "src_port",
                             pc.if_else(is_miner, pa.array([40000 + i % 900 for i in range(n)],
                                                           pa.int32()), flows["src_port"]))
    subscribers_import(data="账号,户名,装机地址,运营商\nCG1,孙八,嘉兴市海宁市许村镇某路1号,电信\n"
                       .encode(), file_name="s.csv")
    day = datetime(2026, 11, 19, tzinfo=UTC)
    events = pa.Table.from_pylist([
        {"account": "CG1", "ip": "100.64.9.9", "status": st, "session_id": "c1",
         "nas_ip": "10.0.0.1", "ts": day + timedelta(days=d)}
        for st, d in (("start", 0), ("stop", 3))], schema=schema.EVENTS)
    cgnat = pa.Table.from_pylist([
        {"private_ip": "100.64.9.9", "public_ip": "220.9.9.9", "port_lo": 40000,
         "port_hi": 41999, "start": day, "stop": day + timedelta(days=3)}], schema=schema.CGNAT)
    s = screen_network(flows=flows, digest="cg", names=["f"], cgnat=cgnat,
                       sessions=build_sessions(events, connect("duckdb")), now=timezone.now())
    assert s.resolution.get("resolved", 0) >= 1
    case = Case.objects.get(keys__key=key_of("account", "CG1"))
    assert case.county.name == "海宁市" and "220.9.9.9" in case.ip_summary
    sig = Signal.objects.filter(case=case).first()
    assert sig is not None and sig.payload["resolution"]["via"] == "cgnat+radius"


def test_electricity_leads_become_cases_on_the_meters_sites(people: Personas, settings: object,
                                                           tmp_path: Path) -> None:
    from django.core.management import call_command

    from qingling.detect.power.inject import synth_meters

    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    readings, truth = synth_meters(60, 30, 4, seed=2, negatives=0)
    miners = [r["meter_id"] for r in truth.to_pylist() if r["kind"] == "miner"]
    pq_path = tmp_path / "meters.parquet"
    import pyarrow.parquet as pq

    pq.write_table(readings, pq_path)
    reg = tmp_path / "register.csv"
    reg.write_text("表号,户名,用电地址,用电类别\n" + "".join(
        f"{m},用户{i},嘉兴市平湖市当湖街道某路{i}号,居民\n" for i, m in enumerate(miners)),
        encoding="utf-8")
    call_command("screen", "power", str(pq_path), "--register", str(reg))
    found = Case.objects.filter(subject_key__startswith="meter:")
    # Meter ids are kept as blind indexes, never in clear.
    by_key = {key_of("meter", m): m for m in miners}
    keys = {by_key[c.subject_key] for c in found if c.subject_key in by_key}
    assert len(keys) >= 3  # the engine's own recall is tested in tests/detect
    assert not any(m in c.subject_key for c in found for m in miners)
    one = found.get(subject_key=key_of("meter", sorted(keys)[0]))
    assert one.county.name == "平湖市" and one.township is not None and one.found_by_monitoring
    sig = Signal.objects.get(case=one)
    assert sig.kind == Signal.Kind.POWER and sig.payload["est_kw"] and "kW" in sig.summary
    # The register's 用电类别 reaches the screen: a home running like a machine says so.
    assert "与用电类别不符" in sig.payload["reasons"]
    n = Signal.objects.count()
    call_command("screen", "power", str(pq_path), "--register", str(reg))
    assert Signal.objects.count() == n


def test_a_signal_joins_the_list_case_of_the_same_credit_code_or_address(
        people: Personas, settings: object, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from qingling.common.weeks import IsoWeek
    from qingling.intake.services import import_list
    from tests.conftest import csv_bytes, row

    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    import random

    from qingling.ops.demo import make_uscc

    uscc = make_uscc(random.Random(5), "330402")
    import_list(data=csv_bytes([
        row("60.1.1.1", "甲科技有限公司", uscc=uscc, when="2026-11-17 10:00:00"),
        row("60.1.1.2", "", address="嘉兴市南湖区新兴街道某路 8 号", kind="个人",
            when="2026-11-17 10:00:00"),
    ]), file_name="k.csv", list_type="key", week=IsoWeek(2026, 47),
        now=datetime(2026, 11, 18, 9, tzinfo=UTC))
    by_uscc = Case.objects.get(subject_key=f"uscc:{uscc}")
    by_addr = Case.objects.get(subject_key__startswith="addr:")
    now = timezone.now()
    case, change = signal_attach(SubjectFacts(account="ENT9", id_number=uscc.lower(),
                                              ip="61.9.9.9"), now=now, actor=None,
                                 reason="网络监测")
    assert (case.pk, change) == (by_uscc.pk, "updated")
    case, change = signal_attach(SubjectFacts(meter_id="M1", address="嘉兴市南湖区新兴街道某路8号"),
                                 now=now, actor=None, reason="异常用电")
    assert (case.pk, change) == (by_addr.pk, "updated")
    assert Case.objects.count() == 2


def test_the_demo_path_on_the_command_line(people: Personas, settings: object, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from qingling.cli import main as qingling

    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    day, carrier_dir = tmp_path / "day.parquet", tmp_path / "carrier"
    assert qingling(["synth", "flows", "--rows", "8000", "--miners", "3", "--out", str(day)]) == 0
    assert qingling(["synth", "carrier", "--for-flows", str(day), "--out-dir",
                     str(carrier_dir)]) == 0
    assert qingling(["import-subscribers", str(carrier_dir / "subscribers.csv")]) == 0
    args = ["screen", "network", str(day), "--radius", str(carrier_dir / "radius.csv")]
    assert qingling(args) == 0
    first = capsys.readouterr().out
    assert "cases created" in first
    made = Case.objects.filter(found_by_monitoring=True)
    truth = pacsv.read_csv(day.with_name("day.truth.csv")).to_pylist()
    for t in truth:
        case = made.get(ip_summary__contains=t["src_ip"])
        assert case.county_id is not None and case.subject_name
    n = (Case.objects.count(), Signal.objects.count())
    assert qingling(args) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert (Case.objects.count(), Signal.objects.count()) == n


def test_the_runs_page_and_the_monitoring_filter(carrier: dict, people: Personas) -> None:
    screen_network(flows=carrier["flows"], digest=input_digest([b"r"]), names=["day.parquet"],
                   sessions=carrier["sessions"], now=timezone.now())
    c = client_for(people.city)
    html = c.get("/screening/").content.decode()
    assert "day.parquet" in html and "cases_created" in html
    listed = c.get("/cases/?list_type=monitoring&state=pending").content.decode()
    ip = next(r["src_ip"] for r in carrier["truth"].to_pylist())
    assert ip in listed
    other = client_for(people.county_a)
    assert other.get("/screening/").status_code == 403
