"""Chinese everywhere: every message in the source has a reviewed Chinese translation, and
the pages each role works with, rendered in the default language, carry no English prose
(codes such as IP, XLSX or kW, week ids, user and file names are allowed)."""

from __future__ import annotations

import html
import io
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from qingling.cases.identity import key_of
from qingling.cases.models import Case, WarningEntry
from qingling.cases.services import case_transition, evidence_add, visit_record
from qingling.common.weeks import IsoWeek
from qingling.intake.services import import_list
from qingling.screening.models import Subscriber
from qingling.supervision.models import Escalation
from qingling.supervision.services import escalation_move, reference_load, weekly_close
from tests.conftest import Personas, at, client_for, csv_bytes, english_prose, row

SRC = Path(__file__).resolve().parents[1] / "src" / "qingling"
LOCALE = SRC / "locale"
PO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _po_problems(text: str) -> list[str]:
    """Entries of a catalogue that are fuzzy or have an empty translation."""
    bad = []
    for entry in text.split("\n\n")[1:]:
        if not entry.strip() or entry.lstrip().startswith("#~"):
            continue
        if "#, fuzzy" in entry or re.search(r'msgstr(\[\d\])? ""\s*$', entry.rstrip()):
            bad.append(entry.strip())
    return bad


def test_every_message_has_a_chinese_translation() -> None:
    assert _po_problems(PO.read_text(encoding="utf-8")) == []


@pytest.mark.skipif(shutil.which("xgettext") is None or shutil.which("msgmerge") is None,
                    reason="GNU gettext is not installed (scripts/system-deps.sh installs it)")
