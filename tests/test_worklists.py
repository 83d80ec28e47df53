"""Work lists that fit a week: the inbox as tabs by what the user can do now, bulk moves
previewed then made (one audit entry per case), verifiers' assignments, exports of what a
page shows, the global search box, and the pages around them (help, errors)."""

from __future__ import annotations

import io
from datetime import timedelta
from urllib.parse import urlencode

from django.utils import timezone
from openpyxl import load_workbook

from qingling.audit.models import AuditEntry
from qingling.cases.models import Case, State
from qingling.cases.services import case_transition
from qingling.common.weeks import IsoWeek
from tests.conftest import COUNTY_A, COUNTY_B, Personas, client_for, make_case


def _sheet(resp: object) -> list[tuple[object, ...]]:
    wb = load_workbook(io.BytesIO(resp.content))  # type: ignore[attr-defined]
    return list(wb.active.iter_rows(values_only=True))


def test_a_county_signs_twenty_in_one_action_and_the_verifier_gets_exactly_those(
        people: Personas) -> None:
    mine = [make_case(COUNTY_A, subject_name=f"南湖单位{i}有限公司", subject_type="enterprise")
            for i in range(20)]
    theirs = make_case(COUNTY_B)
    already = make_case(COUNTY_A, state="signed")
    officer = client_for(people.county_a)
    inbox = officer.get("/inbox/?tab=to_sign").content.decode()
    assert 'data-count="to_sign">20<' in inbox and "南湖单位3有限公司" in inbox
    ids = [c.pk for c in mine] + [theirs.pk, already.pk]
    preview = officer.post("/cases/bulk/", {"action": "sign", "ids": ids, "next": "/inbox/"})
    body = preview.content.decode()
    assert 'data-eligible="20" data-skipped="2"' in body
    assert theirs.reference in body and already.reference in body
    assert Case.objects.filter(state=State.SIGNED).count() == 1  # the preview wrote nothing
    officer.post("/cases/bulk/", {"action": "sign", "ids_csv": ",".join(map(str, ids)),
                                  "confirm": "1", "next": "/inbox/"})
    assert Case.objects.filter(pk__in=[c.pk for c in mine], state=State.SIGNED).count() == 20
    assert Case.objects.get(pk=theirs.pk).state == State.DISPATCHED
    signed = AuditEntry.objects.filter(action="sign")
    assert sorted(signed.values_list("case_id", flat=True)) == sorted(c.pk for c in mine)
    # All of the tab at once: "all matching the filter" with the verifier named.
    officer.post("/cases/bulk/", {"action": "assign", "all": "1", "source": "inbox",
                                  "filter": urlencode({"tab": "to_verify"}),
                                  "assignee": people.verifier_a.pk, "confirm": "1"})
    assigned = set(Case.objects.filter(assignee=people.verifier_a).values_list("pk", flat=True))
    assert assigned == {c.pk for c in mine} | {already.pk}
    assert AuditEntry.objects.filter(action="assign").count() == 21
    # The verifier's inbox is what they were named for, and nothing else of the county.
    make_case(COUNTY_A, state="signed")
    v = client_for(people.verifier_a).get("/inbox/?tab=to_verify").content.decode()
    assert 'data-count="to_verify">21<' in v
    assert 'data-count="overdue">0<' in v


def test_a_verifier_of_another_county_cannot_be_named(people: Personas) -> None:
    from qingling.org.services import user_provision

    other = user_provision(username="xiuzhou-v", password="a-test-password", role="verifier",
                           county_code=COUNTY_B)
    case = make_case(COUNTY_A, state="signed")
    resp = client_for(people.county_a).post("/cases/bulk/", {
        "action": "assign", "ids": [case.pk], "assignee": other.pk})
    assert 'data-eligible="0" data-skipped="1"' in resp.content.decode()
    assert Case.objects.get(pk=case.pk).assignee_id is None


