"""A monitoring lead resolved to a subscriber is typed, graded and routed by the same
classification and routing rules as a list case: from the register's 用户类型, the holder's
name and whether the holder is a person or a unit (credit code), never left 未知/L3 led by
the DRC when the register says who it is."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest
from django.utils import timezone

from qingling.cases.identity import key_of
from qingling.cases.models import Case
from qingling.detect.engines import connect
from qingling.detect.resolve.engine import build_sessions
from qingling.detect.resolve.synth import carrier_for_flows
from qingling.detect.synth import synth_flows
from qingling.org.models import SubjectType
from qingling.screening.screen import input_digest, screen_network
from qingling.screening.services import subscribers_import
from tests.conftest import Personas

# The five miners' accounts, as a carrier would register them: (户名, 证件号码, 用户类型).
REGISTER = [
    ("张三", "330402198001011234", "家庭宽带"),
    ("嘉兴市恒远网络科技有限公司", "91330402MA2B3C4D5E", "企业专线"),
    ("李四", "330402197503031111", "网吧"),
    ("嘉兴市第一中学", "12330400470000000X", "政企专线"),
    ("王五", "330402199002021234", ""),
]
# What the work plan's rules make of each (subject type, grade, lead department's code).
EXPECTED = [
    (SubjectType.RESIDENTIAL, "L3", "psb"),
    (SubjectType.ENTERPRISE, "L2", "amr"),
    (SubjectType.CAFE, "L2", "culture"),
    (SubjectType.SCHOOL, "L1", "education"),
    (SubjectType.RESIDENTIAL, "L3", "psb"),
]


@pytest.fixture
def screened(people: Personas, settings: object, tmp_path: Path) -> list[Case]:
    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    flows, truth = synth_flows(20_000, miners=5, seed=3)
    events, subs = carrier_for_flows(flows, seed=3)
    hosts = dict(zip(sorted(pc.unique(flows["src_ip"]).to_pylist()),
                     [f"JX{i:08d}" for i in range(subs.num_rows)], strict=True))
    miners = sorted({r["src_ip"] for r in truth.to_pylist()})
    assert len(miners) == len(REGISTER)
    lines = ["账号,户名,证件号码,装机地址,运营商,用户类型"]
    for ip, (name, ident, kind) in zip(miners, REGISTER, strict=True):
        lines.append(f"{hosts[ip]},{name},{ident},嘉兴市南湖区新丰镇人民路{len(lines)}号,电信,{kind}")
    summary = subscribers_import(data="\n".join(lines).encode(), file_name="register.csv")
    assert summary.rejected == [] and summary.added == len(REGISTER)
    screen_network(flows=flows, digest=input_digest([b"typed"]), names=["day.parquet"],
                   sessions=build_sessions(events, connect("duckdb")), now=timezone.now())
    return [Case.objects.get(keys__key=key_of("account", hosts[ip])) for ip in miners]


def test_a_resolved_lead_takes_the_subscribers_type_grade_and_lead(screened: list[Case]) -> None:
    got = [(c.subject_type, c.grade, c.lead_department.code if c.lead_department else None)
           for c in screened]
    assert got == EXPECTED


def test_the_rules_that_decided_are_kept_on_the_lead(screened: list[Case]) -> None:
    cafe = screened[2]
    assert cafe.classification[0] == "类型列：网吧"
    assert "分级：企业、数据中心、网吧" in cafe.classification


def test_a_unit_holder_is_routed_with_its_co_departments(screened: list[Case]) -> None:
    enterprise = screened[1]
    assert sorted(enterprise.co_departments.values_list("code", flat=True)) == ["drc"]
    assert enterprise.uscc == "91330402MA2B3C4D5E" and enterprise.id_number == ""
