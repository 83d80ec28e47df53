"""The carrier subscriber register: personal fields encrypted at rest, masked on every page,
shown in clear only to roles that need them, and every clear view audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from qingling.audit.models import AuditEntry
from qingling.screening.models import Subscriber
from qingling.screening.services import subscribers_import
from tests.conftest import COUNTY_A, Personas, client_for

REGISTER = (
    "账号,户名,证件号码,联系电话,装机地址,运营商\n"
    "NH0001,张三丰,330402199001011234,13812345678,嘉兴市南湖区新兴街道某路8号,电信\n"
    "XZ0002,李四,330411198505052345,13987654321,嘉兴市秀洲区王江泾镇某村3号,电信\n"
    "OUT003,王五,110101199001011111,13700000000,北京市朝阳区某街1号,电信\n"
).encode()


@pytest.fixture
def register(people: Personas, settings: object, tmp_path: Path) -> Personas:
    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    s = subscribers_import(data=REGISTER, file_name="register.csv")
    assert (s.added, s.updated, s.triage, s.rejected) == (3, 0, 1, [])
    return people


def test_personal_fields_are_encrypted_in_the_database(register: Personas) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT name_enc, id_enc, phone_enc, address_enc FROM screening_subscriber")
        raw = " ".join(" ".join(r) for r in cur.fetchall())
    for secret in ("张三丰", "330402199001011234", "13812345678", "新兴街道"):
        assert secret not in raw
    sub = Subscriber.objects.get(account="NH0001")
    assert sub.name == "张三丰" and sub.county.code == COUNTY_A and sub.township is not None
    outside = Subscriber.objects.get(account="OUT003")
    assert outside.county is None and outside.needs_triage


def test_importing_again_updates_and_adds_nothing(register: Personas) -> None:
    again = subscribers_import(data=REGISTER, file_name="register.csv")
    assert (again.added, again.updated) == (0, 3) and Subscriber.objects.count() == 3


def test_a_bad_row_imports_nothing(people: Personas) -> None:
    bad = REGISTER + "，没有账号,,,,,电信\n".replace("，", ",").encode()
    s = subscribers_import(data=bad, file_name="bad.csv")
    assert s.rejected == ["row 5: account is empty"] and Subscriber.objects.count() == 0


@pytest.mark.parametrize("who,sees_page,may_reveal", [
    ("city", 200, True), ("county_a", 200, True), ("verifier_a", 200, True),
    ("leader", 200, False), ("county_b", 404, False), ("dept", 404, False),
    ("outsider", 404, False)])
def test_masking_and_reveal_per_role(register: Personas, who: str, sees_page: int,
                                     may_reveal: bool) -> None:
    sub = Subscriber.objects.get(account="NH0001")
    c = client_for(getattr(register, who))
    page = c.get(f"/screening/subscribers/{sub.pk}/")
    assert page.status_code == sees_page
    if sees_page == 200:
        html = page.content.decode()
        assert "张**" in html and "330402********1234" in html and "138****5678" in html
        assert "张三丰" not in html and "某路8号" not in html
    before = AuditEntry.objects.filter(action="reveal_personal").count()
    shown = c.post(f"/screening/subscribers/{sub.pk}/reveal/", {"reason": "核查"})
    if may_reveal:
        assert shown.status_code == 200 and "张三丰" in shown.content.decode()
        assert shown["Cache-Control"] == "no-store"
        entry = AuditEntry.objects.filter(action="reveal_personal").latest("at")
        assert entry.actor == getattr(register, who) and entry.comment == "核查"
        assert entry.object_id == str(sub.pk)
    else:
        assert shown.status_code in (403, 404) and "张三丰" not in shown.content.decode()
        assert AuditEntry.objects.filter(action="reveal_personal").count() == before


def test_a_reveal_needs_a_reason(register: Personas) -> None:
    sub = Subscriber.objects.get(account="NH0001")
    resp = client_for(register.city).post(f"/screening/subscribers/{sub.pk}/reveal/", {"reason": " "})
    assert resp.status_code == 400 and "张三丰" not in resp.content.decode()
    assert not AuditEntry.objects.filter(action="reveal_personal").exists()


def test_the_list_is_masked_and_cut_to_the_county(register: Personas) -> None:
    html = client_for(register.county_a).get("/screening/subscribers/").content.decode()
    assert "NH0001" in html and "XZ0002" not in html and "张三丰" not in html
    city = client_for(register.city).get("/screening/subscribers/?triage=1").content.decode()
    assert "OUT003" in city and "NH0001" not in city
    assert client_for(register.dept).get("/screening/subscribers/").status_code == 403


def test_addresses_are_placed_by_the_gazetteer_then_the_parser(people: Personas) -> None:
    from qingling.geo.address import locate_many

    got = locate_many(["嘉兴市南湖区新兴街道某路8号", "桐乡市乌镇某路", "海宁市某某村3号",
                       "北京市朝阳区某街1号", "某个地方"])
    assert [g.confidence for g in got] == [1.0, 1.0, 0.6, 0.0, 0.0]
    assert got[1].township_id is not None  # 乌镇, an alias of 乌镇镇
    assert got[2].county_id is not None and got[2].reason == "county only: no township named"
    # The parser knows the whole country: an address elsewhere is rejected, and says where.
    assert got[3].county_id is None and got[3].reason == "outside the city (北京市市辖区朝阳区)"
    assert got[4].reason == "no place recognised"