def test_a_case_sent_back_waits_in_its_tab_until_the_county_moves_it(people: Personas,
                                                                   tmp_path: object) -> None:
    case = make_case(COUNTY_A, state="clearance_requested")
    case_transition(case_id=case.pk, action="send_back", actor=people.city, comment="照片不清晰")
    page = client_for(people.county_a).get("/inbox/?tab=sent_back").content.decode()
    assert 'data-count="sent_back">1<' in page and case.reference in page
    Case.objects.filter(pk=case.pk).update(state=State.RECTIFYING)
    from qingling.cases.models import Evidence

    Evidence.objects.create(case=case, kind="photo", content_type="image/png",
                            original_name="a.png", sha256="0" * 64, size=1, storage_path="x",
                            uploaded_by=people.county_a)
    case_transition(case_id=case.pk, action="request_clearance", actor=people.county_a)
    page = client_for(people.county_a).get("/inbox/?tab=sent_back").content.decode()
    assert 'data-count="sent_back">0<' in page


def test_rows_say_who_and_where_masked_as_the_role_requires(people: Personas) -> None:
    person = make_case(COUNTY_A, subject_name="张三丰", subject_type="residential",
                       address="嘉兴市南湖区凤桥镇工业路8号", on_key_list=True,
                       due_at=timezone.now() + timedelta(days=2, hours=3))
    page = client_for(people.county_a).get("/cases/").content.decode()
    assert "张**" in page and "张三丰" not in page
    assert "嘉兴市南湖区凤桥镇****" in page and "工业路8号" not in page
    assert "重点名单" in page and ("剩余 2 天 3 小时" in page or "剩余 2 天 2 小时" in page)
    assert person.reference in page


def test_an_inbox_tab_exports_what_it_shows_in_scope_with_formulas_escaped(
        people: Personas) -> None:
    make_case(COUNTY_A, subject_name="=HYPERLINK(\"http://x\")", subject_type="enterprise")
    make_case(COUNTY_B, subject_name="秀洲的单位", subject_type="enterprise")
    rows = _sheet(client_for(people.county_a).get("/inbox/export.xlsx?tab=to_sign"))
    assert len(rows) == 2
    assert rows[1][3] == "'=HYPERLINK(\"http://x\")"
    assert all("秀洲的单位" not in (r[3] or "") for r in rows)
    assert client_for(people.county_a).get("/inbox/export.xlsx?tab=nope").status_code == 404


def test_the_search_box_opens_a_case_by_number_only_in_scope(people: Personas) -> None:
    a = make_case(COUNTY_A, address="嘉兴市南湖区凤桥镇工业路8号")
    b = make_case(COUNTY_B)
    officer = client_for(people.county_a)
    assert officer.get("/search/", {"q": a.reference})["Location"] == f"/cases/{a.pk}/"
    # Another county's number is not found (the list then shows nothing of it).
    resp = officer.get("/search/", {"q": b.reference})
    assert resp["Location"].startswith("/cases/?q=")
    assert f'href="/cases/{b.pk}/"' not in officer.get(resp["Location"]).content.decode()
    # The city's list finds it by number.
    page = client_for(people.city).get("/cases/", {"q": b.reference}).content.decode()
    assert f'href="/cases/{b.pk}/"' in page and f'href="/cases/{a.pk}/"' not in page
    # A whole address finds its (sealed) case.
    from qingling.cases.identity import case_keys, keys_record

    keys_record((a.pk, k) for k in case_keys(a))
    found = officer.get("/cases/", {"q": "嘉兴市南湖区凤桥镇工业路8号"}).content.decode()
    assert a.reference in found


def test_dashboard_numbers_open_the_lists_they_count(people: Personas) -> None:
    now = timezone.now()
    end = IsoWeek.of(now).start() + timedelta(days=7)
    due = make_case(COUNTY_A, due_at=min(now + timedelta(hours=1), end - timedelta(minutes=1)))
    later = make_case(COUNTY_A, due_at=end + timedelta(days=3))
    city = client_for(people.city)
    dash = city.get("/dashboard/").content.decode()
    assert 'href="/cases/?due=week"' in dash and 'href="/cases/?overdue=1"' in dash
    page = city.get("/cases/?due=week").content.decode()
    assert due.reference in page and later.reference not in page


