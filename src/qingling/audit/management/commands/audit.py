from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qingling.audit import chain
from qingling.audit.models import AuditEntry, AuditHead
from qingling.common.crypto import audit_key


class Command(BaseCommand):
    help = ("The audit log. `audit verify`: recompute the hash chain and report any entry "
            "changed, removed or reordered behind the application's back (exit status 1).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **opts: Any) -> None:
        head = AuditHead.objects.filter(pk=1).values_list("last_hash", flat=True).first()
        entries = AuditEntry.objects.order_by("id").iterator(chunk_size=5000)
        n, breaks = chain.verify(audit_key(), entries, head)
        if breaks:
            lines = [f"  entry {b.entry_id}: {b.reason}" if b.entry_id else f"  {b.reason}"
                     for b in breaks]
            raise CommandError(f"the audit log has been tampered with ({n} entries read):\n"
                               + "\n".join(lines))
        self.stdout.write(f"audit log intact: {n} entries, chain verified")
