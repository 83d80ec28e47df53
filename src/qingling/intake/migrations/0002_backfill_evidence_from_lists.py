"""A listed case's earliest evidence is the earliest 发现时间 any list gave for it."""

from django.db import migrations
from django.db.models import Min


def forward(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    Appearance = apps.get_model("intake", "Appearance")
    for a in (Appearance.objects.filter(observed_at__isnull=False).values("case_id")
              .annotate(at=Min("observed_at"))):
        Case.objects.filter(pk=a["case_id"], first_evidence_at__isnull=True).update(
            first_evidence_at=a["at"])
        Case.objects.filter(pk=a["case_id"], first_evidence_at__gt=a["at"]).update(
            first_evidence_at=a["at"])


class Migration(migrations.Migration):
    dependencies = [("intake", "0001_initial"), ("cases", "0006_backfill_keys_and_evidence")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
