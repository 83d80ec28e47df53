from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from qingling.audit.models import AuditEntry
from qingling.cases.models import Case, IPAddress, State
from qingling.cases.services import case_transition, evidence_add, visit_record
from qingling.cli import main as qingling
from qingling.common.weeks import SHANGHAI, IsoWeek
from qingling.intake.models import Appearance, ListBatch, ListRow
from qingling.intake.readers import ListFileError
from qingling.intake.services import ListRejected, import_list
from tests.conftest import HEADER, NEXT_WEEK, WEEK, Personas, csv_bytes, row

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI)


def valid_uscc() -> str:
    import random

    from qingling.ops.demo import make_uscc

    return make_uscc(random.Random(1), "330402")


def run(data: bytes, list_type: str = "key", week: IsoWeek = WEEK, **kw: object):  # type: ignore[no-untyped-def]
    return import_list(data=data, file_name=kw.pop("file_name", "list.csv"),  # type: ignore[arg-type]
                       list_type=list_type, week=week, now=NOW, **kw)  # type: ignore[arg-type]


def counts() -> tuple[int, ...]:
    return (ListBatch.objects.count(), ListRow.objects.count(), Case.objects.count(),
            IPAddress.objects.count(), Appearance.objects.count(), AuditEntry.objects.count())


def test_it_imports_a_csv_and_makes_one_case_per_subject(ref: None) -> None:
    code = valid_uscc()
    data = csv_bytes([
        row("60.12.1.1", "嘉兴恒达纺织有限公司", uscc=code),
        row("60.12.1.2", "嘉兴恒达纺织有限公司", uscc=code),
        row("60.12.1.3", "张伟", address="嘉兴市南湖区新丰镇人民路1号", kind="家庭宽带"),
    ])
    s = run(data)
    assert (s.rows, s.accepted, s.rejected, s.new, s.cases_created) == (3, 3, 0, 3, 2)
    company = Case.objects.get(uscc=code)
    assert sorted(company.ips.values_list("value", flat=True)) == ["60.12.1.1", "60.12.1.2"]
    assert company.county is not None and company.county.code == "330402"
    assert company.state == State.DISPATCHED
    assert company.on_key_list and company.due_at == WEEK.cutoff(5, datetime.min.time().replace(hour=18))
    home = Case.objects.get(ips__value="60.12.1.3")
    assert home.subject_type == "residential"
    assert home.township is not None and home.township.name == "新丰镇"
    batch = ListBatch.objects.get()
    assert batch.sha256 and batch.file_name == "list.csv" and batch.week == "2026-W47"
    assert list(batch.rows.values_list("row_number", flat=True)) == [2, 3, 4]


def test_the_same_file_twice_changes_nothing_and_says_so(ref: None) -> None:
    data = csv_bytes([row("60.12.1.1", "嘉兴恒达纺织有限公司")])
    first = run(data)
    before = counts()
    again = run(data, file_name="renamed.csv")
    assert again.duplicate_of == first.batch_id
    assert again.batch_id is None and again.cases_created == 0
    assert counts() == before


def test_an_unchanged_list_sent_again_next_week_is_a_new_batch(ref: None) -> None:
    data = csv_bytes([row("60.12.1.1", "嘉兴恒达纺织有限公司")])
    run(data, "stock")
    s = run(data, "stock", NEXT_WEEK)
    assert s.duplicate_of is None and (s.present, s.new, s.absent) == (1, 0, 0)


def test_it_reads_a_gbk_csv(ref: None) -> None:
    data = csv_bytes([row("60.12.1.9", "海宁市某某网吧", county="海宁市", kind="网吧")],
                     encoding="gbk")
    s = run(data)
    assert s.accepted == 1
    case = Case.objects.get()
    assert case.subject_name == "海宁市某某网吧" and case.subject_type == "cafe"
    assert case.county is not None and case.county.name == "海宁市"
    assert ListBatch.objects.get().encoding == "gbk"


def test_it_reads_an_xlsx_with_a_title_row_and_merged_cells(ref: None) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["2026年第47周 虚拟货币挖矿重点名单"])
    ws.merge_cells("A1:I1")
    ws.append(["(省整治办下发)"])
    ws.append([*HEADER, "备注"])
    ws.append(["122.224.3.4", 4444, datetime(2026, 11, 20, 8, 30), "电信", "桐乡市凤鸣街道办事处",
               "", "桐乡市凤鸣街道", "桐乡", "", "复查"])
    buf = io.BytesIO()
    wb.save(buf)
    s = run(buf.getvalue(), file_name="list.xlsx")
    assert s.accepted == 1
    batch = ListBatch.objects.get()
    assert batch.file_format == "xlsx" and batch.header_row == 3
    r = batch.rows.get()
    assert r.row_number == 4 and r.extra == {"备注": "复查"}
    assert r.fields["observed_at"] == "2026-11-20 08:30:00"
    case = Case.objects.get()
    assert case.county is not None and case.county.name == "桐乡市"
    assert case.subject_type == "party_gov" and case.grade == "L1"


