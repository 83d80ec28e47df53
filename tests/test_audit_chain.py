"""The audit log is append-only and tamper-evident: the application cannot change or delete
an entry, and `qingling audit verify` finds any entry changed, removed or reordered in the
database behind its back."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from qingling.audit.models import AppendOnly, AuditEntry
from qingling.cases.models import Case
from qingling.cases.services import case_transition
from qingling.cli import main
from qingling.intake.services import import_list
from tests.conftest import WEEK, Personas, at, csv_bytes, row

SEEN = "2026-11-15 10:00:00"


def some_history(p: Personas) -> list[AuditEntry]:
    import_list(data=csv_bytes([row("60.9.9.1", "甲公司", when=SEEN), row("60.9.9.2", "乙公司", when=SEEN)]),
                file_name="k.csv", list_type="key", week=WEEK, now=at("2026-11-16T09:00"))
    for c in Case.objects.all():
        case_transition(case_id=c.pk, action="sign", actor=p.county_a, comment="已签收",
                        now=at("2026-11-16T10:00"))
    entries = list(AuditEntry.objects.order_by("id"))
    assert len(entries) >= 4
    return entries


def verify() -> str:
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def raw(sql: str, *params: object) -> None:
    with connection.cursor() as cur:
        cur.execute(sql, params)


def test_an_untouched_log_verifies(people: Personas) -> None:
    entries = some_history(people)
    assert f"{len(entries)} entries" in verify()
    assert main(["audit", "verify"]) == 0


def test_a_changed_entry_fails_verification_naming_it(people: Personas) -> None:
    entries = some_history(people)
    victim = entries[2]
    raw("UPDATE audit_auditentry SET comment = %s WHERE id = %s", "改过", victim.pk)
    with pytest.raises(CommandError, match=f"entry {victim.pk}: its content was changed"):
        verify()
    assert main(["audit", "verify"]) == 1


def test_a_removed_entry_and_a_removed_tail_fail_verification(people: Personas) -> None:
    entries = some_history(people)
    raw("DELETE FROM audit_auditentry WHERE id = %s", entries[-1].pk)
    with pytest.raises(CommandError, match="latest entries were removed"):
        verify()
    raw("DELETE FROM audit_auditentry WHERE id = %s", entries[1].pk)
    with pytest.raises(CommandError, match=f"entry {entries[2].pk}: does not follow"):
        verify()


def test_a_data_change_fails_too(people: Personas) -> None:
    entries = some_history(people)
    raw("UPDATE audit_auditentry SET actor_id = NULL WHERE id = %s", entries[-1].pk)
    with pytest.raises(CommandError, match="content was changed"):
        verify()


def test_the_application_cannot_change_or_delete_an_entry(people: Personas) -> None:
    entry = some_history(people)[0]
    entry.comment = "改过"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(comment="改过")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()
    assert "entries" in verify()
