"""The city's lead triage: monitoring leads are dispatched to the county they were found
in, excluded as false leads (their remote endpoints then known benign to the next
screening), merged into an existing case, or put on the warning list — one or many at once,
each case audited."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.utils import timezone

from qingling.audit.models import AuditEntry
from qingling.cases.bulk import BulkParams, bulk_apply, bulk_plan
from qingling.cases.models import Behaviour, Case, State, WarningEntry
from qingling.detect.engines import connect
from qingling.detect.resolve.engine import build_sessions
from qingling.detect.resolve.synth import carrier_for_flows
from qingling.detect.synth import synth_flows
from qingling.geo.models import Division
from qingling.screening.models import ExcludedEndpoint, Signal
from qingling.screening.screen import input_digest, screen_network
from qingling.screening.services import subscribers_import
from qingling.screening.triage import excluded_for_screening
from tests.conftest import COUNTY_A, COUNTY_B, Personas, client_for, make_case, make_lead


def test_excluding_leads_keeps_their_endpoints_and_the_next_screening_passes_them(
        people: Personas, settings: object, tmp_path: Path) -> None:
    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    flows, _truth = synth_flows(5_000, miners=4, seed=3)
    events, subs = carrier_for_flows(flows, seed=3)
    csv_path = tmp_path / "subscribers.csv"
    pacsv.write_csv(subs.rename_columns(["账号", "户名", "证件号码", "联系电话", "装机地址",
                                         "运营商"]), csv_path)
    subscribers_import(data=csv_path.read_bytes(), file_name="subscribers.csv")
    sessions = build_sessions(events, connect("duckdb"))
    first = screen_network(flows=flows, digest=input_digest([b"day-1"]), names=["d1"],
                           sessions=sessions, now=timezone.now())
    assert first.flagged == 4
    # Leads on flow shape alone (no payload, no pool name) are the city's to judge.
    layers = {s.case: json.loads(s.payload["layers"])
              for s in Signal.objects.filter(kind=Signal.Kind.NETWORK)}
    shape_only = [c for c, x in layers.items() if not x["names"] and not x["payload"]]
    assert len(shape_only) == 3
    done = bulk_apply(actor=people.city, action="exclude_lead", ids=[c.pk for c in shape_only],
                      params=BulkParams(comment="智能电表的物联网心跳", category="iot"),
                      now=timezone.now())
    assert len(done.eligible) == 3 and done.skipped == []
    assert ExcludedEndpoint.objects.filter(category="iot", is_active=True).count() == 3
    for c in shape_only:
        c.refresh_from_db()
        assert c.state == State.EXCLUDED and c.closed_reason.startswith("IoT heartbeat")
    # The next day's screening (other inputs) gets the endpoints and makes no lead of them.
    assert len(excluded_for_screening()) == 3
    second = screen_network(flows=flows, digest=input_digest([b"day-2"]), names=["d2"],
                            sessions=sessions, now=timezone.now())
    assert second.flagged == 1
    # An endpoint switched off by hand is a lead again.
    ep = ExcludedEndpoint.objects.first()
    assert ep is not None
    client_for(people.city).post("/screening/excluded/", {
        "pk": ep.pk, "ip": ep.ip, "port": ep.port, "category": "iot", "reason": "改为继续监测"})
    assert not ExcludedEndpoint.objects.get(pk=ep.pk).is_active
    third = screen_network(flows=flows, digest=input_digest([b"day-3"]), names=["d3"],
                           sessions=sessions, now=timezone.now())
    assert third.flagged == 2


def test_the_triage_page_preselects_the_county_and_shows_evidence_and_a_masked_subscriber(
        people: Personas) -> None:
    lead = make_lead(1, COUNTY_B)
    page = client_for(people.city).get("/screening/triage/").content.decode()
    county = Division.objects.get(code=COUNTY_B)
    assert f'name="county_{lead.pk}"' in page
    assert f'<option value="{county.pk}" selected>' in page
    assert "203.0.113.10" in page and "JX00000001" in page
    assert "测试用户1" not in page and "测试*户1" in page


def test_bulk_dispatch_sends_each_lead_to_its_chosen_county_and_skips_the_unplaced(
        people: Personas) -> None:
    a, b = make_lead(1, COUNTY_A), make_lead(2, COUNTY_B)
    unplaced = make_lead(3, None)
    xiuzhou = Division.objects.get(code=COUNTY_B)
    c = client_for(people.city)
    ids = [a.pk, b.pk, unplaced.pk]
    preview = c.post("/cases/bulk/", {"action": "dispatch", "ids": ids, "source": "leads",
                                      "next": "/screening/triage/"})
    body = preview.content.decode()
    assert 'data-eligible="2" data-skipped="1"' in body
    assert unplaced.reference in body and "请选择分派的区县" in body
    assert Case.objects.filter(state=State.PENDING).count() == 3  # nothing written yet
    # The city moves lead a to 秀洲 by its row's county choice.
    resp = c.post("/cases/bulk/", {"action": "dispatch", "ids_csv": ",".join(map(str, ids)),
                                   f"county_{a.pk}": xiuzhou.pk, "confirm": "1",
                                   "next": "/screening/triage/"})
    assert resp.status_code == 302 and resp["Location"] == "/screening/triage/"
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.state, a.county_id) == (State.DISPATCHED, xiuzhou.pk)
    assert (b.state, b.county.code) == (State.DISPATCHED, COUNTY_B)
    assert Case.objects.get(pk=unplaced.pk).state == State.PENDING
    assert AuditEntry.objects.filter(action="dispatch").count() == 2


def test_a_lead_merged_into_an_existing_case_brings_its_signals_and_keys(
        people: Personas) -> None:
    target = make_case(COUNTY_A, state="signed", subject_name="嘉兴恒达纺织有限公司")
    lead = make_lead(4, COUNTY_A)
    keys = list(lead.keys.values_list("key", flat=True))
    done = bulk_apply(actor=people.city, action="merge_lead", ids=[lead.pk],
                      params=BulkParams(comment="同一厂房", into=target.reference),
                      now=timezone.now())
    assert len(done.eligible) == 1
    lead.refresh_from_db()
    assert lead.state == State.EXCLUDED and target.reference in lead.closed_reason
    assert Signal.objects.filter(case=target).count() == 1
    assert set(keys) <= set(target.keys.values_list("key", flat=True))
    assert not lead.keys.exists()
    assert AuditEntry.objects.filter(action="merged_into", case=target).count() == 1
    # Merging into itself or into nothing is refused in the preview.
    other = make_lead(5, COUNTY_A)
    plan = bulk_plan(actor=people.city, action="merge_lead", ids=[other.pk],
                     params=BulkParams(comment="x", into=other.reference))
    assert plan.eligible == [] and "itself" in plan.skipped[0].reason
    cleared = make_case(COUNTY_A, state="cleared")
    plan = bulk_plan(actor=people.city, action="merge_lead", ids=[other.pk],
                     params=BulkParams(comment="x", into=cleared.reference))
    assert plan.eligible == [] and "rebound" in plan.skipped[0].reason


def test_a_lead_put_on_the_warning_list_stays_in_the_queue_as_a_shared_egress(
        people: Personas) -> None:
    lead = make_lead(6, COUNTY_A)
    done = bulk_apply(actor=people.city, action="warn_lead", ids=[lead.pk],
                      params=BulkParams(comment="嘉兴学院校园网出口", kind="campus"),
                      now=timezone.now())
    assert len(done.eligible) == 1
    lead.refresh_from_db()
    assert lead.state == State.PENDING and lead.behaviour == Behaviour.FALSE_POSITIVE
    assert WarningEntry.objects.filter(network="10.9.0.6", kind="campus").exists()


def test_only_the_city_triages(people: Personas) -> None:
    lead = make_lead(7, COUNTY_A)
    assert client_for(people.county_a).get("/screening/triage/").status_code == 403
    assert client_for(people.county_a).get("/screening/excluded/").status_code == 403
    plan = bulk_plan(actor=people.county_a, action="exclude_lead", ids=[lead.pk],
                     params=BulkParams(comment="x", category="iot"))
    # The county does not see an unplaced lead's page either way; a placed one it sees,
    # and may not exclude at the desk.
    assert plan.eligible == [] and len(plan.skipped) == 1


def test_the_triage_export_is_the_queue_with_masked_subscribers(people: Personas) -> None:
    import io

    from openpyxl import load_workbook

    make_lead(8, COUNTY_A)
    resp = client_for(people.city).get("/screening/triage/export.xlsx")
    rows = list(load_workbook(io.BytesIO(resp.content)).active.iter_rows(values_only=True))
    assert len(rows) == 2 and "测试*户8" in rows[1] and "测试用户8" not in rows[1]
    assert client_for(people.county_a).get("/screening/triage/export.xlsx").status_code == 403
    _ = pc  # pyarrow is imported for the screening fixture's tables


def test_each_row_s_own_move_in_one_confirmation(people: Personas) -> None:
    iot = [make_lead(i, COUNTY_A, dst="198.51.100.9", port=8883) for i in range(41, 44)]
    real = [make_lead(i, COUNTY_B, dst=f"203.0.113.{i}", port=3333) for i in range(44, 46)]
    undecided = make_lead(46, COUNTY_A)
    p = BulkParams(comment="物联网心跳", category="iot",
                   decisions={**{c.pk: "exclude_lead" for c in iot},
                              **{c.pk: "dispatch" for c in real}})
    ids = [c.pk for c in [*iot, *real, undecided]]
    plan = bulk_plan(actor=people.city, action="triage_by_row", ids=ids, params=p)
    assert len(plan.eligible) == 5 and [s.ref for s in plan.skipped] == [undecided.reference]
    assert "未选择" in plan.skipped[0].reason or "No move" in plan.skipped[0].reason
    # A county officer may not triage.
    assert bulk_plan(actor=people.county_a, action="triage_by_row", ids=ids,
                     params=p).eligible == []
    done = bulk_apply(actor=people.city, action="triage_by_row", ids=ids, params=p,
                      now=timezone.now())
    assert len(done.eligible) == 5
    assert {Case.objects.get(pk=c.pk).state for c in iot} == {State.EXCLUDED}
    assert {Case.objects.get(pk=c.pk).state for c in real} == {State.DISPATCHED}
    assert Case.objects.get(pk=undecided.pk).state == State.PENDING
    assert AuditEntry.objects.filter(case_id__in=[c.pk for c in iot + real],
                                     action__in=["dismiss_lead", "dispatch"]).count() == 5
    assert ExcludedEndpoint.objects.filter(ip="198.51.100.9", port=8883).count() == 1