def test_ipv6_and_cidr_rows_are_normalised_and_special_addresses_flagged(ref: None) -> None:
    s = run(csv_bytes([
        row("2409:8A28:0:0::1", "甲公司"),
        row("60.12.8.7/24", "乙公司"),
        row("192.168.1.5", "丙公司"),
    ]))
    assert s.accepted == 3
    values = dict(IPAddress.objects.values_list("value", "special"))
    assert values == {"2409:8a28::1": "", "60.12.8.0/24": "", "192.168.1.5": "private"}
    assert IPAddress.objects.get(value="60.12.8.0/24").is_range


def test_an_invalid_row_refuses_the_whole_batch_and_writes_nothing(ref: None) -> None:
    data = csv_bytes([
        row("60.12.1.1", "甲公司"),
        row("60.12.1.999", "乙公司"),
        row("60.12.1.3", "丙公司", when="2026-02-30 10:00:00"),
        row("60.12.1.4", "丁公司", county="杭州市西湖区"),
    ])
    with pytest.raises(ListRejected) as exc:
        run(data)
    errors = {(e.row, e.column) for e in exc.value.errors}
    assert errors == {(3, "IP地址"), (4, "发现时间"), (5, "所属区县")}
    reasons = " ".join(e.reason for e in exc.value.errors)
    assert "not an IP address" in reasons and "impossible date" in reasons
    assert "not a county of 嘉兴市" in reasons
    assert counts() == (0, 0, 0, 0, 0, 0)


def test_accept_valid_imports_the_valid_rows_and_keeps_the_rejected_ones(ref: None) -> None:
    data = csv_bytes([row("60.12.1.1", "甲公司"), row("not-an-ip", "乙公司")])
    s = run(data, accept_valid=True)
    assert (s.rows, s.accepted, s.rejected) == (2, 1, 1)
    batch = ListBatch.objects.get()
    assert batch.status == "partial" and batch.rejected_count == 1
    bad = batch.rows.get(accepted=False)
    assert bad.row_number == 3 and bad.ip_text == "not-an-ip"
    # Kept as the msgid and its parameters, put into words when shown.
    assert bad.reasons == [{"column": "IP地址", "reason": "not an IP address: 'not-an-ip'",
                            "message": "not an IP address: %(value)s",
                            "params": {"value": "'not-an-ip'"}}]
    assert Case.objects.count() == 1


def test_a_bad_credit_code_is_named(ref: None) -> None:
    with pytest.raises(ListRejected) as exc:
        run(csv_bytes([row("60.12.1.1", "甲公司", uscc="91330402123456789A")]))
    assert exc.value.errors[0].column == "统一社会信用代码"


def test_a_file_without_an_ip_column_is_refused_clearly(ref: None) -> None:
    with pytest.raises(ListFileError, match="no header row with an IP column"):
        run(csv_bytes([["a", "b"]], header=["名称", "地址"]))
    with pytest.raises(ListFileError, match=r"old \.xls workbook"):
        run(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, file_name="old.xls")


def test_the_diff_reports_new_present_and_absent(ref: None) -> None:
    run(csv_bytes([row("60.12.1.1", "甲公司"), row("60.12.1.2", "乙公司")]), "stock")
    s = run(csv_bytes([row("60.12.1.2", "乙公司"), row("60.12.1.3", "丙公司")]), "stock",
            NEXT_WEEK)
    assert (s.new, s.present, s.reappeared, s.absent) == (1, 1, 0, 1)
    assert s.previous_batch == ListBatch.objects.get(week="2026-W47").pk


def test_dropping_off_a_list_never_closes_a_case(ref: None) -> None:
    run(csv_bytes([row("60.12.1.1", "甲公司")]), "key")
    run(csv_bytes([row("60.12.1.2", "乙公司")]), "key", NEXT_WEEK)
    assert Case.objects.get(ips__value="60.12.1.1").state == State.DISPATCHED


