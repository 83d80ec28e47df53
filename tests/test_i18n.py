from __future__ import annotations

from pathlib import Path

from django.test import Client
from django.urls import reverse

from tests.conftest import Personas

LOCALE = Path(__file__).resolve().parents[1] / "src" / "qingling" / "locale"


def test_every_message_has_a_chinese_translation() -> None:
    po = (LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    entries = po.split("\n\n")[1:]
    untranslated = [e for e in entries if 'msgstr ""' in e and e.rstrip().endswith('msgstr ""')]
    assert untranslated == []
    assert "#, fuzzy" not in po.split("\n\n", 1)[1]


def test_the_ui_speaks_chinese_by_default_and_english_on_request(people: Personas) -> None:
    c = Client()
    c.force_login(people.city)
    page = c.get(reverse("dashboard")).content.decode()
    assert "重点名单按时清零率" in page and 'lang="zh-Hans"' in page
    english = c.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Key list cleared on time" in english
