"""A screened case's earliest evidence is its earliest signal, and a case whose signal was
resolved to a carrier account is known by that account."""

from django.db import migrations
from django.db.models import Min


def forward(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    CaseKey = apps.get_model("cases", "CaseKey")
    Signal = apps.get_model("screening", "Signal")
    for s in Signal.objects.values("case_id").annotate(at=Min("observed_at")):
        Case.objects.filter(pk=s["case_id"], first_evidence_at__isnull=True).update(
            first_evidence_at=s["at"])
        Case.objects.filter(pk=s["case_id"], first_evidence_at__gt=s["at"]).update(
            first_evidence_at=s["at"])
    keys = []
    for case_id, payload in Signal.objects.values_list("case_id", "payload").iterator():
        account = ((payload or {}).get("resolution") or {}).get("account")
        if account:
            keys.append(CaseKey(case_id=case_id, key=f"account:{account}"[:200]))
    CaseKey.objects.bulk_create(keys, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("screening", "0004_alter_screeningrun_kind_alter_signal_kind"),
                    ("cases", "0006_backfill_keys_and_evidence")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