def test_reappearance_after_clearance_reopens_the_case_as_rebound(people: Personas) -> None:
    run(csv_bytes([row("60.12.1.1", "甲科技有限公司")]), "key")
    case = Case.objects.get()
    actor = people.county_a
    for action in ("sign", "start_verification"):
        case_transition(case_id=case.pk, action=action, actor=actor)
    visit_record(case_id=case.pk, actor=actor, visited_at=NOW, found_mining=True,
                 machine_count=2, machines_seized=2, power_cut=True)
    case_transition(case_id=case.pk, action="confirm", actor=actor)
    case_transition(case_id=case.pk, action="start_rectification", actor=actor)
    from tests.test_uploads import png_bytes

    evidence_add(case_id=case.pk, actor=actor, stream=io.BytesIO(png_bytes()),
                 original_name="p.png")
    case_transition(case_id=case.pk, action="request_clearance", actor=actor)
    case_transition(case_id=case.pk, action="clear", actor=people.city)

    s = run(csv_bytes([row("60.12.1.1", "甲科技有限公司")]), "key", NEXT_WEEK)
    assert (s.reappeared, s.cases_reopened, s.cases_created) == (1, 1, 0)
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.rebound_count == 1
    assert case.cleared_at is None
    assert case.due_at == NEXT_WEEK.cutoff(5, datetime.min.time().replace(hour=18))
    assert case.audit.filter(action="rebound", from_state="cleared").count() == 1
    assert Appearance.objects.filter(case=case, change="reappeared").count() == 1


def test_an_ip_is_stored_once_and_linked_to_every_appearance(ref: None) -> None:
    run(csv_bytes([row("60.12.1.1")]), "key")
    run(csv_bytes([row("60.12.1.1")]), "stock")
    ip = IPAddress.objects.get()
    assert ip.appearances.count() == 2
    assert ip.cases.count() == 1


def test_the_cli_prints_one_json_object(ref: None, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "key.csv"
    f.write_bytes(csv_bytes([row("60.12.1.1", "甲公司"), row("60.12.1.2", "乙公司")]))
    args = ["import-list", str(f), "--list-type", "key", "--week", "2026-W47", "--json"]
    assert qingling(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("rows", "new", "present", "reappeared", "absent", "rejected")} \
        == {"rows": 2, "new": 2, "present": 0, "reappeared": 0, "absent": 0, "rejected": 0}
    assert "duplicate_of" not in out
    assert qingling(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["duplicate_of"] == out["batch_id"]


def test_the_cli_refuses_an_invalid_batch_with_the_row_named(
    ref: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "key.csv"
    f.write_bytes(csv_bytes([row("60.12.1.1"), row("999.1.1.1")]))
    assert qingling(["import-list", str(f), "--list-type", "key", "--week", "2026-W47"]) != 0
    err = capsys.readouterr().err
    assert "key.csv: row 3, column IP地址: not an IP address" in err
    assert ListBatch.objects.count() == 0
    assert qingling(["import-list", str(f), "--list-type", "key", "--week", "2026-W47",
                     "--accept-valid"]) == 0
    assert ListBatch.objects.get().rejected_count == 1


def test_classification_routes_a_school_to_education_and_grades_it_l1(ref: None) -> None:
    run(csv_bytes([row("60.12.1.1", "南湖区实验小学")]), "stock")
    case = Case.objects.get()
    assert case.subject_type == "school" and case.grade == "L1"
    assert case.lead_department is not None and case.lead_department.code == "education"
    assert "名称：学校" in case.classification and "分级：公共部门" in case.classification


def test_an_unknown_county_waits_for_the_city_to_dispatch(ref: None) -> None:
    s = run(csv_bytes([row("60.12.1.1", "甲公司", county="")]), "stock")
    assert s.pending_dispatch == 1
    assert Case.objects.get().state == State.PENDING


def test_a_listed_shared_egress_becomes_a_false_positive_candidate(ref: None) -> None:
    from qingling.cases.models import Behaviour, WarningEntry

    WarningEntry.objects.create(network="60.12.0.0/24", kind="gov_exit", name="区政务外网出口")
    import_list(data=csv_bytes([row("60.12.0.7", "某局"), row("61.1.1.1", "某公司")]),
                file_name="k.csv", list_type="key", week=WEEK)
    shared = Case.objects.get(ip_summary="60.12.0.7")
    other = Case.objects.get(ip_summary="61.1.1.1")
    assert shared.behaviour == Behaviour.FALSE_POSITIVE
    assert any("区政务外网出口" in m for m in shared.classification)
    assert other.behaviour != Behaviour.FALSE_POSITIVE
