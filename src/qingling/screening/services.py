"""Writes of the screening area: the carrier subscriber register (encrypted), and revealing
personal data to a user who may see it (audited)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from qingling.audit.services import audit_record
from qingling.common.crypto import encrypt
from qingling.geo.address import locate_many
from qingling.geo.gazetteer import Gazetteer
from qingling.intake.readers import ListFileError, norm_header, read_rows
from qingling.org.models import Role
from qingling.org.scope import profile_of
from qingling.screening.models import Subscriber

SUBSCRIBER_ALIASES = {
    "account": ("account", "username", "user-name", "账号", "宽带账号", "用户账号", "户号"),
    "name": ("name", "户名", "用户名称", "姓名", "客户名称", "单位名称"),
    "id_number": ("id", "idnumber", "证件号码", "身份证号", "统一社会信用代码", "证件号"),
    "phone": ("phone", "电话", "联系电话", "手机号"),
    "address": ("address", "装机地址", "安装地址", "地址"),
    "carrier": ("carrier", "运营商"),
    "kind": ("type", "kind", "用户类型", "客户类型", "用户性质", "业务类型"),
}
_INDEX = {norm_header(a): f for f, names in SUBSCRIBER_ALIASES.items() for a in names}


@dataclass
class SubscriberImport:
    file: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    triage: int = 0
    rejected: list[str] = field(default_factory=list)


def subscribers_import(*, data: bytes, file_name: str, carrier: str = "", actor: Any = None
                       ) -> SubscriberImport:
    """Upsert the register by (carrier, account); all or nothing. An address that names no
    place in the city is kept for manual triage, never guessed."""
    summary = SubscriberImport(file=file_name)
    rows = read_rows(data)[2]
    header_i = next((i for i, (_number, cells) in enumerate(rows[:30])
                     if "account" in {_INDEX.get(norm_header(c)) for c in cells}), None)
    if header_i is None:
        raise ListFileError(_("%(file)s: no header row with an account column (e.g. 账号, "
                              "User-Name, account)") % {"file": file_name})
    cols = {_INDEX[norm_header(c)]: i for i, c in enumerate(rows[header_i][1])
            if _INDEX.get(norm_header(c))}
    parsed = []
    for n, cells in rows[header_i + 1:]:
        summary.rows += 1
        get = {f: (cells[i].strip() if i < len(cells) else "") for f, i in cols.items()}
        if not get.get("account"):
            summary.rejected.append(_("row %(row)s: account is empty") % {"row": n})
            continue
        c = get.get("carrier") or carrier
        if not c:
            summary.rejected.append(_("row %(row)s: carrier is empty (give --carrier)")
                                    % {"row": n})
            continue
        parsed.append((c, get))
    if summary.rejected:
        return summary  # nothing written: the report names every row
    places = locate_many([get.get("address", "") for _carrier, get in parsed],
                         Gazetteer.load(settings.QINGLING_CITY_CODE))
    with transaction.atomic():
        for (c, get), place in zip(parsed, places, strict=True):
            address = get.get("address", "")
            conf = place.confidence
            values = {
                "name_enc": encrypt(get.get("name", "")), "id_enc": encrypt(get.get("id_number", "")),
                "phone_enc": encrypt(get.get("phone", "")), "address_enc": encrypt(address),
                "kind": get.get("kind", "")[:40],
                "county_id": place.county_id, "township_id": place.township_id,
                "address_confidence": conf, "needs_triage": place.needs_triage,
                "triage_reason": place.reason[:200],
            }
            _sub, made = Subscriber.objects.update_or_create(carrier=c, account=get["account"],
                                                          defaults=values)
            summary.added += made
            summary.updated += not made
            summary.triage += conf < 1.0
        audit_record(actor=actor, action="import_subscribers",
                     obj=Subscriber.objects.filter(carrier=parsed[0][0]).first() or Subscriber(),
                     data={"file": file_name, "sha256": hashlib.sha256(data).hexdigest(),
                           "added": summary.added, "updated": summary.updated})
    return summary


def may_reveal(user: Any, sub: Subscriber) -> bool:
    """Personal data in clear: the city, and the officers and verifiers of the subscriber's
    county. Leaders and departments see masks only."""
    p = profile_of(user)
    if p is None:
        return False
    if p.role == Role.CITY:
        return True
    return p.role in (Role.COUNTY, Role.VERIFIER) and p.county_id is not None \
        and p.county_id == sub.county_id


def may_view(user: Any, sub: Subscriber) -> bool:
    p = profile_of(user)
    if p is None:
        return False
    if p.role in (Role.CITY, Role.LEADER) and (p.role == Role.CITY or p.county_id is None):
        return True
    return p.county_id is not None and p.county_id == sub.county_id and p.role in (
        Role.COUNTY, Role.VERIFIER, Role.LEADER)


def reveal(user: Any, sub: Subscriber, reason: str) -> dict[str, str]:
    """The clear personal fields, with an audit entry naming who, which record and why."""
    if not may_reveal(user, sub):
        raise PermissionError(_("You may not see this subscriber's personal data."))
    if not reason.strip():
        raise ValueError(_("Give the reason for viewing personal data."))
    audit_record(actor=user, action="reveal_personal", obj=sub, comment=reason.strip(),
                 data={"fields": ["name", "id_number", "phone", "address"]})
    return {"name": sub.name, "id_number": sub.id_number, "phone": sub.phone,
            "address": sub.address}