def test_the_week_is_written_the_chinese_way(people: Personas) -> None:
    from django.utils import translation

    with translation.override("zh-hans"):
        assert IsoWeek(2026, 49).label() == "2026年第49周（11月30日—12月6日）"
        assert IsoWeek(2026, 1).label() == "2026年第1周（12月29日—1月4日）"


def test_error_pages_are_branded_and_in_chinese(people: Personas) -> None:
    resp = client_for(people.county_a).get("/no-such-page/")
    assert resp.status_code == 404
    body = resp.content.decode()
    assert "页面不存在" in body and "Not Found" not in body


def test_each_role_has_its_manual(people: Personas) -> None:
    for who, heading in ((people.city, "线索研判"), (people.county_a, "指派核查员"),
                         (people.verifier_a, "现场核查"), (people.leader, "只读")):
        page = client_for(who).get("/help/").content.decode()
        assert heading in page, who
    assert client_for(people.outsider).get("/help/").status_code == 403


def test_the_manual_markdown_is_escaped() -> None:
    from qingling.org.manual import render_markdown

    html = render_markdown("# 标题\n\n<script>alert(1)</script> **粗** `code`\n\n- 一\n- 二")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<h2>标题</h2>" in html and "<strong>粗</strong>" in html
    assert "<ul>\n<li>一</li>\n<li>二</li>\n</ul>" in html


NOT_YET: tuple[str, ...] = ()


def test_every_table_page_of_the_navigation_exports_what_it_shows(people: Personas) -> None:
    import re

    from tests.conftest import make_lead

    make_lead(1, COUNTY_A)
    make_case(COUNTY_A, subject_name="=cmd|' /C calc'!A0", subject_type="enterprise")
    for who in (people.city, people.county_a, people.verifier_a, people.dept, people.leader):
        c = client_for(who)
        nav = re.search(r'<nav aria-label="[^"]*">(.*?)</nav>',
                        c.get("/inbox/").content.decode(), re.S)
        assert nav, who
        for path in re.findall(r'href="([^"]+)"', nav.group(1)):
            if path in NOT_YET:
                continue
            page = c.get(path).content.decode()
            if "<table" not in page:
                continue
            links = re.findall(r'href="([^"]*\.xlsx[^"]*)"', page)
            assert links, f"{who.username} {path} has a table and no export"
            resp = c.get(links[0].replace("&amp;", "&"))
            assert resp.status_code == 200, (who.username, links[0])
            assert resp["Content-Type"].startswith("application/vnd.openxmlformats"), links[0]
            for r in _sheet(resp):
                assert not any(isinstance(v, str) and v.startswith("=") for v in r), links[0]


def test_the_subscriber_export_stays_in_the_county_and_masked(people: Personas) -> None:
    from qingling.common.crypto import encrypt
    from qingling.geo.models import Division
    from qingling.screening.models import Subscriber

    Subscriber.objects.create(carrier="电信", account="JXA", name_enc=encrypt("王小明"),
                              county=Division.objects.get(code=COUNTY_A))
    Subscriber.objects.create(carrier="电信", account="JXB", name_enc=encrypt("李小红"),
                              county=Division.objects.get(code=COUNTY_B))
    rows = _sheet(client_for(people.county_a).get("/screening/subscribers/export.xlsx"))
    assert [r[1] for r in rows[1:]] == ["JXA"] and rows[1][2] == "王**"


def test_the_visit_form_starts_from_what_the_case_says_of_a_unit_never_of_a_person(
        people: Personas) -> None:
    unit = make_case(COUNTY_A, state="signed", subject_name="嘉兴恒达纺织有限公司",
                     subject_type="enterprise", uscc="91330402MA2B3C4D5E",
                     address="嘉兴市南湖区凤桥镇工业路8号")
    person = make_case(COUNTY_A, state="signed", subject_name="张三丰",
                       subject_type="residential", address="嘉兴市南湖区凤桥镇工业路9号")
    c = client_for(people.county_a)
    page = c.get(f"/cases/{unit.pk}/").content.decode()
    assert 'value="嘉兴恒达纺织有限公司"' in page and 'value="91330402MA2B3C4D5E"' in page
    page = c.get(f"/cases/{person.pk}/").content.decode()
    assert "张三丰" not in page and "工业路9号" not in page


