"""Writes to the makers register: one function per write, one transaction, audited."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any, BinaryIO

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from qingling.audit.services import audit_record
from qingling.cases.uploads import store_upload
from qingling.geo.models import Division
from qingling.makers.models import Maker, MakerEvidence, RectificationItem
from qingling.org.models import Profile, Role
from qingling.org.scope import profile_of

KEEPERS = ("eit",)  # 市经信局 keeps the register (section 四)


class MakerError(ValueError):
    """A refused write, with a message fit to show the user."""


def keeps_makers(profile: Profile | None) -> bool:
    return profile is not None and (
        profile.role == Role.CITY
        or (profile.role == Role.DEPARTMENT and profile.department is not None
            and profile.department.code in KEEPERS))


def visible_makers(user: Any) -> QuerySet[Maker]:
    """The city, leaders and the keepers see every maker (a county-bound one its county);
    a county officer its county's; other roles none."""
    profile = profile_of(user)
    qs = Maker.objects.select_related("county").prefetch_related("items")
    if profile is None:
        return qs.none()
    if profile.role in (Role.CITY,) or keeps_makers(profile) or profile.role == Role.LEADER:
        return qs.filter(county=profile.county) if profile.county_id else qs
    if profile.role == Role.COUNTY:
        return qs.filter(county=profile.county)
    return qs.none()


def _keeper(actor: Any) -> Profile:
    profile = profile_of(actor)
    if not keeps_makers(profile):
        raise MakerError(_("Only the economy and IT bureau and the city keep the makers "
                           "register."))
    assert profile is not None
    return profile


def maker_add(*, actor: Any, name: str, uscc: str, county_code: str, products: str = "",
              now: datetime | None = None) -> Maker:
    now = now or timezone.now()
    profile = _keeper(actor)
    name, uscc = name.strip(), uscc.strip().upper()
    if not name or len(uscc) != 18:
        raise MakerError(_("Enter the enterprise and its 18-character credit code."))
    county = Division.objects.filter(code=county_code, level=Division.Level.COUNTY).first()
    if county is None or (profile.county_id and county.pk != profile.county_id):
        raise MakerError(_("Choose a county in your area."))
    try:
        with transaction.atomic():
            maker = Maker.objects.create(name=name, uscc=uscc, county=county,
                                         products=products.strip()[:300], created_by=actor,
                                         created_at=now)
            audit_record(actor=actor, action="maker_add", obj=maker, at=now,
                         data={"uscc": uscc, "county": county.code})
    except IntegrityError:
        raise MakerError(_("A maker with credit code %(c)s is already registered.")
                         % {"c": uscc}) from None
    return maker


def _item(actor: Any, item_id: int) -> RectificationItem:
    _keeper(actor)
    item = (RectificationItem.objects.select_for_update(of=("self",))
            .filter(pk=item_id, maker__in=visible_makers(actor)).first())
    if item is None:
        raise MakerError(_("No such item in your area."))
    return item


def item_add(*, actor: Any, maker_id: int, description: str, due_on: date,
             now: datetime | None = None) -> RectificationItem:
    now = now or timezone.now()
    _keeper(actor)
    if not description.strip():
        raise MakerError(_("Describe the rectification item."))
    with transaction.atomic():
        maker = visible_makers(actor).filter(pk=maker_id).first()
        if maker is None:
            raise MakerError(_("No such maker in your area."))
        item = RectificationItem.objects.create(maker=maker, description=description.strip(),
                                                due_on=due_on, updated_at=now)
        audit_record(actor=actor, action="maker_item_add", obj=item, at=now,
                     to_state=item.state, data={"maker": maker.uscc, "due_on": due_on})
    return item


def item_done(*, actor: Any, item_id: int, outcome: str, upload: BinaryIO, upload_name: str,
              now: datetime | None = None) -> RectificationItem:
    """整改到位 with what was done and a document or photo of it."""
    now = now or timezone.now()
    if not outcome.strip():
        raise MakerError(_("Record what was done (the outcome)."))
    with transaction.atomic():
        item = _item(actor, item_id)
        if item.state != RectificationItem.State.OPEN:
            raise MakerError(_("The item is already rectified."))
        stored = store_upload(upload)
        MakerEvidence.objects.create(item=item, original_name=upload_name[:200] or "upload",
                                     content_type=stored.content_type, sha256=stored.sha256,
                                     size=stored.size, storage_path=stored.storage_path,
                                     uploaded_by=actor, uploaded_at=now)
        n = RectificationItem.objects.filter(pk=item.pk, state=RectificationItem.State.OPEN
                                             ).update(state=RectificationItem.State.DONE,
                                                      outcome=outcome.strip(), done_at=now,
                                                      updated_at=now)
        if n != 1:
            raise MakerError(_("The item was changed by someone else; reload and try again."))
        audit_record(actor=actor, action="maker_item_done", obj=item, at=now,
                     from_state="open", to_state="done", comment=outcome.strip(),
                     data={"sha256": stored.sha256})
        item.refresh_from_db()
    return item


def item_reopen(*, actor: Any, item_id: int, reason: str, due_on: date,
                now: datetime | None = None) -> RectificationItem:
    """The maker was found shipping mining machines again: its item is open once more,
    with a new deadline."""
    now = now or timezone.now()
    if not reason.strip():
        raise MakerError(_("Give the reason for reopening the item."))
    with transaction.atomic():
        item = _item(actor, item_id)
        n = RectificationItem.objects.filter(pk=item.pk, state=RectificationItem.State.DONE
                                             ).update(state=RectificationItem.State.OPEN,
                                                      due_on=due_on, done_at=None,
                                                      reopened=item.reopened + 1,
                                                      updated_at=now)
        if n != 1:
            raise MakerError(_("Only a rectified item can be reopened."))
        audit_record(actor=actor, action="maker_item_reopen", obj=item, at=now,
                     from_state="done", to_state="open", comment=reason.strip(),
                     data={"due_on": due_on})
        item.refresh_from_db()
    return item


def rectified_by_county() -> dict[str, dict[str, Any]]:
    """Per county code: makers, those 整改到位 (every item done) and the rate (target 100%)."""
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"makers": 0, "rectified": 0})
    for m in Maker.objects.select_related("county").prefetch_related("items"):
        row = per[m.county.code]
        row["makers"] += 1
        row["rectified"] += m.rectified()
    return {code: {**r, "rate": round(r["rectified"] / r["makers"], 4) if r["makers"] else None}
            for code, r in per.items()}
