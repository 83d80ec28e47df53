from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from qingling.audit import chain
from qingling.audit.models import AuditEntry, AuditHead
from qingling.common.crypto import audit_key
from qingling.common.db import fast_insert

COLUMNS = ("at", "actor_id", "action", "object_type", "object_id", "case_id", "from_state",
           "to_state", "comment", "data")


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    obj: Any,
    case: Any = None,
    from_state: str = "",
    to_state: str = "",
    comment: str = "",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    user: Any = actor if actor is not None and actor.is_authenticated else None
    entry = AuditEntry(
        at=at or timezone.now(),
        actor=user,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        case=case,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        data=data or {},
    )
    with transaction.atomic():
        head = _locked_head()
        entry.prev_hash = head.last_hash
        # JSON data as the database will give it back (keys as strings, no tuples).
        entry.data = json.loads(json.dumps(entry.data, default=str))
        entry.hash = chain.entry_hash(audit_key(), entry.prev_hash, entry)
        entry.save(force_insert=True)
        AuditHead.objects.filter(pk=1).update(last_hash=entry.hash, last_id=entry.pk)
    return entry


def _locked_head() -> AuditHead:
    """The chain's head row, locked until the transaction ends: entries are chained in the
    order they are written, whoever writes them at the same time."""
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        AuditHead.objects.get_or_create(pk=1, defaults={"last_hash": chain.GENESIS})
        head = AuditHead.objects.select_for_update().get(pk=1)
    return head


def audit_bulk(rows: list[tuple[Any, ...]]) -> int:
    """Many entries at once (a list import's), as tuples in ``COLUMNS`` order: chained like
    single entries and written in one fast insert."""
    if not rows:
        return 0
    key = audit_key()
    with transaction.atomic():
        head = _locked_head()
        prev, out = head.last_hash, []
        for r in rows:
            values = dict(zip(COLUMNS, r, strict=True))
            values["data"] = json.loads(json.dumps(values["data"] or {}, default=str))
            h = chain.entry_hash(key, prev, AuditEntry(**values))
            out.append((*(values[c] for c in COLUMNS), prev, h))
            prev = h
        n = fast_insert(AuditEntry, (*COLUMNS, "prev_hash", "hash"), out)
        last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        AuditHead.objects.filter(pk=1).update(last_hash=prev, last_id=last)
    return n