def test_a_mistyped_week_in_the_filter_is_said_in_chinese(people: Personas) -> None:
    case = make_case(COUNTY_A)
    page = client_for(people.county_a).get("/cases/", {"week": "2026-W60"}).content.decode()
    assert "2026 年没有第 60 周" in page
    assert case.reference in page


def test_the_desk_moves_are_not_buttons_of_the_case_page(people: Personas) -> None:
    from tests.conftest import make_lead

    lead = make_lead(1, COUNTY_A)
    c = client_for(people.city)
    page = c.get(f"/cases/{lead.pk}/").content.decode()
    assert 'data-action="dispatch"' in page and 'data-action="dismiss_lead"' not in page
    assert c.post(f"/cases/{lead.pk}/act/dismiss_lead/", {"comment": "x"}).status_code == 404
    assert Case.objects.get(pk=lead.pk).state == State.PENDING


def test_the_server_error_page_is_chinese_and_needs_no_request() -> None:
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override("zh-hans"):
        body = render_to_string("500.html")
    assert "出错了" in body and "qingling/app.css" in body and "<script" not in body


def test_list_pages_make_the_same_queries_for_five_rows_as_for_fifty(people: Personas) -> None:
    """No per-row query: the case list, an inbox tab and the lead queue load their rows'
    relations with the page (a 70,000-case list is benchmarked)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.conftest import make_lead

    def queries(who: object, path: str) -> int:
        c = client_for(who)
        c.get(path)  # the session and the first-request caches
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(path).status_code == 200
        return len(ctx.captured_queries)

    def make(n: int, start: int) -> None:
        for i in range(n):
            case = make_case(COUNTY_A, subject_name=f"单位{start + i}", subject_type="enterprise",
                             on_key_list=True, due_at=timezone.now() + timedelta(days=1),
                             assignee=people.verifier_a)
            Case.objects.filter(pk=case.pk).update(township=case.county)
            make_lead(start + i, COUNTY_A)

    make(5, 0)
    few = [queries(people.city, "/cases/"), queries(people.county_a, "/inbox/?tab=to_sign"),
           queries(people.city, "/screening/triage/")]
    make(45, 100)
    many = [queries(people.city, "/cases/"), queries(people.county_a, "/inbox/?tab=to_sign"),
            queries(people.city, "/screening/triage/")]
    assert many == few


def test_the_case_page_assigns_its_verifier_through_the_same_preview(people: Personas) -> None:
    case = make_case(COUNTY_A, state="signed")
    c = client_for(people.county_a)
    page = c.get(f"/cases/{case.pk}/").content.decode()
    assert 'id="assign-form"' in page and f'value="{people.verifier_a.pk}"' in page
    preview = c.post("/cases/bulk/", {"single": f"assign:{case.pk}",
                                      "assignee": people.verifier_a.pk,
                                      "next": f"/cases/{case.pk}/"})
    assert 'data-eligible="1" data-skipped="0"' in preview.content.decode()
    resp = c.post("/cases/bulk/", {"action": "assign", "ids_csv": str(case.pk),
                                   "assignee": people.verifier_a.pk, "confirm": "1",
                                   "next": f"/cases/{case.pk}/"})
    assert resp["Location"] == f"/cases/{case.pk}/"
    assert Case.objects.get(pk=case.pk).assignee == people.verifier_a
    page = c.get(f"/cases/{case.pk}/").content.decode()
    assert "已指派：完成 1 件，跳过 0 件。" in page
    # Neither a verifier nor a leader gets the form.
    for who in (people.verifier_a, people.leader):
        assert 'id="assign-form"' not in client_for(who).get(f"/cases/{case.pk}/").content.decode()
