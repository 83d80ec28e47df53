"""Every existing case is known by the keys its particulars give it, and its earliest
evidence is at least its first site visit that found mining."""

from django.db import migrations
from django.db.models import Min


def forward(apps, schema_editor):
    from qingling.cases.identity import SubjectFacts

    Case = apps.get_model("cases", "Case")
    CaseKey = apps.get_model("cases", "CaseKey")
    rows = []
    for c in Case.objects.select_related("county").iterator(chunk_size=2000):
        facts = SubjectFacts(uscc=c.uscc, id_number=c.id_number, unit_name=c.subject_name,
                             address=c.address, county_code=c.county.code if c.county else "",
                             residential=c.subject_type == "residential")
        keys = {c.subject_key, *(k for k in facts.keys() if not k.startswith("ip:"))}
        rows += [CaseKey(case_id=c.pk, key=k[:200]) for k in sorted(keys) if k]
        if len(rows) >= 5000:
            CaseKey.objects.bulk_create(rows, ignore_conflicts=True)
            rows = []
    CaseKey.objects.bulk_create(rows, ignore_conflicts=True)
    Visit = apps.get_model("cases", "SiteVisit")
    for v in Visit.objects.filter(found_mining=True).values("case_id").annotate(at=Min("visited_at")):
        Case.objects.filter(pk=v["case_id"], first_evidence_at__isnull=True).update(
            first_evidence_at=v["at"])


class Migration(migrations.Migration):
    dependencies = [("cases", "0005_case_first_evidence_at_case_listed_type_and_more")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