def test_the_catalogue_holds_every_message_of_the_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # makemessages on a copy of the package: a msgid in the source that the committed
    # catalogue lacks comes back untranslated (or as a fuzzy guess) and fails here.
    copy = tmp_path / "qingling"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns(
        "__pycache__", "detect", "static", "data", "migrations", "*.mo"))
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[copy / "locale"]):
        call_command("makemessages", locale=["zh_Hans"], no_obsolete=True, verbosity=0)
    fresh = (copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po").read_text("utf-8")
    assert _po_problems(fresh) == []


def test_the_ui_speaks_chinese_by_default_and_english_on_request(people: Personas) -> None:
    c = Client()
    c.force_login(people.city)
    page = c.get(reverse("dashboard")).content.decode()
    assert "重点名单按时清零率" in page and 'lang="zh-Hans"' in page
    english = c.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Key list cleared on time" in english


# --- no English prose on Chinese pages -------------------------------------------------------

def test_the_prose_finder_finds_english_and_allows_codes() -> None:
    assert english_prose("<p>Created from a list</p>", set()) == ["Created from a list"]
    assert english_prose("<p>2 of 3 rows are invalid</p>", set()) == ["rows are invalid"]
    ok = ("<p>IP地址 60.1.1.1，XLSX，12.5 kW，2026-W48，city，k.csv，"
          "<script>var a = 'not shown';</script> 重点名单</p>")
    assert english_prose(ok, {"city"}) == []
    assert english_prose("<p>状态：pending</p>", set()) == ["pending"]
    assert english_prose("<p>不是IP地址：<code>'not an ip'</code></p>", set()) == []


@pytest.fixture
def world(people: Personas, task_routes: None, settings: object, tmp_path: Path) -> dict[str, object]:
    """A week of work: a key list with a rejected row, subscribers (two needing triage) and
    the list's addresses resolved to them, a visit with a photo, a network screening, the
    weekly close with an approved escalation about a school, a warning-list entry."""
    from qingling.detect.engines import connect
    from qingling.detect.resolve import schema
    from qingling.detect.resolve.engine import build_sessions
    from qingling.screening.screen import resolve_lists
    from qingling.screening.services import subscribers_import

    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    reference_load()
    week = IsoWeek(2026, 47)
    import_list(data=csv_bytes([
        row("61.10.0.5", county="", when="2026-11-17 10:00:00"),
        row("61.10.0.6", "丙公司", county="南湖区", when="2026-11-17 10:00:00"),
        row("61.10.0.7", "丁公司", county="南湖区", when="2026-11-17 10:00:00"),
        row("61.10.0.8", "嘉兴市第一中学", county="南湖区", when="2026-11-17 10:00:00"),
        row("not-an-ip", "戊公司", county="南湖区", when="2026-11-17 10:00:00"),
    ]), file_name="k.csv", list_type="key", week=week, accept_valid=True,
        now=datetime(2026, 11, 18, 9, tzinfo=UTC))
    subscribers_import(data=("账号,户名,装机地址,运营商\n"
                             "ACC1,赵六,嘉兴市秀洲区王江泾镇某村3号,电信\n"
                             "ACC2,钱七,嘉兴市秀洲区新塍镇某路9号,电信\n"
                             "ACC3,孙八,北京市朝阳区某路1号,电信\n"
                             "ACC4,李九,嘉兴市南湖区,电信\n").encode(),
                       file_name="subs.csv")

    def ts(h: int) -> datetime:
        return datetime(2026, 11, 17, h, tzinfo=UTC)

    events = pa.Table.from_pylist([
        {"account": a, "ip": ip, "status": st, "session_id": sid, "nas_ip": "10.0.0.1", "ts": t}
        for a, ip, sid in (("ACC1", "61.10.0.5", "s1"), ("ACC2", "61.10.0.6", "s2"))
        for st, t in (("start", ts(0)), ("stop", ts(12)))], schema=schema.EVENTS)
    sessions = build_sessions(events, connect("duckdb"))
    resolve_lists(week=str(week), digest="d1", names=["radius.csv"], sessions=sessions,
                  now=timezone.now())
    visited = Case.objects.get(ip_summary="61.10.0.7")
    case_transition(case_id=visited.pk, action="sign", actor=people.county_a)
    visit_record(case_id=visited.pk, actor=people.verifier_a, visited_at=timezone.now(),
                 found_mining=True, machine_count=4, machines_seized=4, power_cut=True,
                 subject_name="丁公司")
    photo = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(photo, "PNG")
    photo.seek(0)
    evidence_add(case_id=visited.pk, actor=people.verifier_a, stream=photo,
                 original_name="site.png")
    network = _screened_case(tmp_path)
    weekly_close(week, at("2026-11-21T09:00"))
    school = Escalation.objects.get(case__ip_summary="61.10.0.8")
    escalation_move(school, "approve", people.city, at("2026-11-21T10:00"))
    client_for(people.city).post("/warning-lists/", {"network": "61.10.0.0/30",
                                                      "kind": "gov_exit", "name": "市政务外网出口",
                                                      "note": ""})
    assert WarningEntry.objects.count() == 1
    admin = User.objects.create_superuser("root", password="x")
    return {"week": week, "listed": Case.objects.get(ip_summary="61.10.0.6"),
            "visited": visited, "network": network, "admin": admin, "school": school.case}


def _screened_case(tmp_path: Path) -> Case:
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from qingling.detect.engines import connect
    from qingling.detect.resolve.engine import build_sessions
    from qingling.detect.resolve.synth import carrier_for_flows
    from qingling.detect.synth import synth_flows
    from qingling.screening.screen import input_digest, screen_network
    from qingling.screening.services import subscribers_import

    flows, truth = synth_flows(5_000, miners=2, seed=3)
    events, subs = carrier_for_flows(flows, seed=3)
    csv_path = tmp_path / "subscribers-net.csv"
    pacsv.write_csv(subs.rename_columns(["账号", "户名", "证件号码", "联系电话", "装机地址",
                                         "运营商"]), csv_path)
    subscribers_import(data=csv_path.read_bytes(), file_name="subscribers-net.csv")
    screen_network(flows=flows, digest=input_digest([b"net"]), names=["day.parquet"],
                   sessions=build_sessions(events, connect("duckdb")), now=timezone.now())
    hosts = dict(zip(sorted(pc.unique(flows["src_ip"]).to_pylist()),
                     [f"JX{i:08d}" for i in range(subs.num_rows)], strict=True))
    ip = truth.to_pylist()[0]["src_ip"]
    return Case.objects.get(keys__key=key_of("account", hosts[ip]))


def _pages(world: dict[str, object], people: Personas) -> list[tuple[User, str]]:
    week = world["week"]
    cases = [world["listed"], world["visited"], world["network"], world["school"]]
    common = ["/dashboard/", "/inbox/", "/cases/", "/tasks/"]
    pages: list[tuple[User, str]] = []
    for who in (people.city, people.county_a, people.verifier_a, people.dept, people.leader):
        pages += [(who, p) for p in common]
    pages += [(people.city, f"/cases/{c.pk}/") for c in cases]  # type: ignore[attr-defined]
    pages += [(people.county_a, f"/cases/{world['visited'].pk}/")]  # type: ignore[attr-defined]
    batch = Case.objects.get(pk=world["listed"].pk).appearances.first().batch  # type: ignore[attr-defined]
    pages += [(people.city, p) for p in (
        "/lists/", f"/lists/{batch.pk}/", "/lists/import/", f"/supervision/?week={week}",
        "/screening/", "/screening/subscribers/", "/warning-lists/", "/supervision/tariff/",
        f"/supervision/projects/?week={week}", "/makers/", "/tasks/checks/",
        "/tasks/kinds/")]
    pages += [(people.leader, f"/supervision/?week={week}"), (people.county_b, "/cases/"),
              (people.city, "/screening/subscribers/?triage=1")]
    pages += [(people.city, f"/screening/subscribers/{pk}/")
              for pk in Subscriber.objects.values_list("pk", flat=True)[:3]]
    admin = world["admin"]
    # The admin: its index, every changelist, and a few forms.
    from django.contrib.admin import site

    pages += [(admin, "/admin/")]  # type: ignore[list-item]
    pages += [(admin, f"/admin/{m._meta.app_label}/{m._meta.model_name}/")  # type: ignore[misc]
              for m in site._registry if m._meta.app_label != "auth"]
    pages += [(admin, f"/admin/{m._meta.app_label}/{m._meta.model_name}/{first}/change/")  # type: ignore[misc]
              for m in site._registry if m._meta.app_label != "auth"
              and (first := m._default_manager.values_list("pk", flat=True).first()) is not None]
    pages += [(admin, p) for p in (  # type: ignore[misc]
        "/admin/cases/classificationrule/add/", "/admin/supervision/tariffaccount/add/",
        "/admin/org/profile/add/", "/admin/cases/warningentry/add/")]
    return pages


def _names() -> set[str]:
    return set(User.objects.values_list("username", flat=True))


def test_the_pages_each_role_works_with_carry_no_english_prose(
        world: dict[str, object], people: Personas) -> None:
    names = _names()
    found = {}
    for who, path in _pages(world, people):
        c = client_for(who)
        assert c.get(path, HTTP_ACCEPT_LANGUAGE="en").status_code == 200, path
        resp = c.get(path)
        assert resp.status_code == 200, path
        if prose := english_prose(resp.content.decode(), names):
            found[f"{who.username} {path}"] = prose
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_a_refused_import_is_reported_in_chinese(people: Personas) -> None:
    data = csv_bytes([row("60.1.1.1", "甲公司", when="2026-11-17 10:00:00"),
                      row("not-an-ip", "乙公司", county="北京市", when="2030-01-01 10:00:00")])
    city = client_for(people.city)
    resp = city.post("/lists/import/", {
        "file": SimpleUploadedFile("k.csv", data), "list_type": "key", "week": "2026-W47"},
        follow=True)
    preview = resp.content.decode()
    assert "不是IP地址" in preview and "共读取 2 行：可导入 1 行，有误 1 行" in preview
    assert english_prose(preview, _names()) == []
    job = resp.redirect_chain[-1][0].rstrip("/").rsplit("/", 1)[-1]
    refused = city.post(f"/lists/import/{job}/confirm/", {"action": "import"},
                        follow=True).content.decode()
    assert "共 2 行，其中 1 行有误，未导入任何数据" in refused
    assert english_prose(refused, _names()) == []
    bad = city.post("/lists/import/", {
        "file": SimpleUploadedFile("k.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"0" * 64),
        "list_type": "key", "week": "2026-W47"}, follow=True)
    assert english_prose(bad.content.decode(), _names()) == []



def test_the_defects_users_saw_are_chinese(world: dict[str, object], people: Personas) -> None:
    city = client_for(people.city)
    listed = city.get(f"/cases/{world['visited'].pk}/").content.decode()  # type: ignore[attr-defined]
    assert "根据名单立案" in listed and "已登记现场核查" in listed and "重点名单 2026-W47" in listed
    school = city.get(f"/cases/{world['school'].pk}/").content.decode()  # type: ignore[attr-defined]
    assert "约谈/通报已批准: 拟办 → 已批准" in school
    found = city.get(f"/cases/{world['network'].pk}/").content.decode()  # type: ignore[attr-defined]
    assert "根据监测信号立案" in found and "Created from a list" not in found
    batch = city.get("/lists/").content.decode()
    assert "not an IP address" not in batch
    # Showing personal data needs a reason, asked for in Chinese.
    sub = Subscriber.objects.get(account="ACC1")
    reveal = city.post(f"/screening/subscribers/{sub.pk}/reveal/", {"reason": " "})
    assert "请填写查看个人信息的事由" in reveal.content.decode()
    assert english_prose(reveal.content.decode(), _names()) == []
    # Issuing the bulletin, a refused upload and a service's refusal are told in Chinese.
    issued = city.post(f"/supervision/bulletin/{world['week']}/issue/", follow=True)
    assert "已生成。" in issued.content.decode()  # with a warning in Chinese if no PDF
    assert english_prose(issued.content.decode(), _names()) == []
    upload = city.post(f"/cases/{world['visited'].pk}/evidence/",  # type: ignore[attr-defined]
                       {"file": SimpleUploadedFile("x.txt", b"not a photo")}, follow=True)
    assert "只接受照片（JPEG、PNG、WebP）和文件" in upload.content.decode()
    assert english_prose(upload.content.decode(), _names()) == []
    refused = city.post("/supervision/close/", {"week": "2099-W01"}, follow=True)
    page = refused.content.decode()
    assert "清零时限为北京时间" in page and "尚未到达" in page
    assert english_prose(page, _names()) == []


def test_the_engines_evidence_is_put_into_chinese_phrase_by_phrase() -> None:
    """Every phrase the network engine words (payload, names, behaviour, labels) has its
    Chinese: the methods, names and addresses in it stay as codes."""
    from datetime import date

    from django.utils import translation

    from qingling.detect.network.engine import explain
    from qingling.detect.network.names import PoolList
    from qingling.detect.network.payload import payload_score
    from qingling.screening.explain import evidence_text

    pools = PoolList({"f2pool.com": (1.0, "poolwatch", date(2025, 3, 1))},
                     {"47.1.2.3": (1.0, "poolwatch", date(2024, 5, 1))}, 2.0, date(2026, 1, 1))
    payloads = [payload_score("mining.subscribe|mining.authorize", None, None, None, None),
                payload_score(None, "mining.notify", None, None, None),
                payload_score("login", None, None, True, "XMRig/6.21"),
                payload_score(None, None, None, True, None),
                payload_score("login", None, True, None, None)]
    names = [pools.match_name("eu.f2pool.com"), pools.match_name("xmr.minepool.example"),
             pools.match_ip("47.1.2.3")]
    base = {"payload": 1.0, "names": 1.0, "behaviour": 0.8, "push_iat": 30.0,
            "psh_share": 0.74, "active_s": 86400.0, "sessions": 25, "ppm": 10.1, "bpp": 110.0,
            "dst_port": 3333, "src_ip": "10.0.0.1"}
    evidence = [explain({**base, "payload_evidence": p[1], "names_evidence": n.evidence,
                         "label": label})
                for p in payloads for n in names if n is not None
                for label in ("", "node", "shared_egress")]
    assert len(evidence) == 45
    with translation.override("zh-hans"):
        for text in evidence:
            shown = str(evidence_text(text))
            assert english_prose(shown, set()) == [], text
    with translation.override("en"):
        assert str(evidence_text(evidence[0])) == html.escape(evidence[0], quote=True)


@pytest.mark.parametrize("reason", [
    "220.9.9.9 is a CGNAT public address: the source port is needed",
    "no CGNAT translation of 220.9.9.9:40001 at that time",
    "2 CGNAT translations match 220.9.9.9:40001",
    "sessions of 2 accounts (ACC1 … ACC2) cover this time within ±60 s: the address was "
    "reassigned",
    "2 static allocations overlap",
    "no RADIUS session or static allocation holds 61.10.0.7 at that time",
    "the time had no zone: read as Asia/Shanghai it is ACC1 (s1@10.0.0.1 start), read as UTC "
    "it is nobody; give the zone",
    "source ports 40001–40899 belong to different subscribers (ACC1, ambiguous)",
])
def test_why_an_address_was_not_attributed_is_told_in_chinese(reason: str) -> None:
    from django.utils import translation

    from qingling.screening.explain import resolution_text

    with translation.override("zh-hans"):
        shown = str(resolution_text({"status": "ambiguous", "reason": reason}))
    assert english_prose(shown, set()) == [] and "无法唯一定位" not in shown, shown


def test_a_refused_import_reads_in_english_on_request_and_a_bad_week_in_chinese(
        people: Personas) -> None:
    data = csv_bytes([row("not-an-ip", "乙公司", when="2026-11-17 10:00:00")])
    c = client_for(people.city)
    resp = c.post("/lists/import/", {"file": SimpleUploadedFile("k.csv", data),
                                     "list_type": "key", "week": "2026-W47"},
                  HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "not an IP address" in resp.content.decode()
    job = resp.redirect_chain[-1][0].rstrip("/").rsplit("/", 1)[-1]
    english = c.post(f"/lists/import/{job}/confirm/", {"action": "import"},
                     HTTP_ACCEPT_LANGUAGE="en", follow=True).content.decode()
    assert "k.csv: 1 of 1 row is invalid; nothing was imported" in english
    week = c.post("/lists/import/", {"file": SimpleUploadedFile("k.csv", data),
                                     "list_type": "key", "week": "2026-W99"}).content.decode()
    assert "2026 年没有第 99 周" in week and english_prose(week, _names()) == []
