"""Photos on the case page: a thumbnail made once with Pillow, cached under QINGLING_HOME,
served only within the case's scope; other evidence has none."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image

from qingling.cases.models import Case, Evidence
from qingling.cases.services import case_transition, evidence_add
from qingling.intake.services import import_list
from tests.conftest import WEEK, Personas, client_for, csv_bytes, row


def photo(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def evidence(people: Personas, settings: object, tmp_path: Path) -> list[Evidence]:
    settings.QINGLING_HOME = tmp_path  # type: ignore[attr-defined]
    settings.MEDIA_ROOT = tmp_path / "files"  # type: ignore[attr-defined]
    import_list(data=csv_bytes([row("60.12.1.1", "甲公司")]), file_name="k.csv",
                list_type="key", week=WEEK)
    case = Case.objects.get()
    case_transition(case_id=case.pk, action="sign", actor=people.county_a)
    return [evidence_add(case_id=case.pk, actor=people.county_a, stream=io.BytesIO(data),
                         original_name=name)
            for name, data in (("矿机.jpg", photo(1600, 900)), ("电表.jpg", photo(400, 800)),
                               ("笔录.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n"))]


def test_a_photo_gets_a_cached_thumbnail_of_at_most_320_px(evidence: list[Evidence],
                                                           people: Personas,
                                                           tmp_path: Path) -> None:
    c = client_for(people.county_a)
    resp = c.get(reverse("evidence_thumb", args=[evidence[0].pk]))
    assert resp.status_code == 200 and resp["Content-Type"] == "image/jpeg"
    body = b"".join(resp.streaming_content)
    with Image.open(io.BytesIO(body)) as img:
        assert img.size == (320, 180)
    cached = tmp_path / "cache" / "thumbs" / f"{evidence[0].sha256}-320.jpg"
    assert cached.read_bytes() == body
    tall = b"".join(c.get(reverse("evidence_thumb", args=[evidence[1].pk])).streaming_content)
    with Image.open(io.BytesIO(tall)) as img:
        assert img.size == (160, 320)


def test_the_cached_thumbnail_is_served_without_the_original(evidence: list[Evidence],
                                                             people: Personas,
                                                             tmp_path: Path) -> None:
    c = client_for(people.county_a)
    first = b"".join(c.get(reverse("evidence_thumb", args=[evidence[0].pk])).streaming_content)
    (tmp_path / "files" / evidence[0].storage_path).unlink()
    again = b"".join(c.get(reverse("evidence_thumb", args=[evidence[0].pk])).streaming_content)
    assert again == first


def test_a_document_has_no_thumbnail(evidence: list[Evidence], people: Personas) -> None:
    resp = client_for(people.county_a).get(reverse("evidence_thumb", args=[evidence[2].pk]))
    assert resp.status_code == 404


def test_another_countys_officer_gets_no_thumbnail(evidence: list[Evidence],
                                                   people: Personas, tmp_path: Path) -> None:
    resp = client_for(people.county_b).get(reverse("evidence_thumb", args=[evidence[0].pk]))
    assert resp.status_code == 404
    assert not (tmp_path / "cache" / "thumbs").exists()


def test_the_case_page_shows_photos_as_thumbnails_for_the_lightbox(
        evidence: list[Evidence], people: Personas) -> None:
    page = client_for(people.county_a).get(
        reverse("case_detail", args=[evidence[0].case_id])).content.decode()
    assert page.count('data-lightbox="evidence"') == 2
    for ev in evidence[:2]:
        assert f'<img src="{reverse("evidence_thumb", args=[ev.pk])}"' in page
    assert reverse("evidence_thumb", args=[evidence[2].pk]) not in page
