"""涉矿生产设备有关企业: the economy and IT bureau's register of mining-equipment makers,
their rectification items, and the rate 整改到位 in the weekly close."""

from __future__ import annotations

import io
from datetime import date

import pytest

from qingling.audit.models import AuditEntry
from qingling.cases.uploads import UploadRejected
from qingling.common.weeks import IsoWeek
from qingling.makers.models import Maker
from qingling.makers.services import MakerError, item_add, item_done, item_reopen, maker_add
from qingling.org.services import user_provision
from qingling.supervision.bulletin import maker_rows
from qingling.supervision.services import weekly_close
from tests.conftest import COUNTY_A, COUNTY_B, PASSWORD, Personas, at, client_for
from tests.test_uploads import png_bytes


@pytest.fixture
def eit(ref: None) -> object:
    return user_provision(username="eit", password=PASSWORD, role="department",
                          department_code="eit")


def done(actor: object, item_id: int) -> None:
    item_done(actor=actor, item_id=item_id, outcome="停产矿机生产线并签订承诺书",
              upload=io.BytesIO(png_bytes()), upload_name="承诺书.png")


def test_the_rate_counts_makers_with_every_item_done_and_a_reopened_item_undoes_it(
        people: Personas, eit: object) -> None:
    a = maker_add(actor=eit, name="嘉兴某电子科技有限公司", uscc="91330402MA2B3C4D5E",
                  county_code=COUNTY_A, products="矿机电源")
    b = maker_add(actor=eit, name="秀洲某机电有限公司", uscc="91330411MA2B3C4D6F",
                  county_code=COUNTY_B, products="矿机整机")
    first = item_add(actor=eit, maker_id=a.pk, description="停止矿机电源生产",
                     due_on=date(2026, 11, 30))
    second = item_add(actor=eit, maker_id=a.pk, description="清理库存", due_on=date(2026, 12, 15))
    item_add(actor=eit, maker_id=b.pk, description="停止矿机整机生产", due_on=date(2026, 11, 30))
    done(eit, first.pk)
    assert not Maker.objects.get(pk=a.pk).rectified()
    done(eit, second.pk)
    assert Maker.objects.get(pk=a.pk).rectified()
    close, _ = weekly_close(IsoWeek(2026, 48), at("2026-11-27T18:00"))
    assert maker_rows(close.figures) == [["南湖区", 1, 1, "100.0%"], ["秀洲区", 1, 0, "0.0%"],
                                         ["全市", 2, 1, "50.0%"]]
    # Found shipping again: the item opens with a new deadline, and the maker is not
    # rectified any more.
    item_reopen(actor=eit, item_id=first.pk, reason="发现其再次出货", due_on=date(2026, 12, 31))
    assert not Maker.objects.get(pk=a.pk).rectified()
    assert list(AuditEntry.objects.filter(object_id=str(first.pk), action__startswith="maker_item")
                .values_list("action", "to_state")) == [
        ("maker_item_add", "open"), ("maker_item_done", "done"), ("maker_item_reopen", "open")]


def test_only_the_bureau_keeps_the_register_and_counties_see_their_own(
        people: Personas, eit: object) -> None:
    maker_add(actor=eit, name="秀洲某机电有限公司", uscc="91330411MA2B3C4D6F",
              county_code=COUNTY_B)
    with pytest.raises(MakerError, match="Only the economy"):
        maker_add(actor=people.dept, name="x", uscc="91330402MA2B3C4D5E", county_code=COUNTY_A)
    with pytest.raises(MakerError, match="already registered"):
        maker_add(actor=eit, name="重复", uscc="91330411MA2B3C4D6F", county_code=COUNTY_B)
    assert "秀洲某机电" in client_for(people.county_b).get("/makers/").content.decode()
    assert "秀洲某机电" not in client_for(people.county_a).get("/makers/").content.decode()
    assert client_for(people.dept).get("/makers/").status_code == 403


def test_evidence_is_checked_by_content_and_nothing_is_half_written(
        people: Personas, eit: object) -> None:
    m = maker_add(actor=eit, name="嘉兴某电子科技有限公司", uscc="91330402MA2B3C4D5E",
                  county_code=COUNTY_A)
    item = item_add(actor=eit, maker_id=m.pk, description="停止生产", due_on=date(2026, 11, 30))
    with pytest.raises(UploadRejected):
        item_done(actor=eit, item_id=item.pk, outcome="已停产",
                  upload=io.BytesIO(b"MZ\x90\x00 not a document"), upload_name="x.exe")
    item.refresh_from_db()
    assert item.state == "open" and not item.evidence.exists()
