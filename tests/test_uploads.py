from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from PIL import Image

from qingling.cases.models import Case, Evidence
from qingling.cases.services import case_transition, evidence_add
from qingling.cases.uploads import UploadRejected
from qingling.intake.services import import_list
from tests.conftest import WEEK, Personas, csv_bytes, row


def png_bytes(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def case_a(people: Personas) -> Case:
    import_list(data=csv_bytes([row("60.12.1.1", "甲公司")]), file_name="k.csv",
                list_type="key", week=WEEK)
    case = Case.objects.get()
    case_transition(case_id=case.pk, action="sign", actor=people.county_a)
    return case


def test_a_photo_is_stored_by_its_hash(people: Personas, case_a: Case) -> None:
    data = png_bytes()
    ev = evidence_add(case_id=case_a.pk, actor=people.county_a, stream=io.BytesIO(data),
                      original_name="site.jpg")
    import hashlib

    assert ev.sha256 == hashlib.sha256(data).hexdigest()
    assert ev.content_type == "image/png" and ev.kind == "photo"  # by content, not by name
    assert (Path(settings.MEDIA_ROOT) / ev.storage_path).read_bytes() == data
    assert case_a.audit.filter(action="evidence").count() == 1


@pytest.mark.parametrize("payload,message", [
    (b"<script>alert(1)</script>", "Only photos"),
    (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "damaged"),
    (b"", "empty"),
])
def test_it_refuses_what_is_not_a_photo_or_document(
    people: Personas, case_a: Case, payload: bytes, message: str
) -> None:
    with pytest.raises(UploadRejected, match=message):
        evidence_add(case_id=case_a.pk, actor=people.county_a, stream=io.BytesIO(payload),
                     original_name="photo.jpg")
    assert Evidence.objects.count() == 0


def test_it_refuses_a_file_over_the_limit(people: Personas, case_a: Case, settings: Any) -> None:
    settings.QINGLING_UPLOAD_MAX_BYTES = 100
    with pytest.raises(UploadRejected, match="larger than the limit"):
        evidence_add(case_id=case_a.pk, actor=people.county_a,
                     stream=io.BytesIO(b"%PDF-1.4" + b"x" * 200), original_name="a.pdf")


def test_a_pdf_is_a_document(people: Personas, case_a: Case) -> None:
    ev = evidence_add(case_id=case_a.pk, actor=people.county_a,
                      stream=io.BytesIO(b"%PDF-1.4\n%%EOF\n"), original_name="report")
    assert ev.kind == "document" and ev.content_type == "application/pdf"


def test_opening_evidence_is_audited(people: Personas, case_a: Case) -> None:
    from django.test import Client
    from django.urls import reverse

    ev = evidence_add(case_id=case_a.pk, actor=people.county_a, stream=io.BytesIO(png_bytes()),
                      original_name="site.png")
    c = Client()
    c.force_login(people.city)
    resp = c.get(reverse("evidence_download", args=[ev.pk]))
    assert resp.status_code == 200 and b"".join(resp.streaming_content) == png_bytes()
    entry = case_a.audit.get(action="download")
    assert entry.actor == people.city and entry.data["sha256"] == ev.sha256
