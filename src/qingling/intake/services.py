"""List intake: one file in, one batch out, with its diff against the previous batch.

The import writes in short transactions (the batch, rows in chunks, then cases a slice of
subjects at a time) so that other users' saves interleave with a 100,000-row list on the
embedded SQLite. The batch stays "importing" until its last slice; if the process stops,
importing the same file again resumes where the last committed slice left off. A refused
file writes nothing; the same file twice is recognised by its digest and changes nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from qingling.audit.services import audit_bulk
from qingling.cases.classify import Classification, Classifier, Router, case_reclassify
from qingling.cases.identity import (
    SubjectFacts,
    current_cutoff,
    cutoff_of,
    evidence_seen,
    keys_record,
    match_cases,
)
from qingling.cases.models import OPEN_STATES, Behaviour, Case, IPAddress, ListType, State
from qingling.cases.warning import WarningList
from qingling.common.db import fast_insert, refresh_planner_statistics
from qingling.common.fields import seal_json
from qingling.common.weeks import IsoWeek
from qingling.geo.gazetteer import Gazetteer
from qingling.geo.models import Division
from qingling.intake.models import Appearance, ListBatch, ListRow
from qingling.intake.readers import ListFileError, read_table
from qingling.intake.validate import CheckedRow, RowError, check_rows
from qingling.org.models import SubjectType

T = TypeVar("T")
CHUNK = 900  # below SQLite's default limit on query parameters
ROW_CHUNK = 2000  # list rows per transaction
SLICE = 1000  # subjects per transaction: about half a second of writing


class Progress(Protocol):
    def __call__(self, stage: str, done: int | None = None, total: int | None = None) -> None:
        ...


def _quiet(stage: str, done: int | None = None, total: int | None = None) -> None:
    return None


class ListRejected(ValueError):
    """The file has invalid rows and --accept-valid was not given: nothing was written."""

    def __init__(self, file_name: str, errors: list[RowError], rows: int) -> None:
        self.file_name = file_name
        self.errors = errors
        self.rows = rows
        self.bad_rows = len({e.row for e in errors})
        super().__init__(self.summary())

    def summary(self) -> str:
        """The refusal in the active language ("2 of 3 rows are invalid…")."""
        return ngettext(
            "%(file)s: %(bad)s of %(rows)s row is invalid; nothing was imported",
            "%(file)s: %(bad)s of %(rows)s rows are invalid; nothing was imported",
            self.rows,
        ) % {"file": self.file_name, "bad": self.bad_rows, "rows": self.rows}

    def report(self, limit: int = 50) -> str:
        lines = [self.summary()]
        lines += [f"  {self.file_name}: {e}" for e in self.errors[:limit]]
        if len(self.errors) > limit:
            lines.append("  " + _("… and %(n)s more") % {"n": len(self.errors) - limit})
        lines.append(_("Fix the rows, or import the valid rows with --accept-valid."))
        return "\n".join(lines)


@dataclass
class ImportSummary:
    file: str
    list_type: str
    week: str
    batch_id: int | None = None
    duplicate_of: int | None = None
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    new: int = 0
    present: int = 0
    reappeared: int = 0
    absent: int = 0
    cases_created: int = 0
    cases_reopened: int = 0
    pending_dispatch: int = 0
    previous_batch: int | None = None
    rejected_rows: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.duplicate_of is None:
            d.pop("duplicate_of")
        return d


def _chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    buf: list[T] = []
    for item in items:
        buf.append(item)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def _context(row: CheckedRow, list_type: str) -> dict[str, str]:
    f = row.fields
    assert row.ip is not None
    return {
        "unit_name": f.get("unit_name", ""),
        "address": f.get("address", ""),
        "type": f.get("type", ""),
        "carrier": f.get("carrier", ""),
        "uscc": f.get("uscc", ""),
        "machines": f.get("machines", ""),
        "special": row.ip.special,
        "list_type": list_type,
    }


def import_list(
    *,
    data: bytes,
    file_name: str,
    list_type: str,
    week: IsoWeek,
    issuer: str = "",
    accept_valid: bool = False,
    actor: Any = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    remap: dict[str, str] | None = None,
) -> ImportSummary:
    if list_type not in ListType.values:
        raise ValueError(_("list type must be one of %(types)s")
                         % {"types": ", ".join(ListType.values)})
    now = now or timezone.now()
    say: Progress = progress or _quiet
    summary = ImportSummary(file=file_name, list_type=list_type, week=str(week))
    sha = hashlib.sha256(data).hexdigest()
    found = ListBatch.objects.filter(sha256=sha, list_type=list_type, week=str(week)).first()
    if found is not None and found.status != ListBatch.Status.IMPORTING:
        return _duplicate(summary, found)
    if len(data) > settings.QINGLING_LIST_MAX_BYTES:
        raise ListFileError(_("%(file)s: larger than the limit of %(limit)s bytes") % {
            "file": file_name, "limit": settings.QINGLING_LIST_MAX_BYTES})
    try:
        say(_("Reading the file"))
        table = read_table(data)
    except ListFileError as exc:
        raise ListFileError(_("%(file)s: %(error)s") % {"file": file_name, "error": exc}) from None
    if found is None:
        found = ListBatch.objects.filter(content_sha=table.digest, list_type=list_type,
                                         week=str(week)).first()
        if found is not None and found.status != ListBatch.Status.IMPORTING:
            return _duplicate(summary, found)
    resume = found  # an import of this list that stopped before its end
    if resume is not None:
        now = resume.imported_at
    say(_("Checking the rows"))
    gazetteer = Gazetteer.load(settings.QINGLING_CITY_CODE)
    checked = check_rows(table, gazetteer, now, remap)
    if not checked:
        raise ListFileError(_("%(file)s: the header is there but no data rows follow it")
                            % {"file": file_name})
    errors = [e for r in checked for e in r.errors]
    if errors and not accept_valid and resume is None:
        raise ListRejected(file_name, errors, len(checked))
    summary.rows = len(checked)
    summary.rejected = sum(1 for r in checked if not r.ok)
    summary.accepted = summary.rows - summary.rejected
    summary.rejected_rows = [e.as_dict() for e in errors]
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    if resume is None:
        try:
            with transaction.atomic():
                batch = _create_batch(summary, table, sha, len(data), list_type, week, issuer,
                                      user, now, remap or {})
        except IntegrityError:
            # Another import of the same file won the race on the unique digest.
            dup = ListBatch.objects.filter(Q(sha256=sha) | Q(content_sha=table.digest),
                                           list_type=list_type, week=str(week)).first()
            if dup is None:
                raise
            return _duplicate(summary, dup)
    else:
        batch = resume
        summary.batch_id = batch.pk
        summary.previous_batch = batch.previous_id
        if batch.imported_by_id is not None:
            user = batch.imported_by
    _write(summary, checked, batch, list_type, week, user, now, say)
    refresh_planner_statistics(
        "cases_case", "cases_ipaddress", "cases_case_ips", "intake_appearance", "intake_listrow"
    )
    return summary


def _duplicate(summary: ImportSummary, batch: ListBatch) -> ImportSummary:
    summary.duplicate_of = batch.pk
    summary.rows = batch.row_count
    return summary


@dataclass
class _Batch:
    """One import in the making: what every step of the write reads and adds to."""

    summary: ImportSummary
    batch: ListBatch
    list_type: str
    week: IsoWeek
    now: datetime
    actor_id: int | None
    due: datetime  # the cut-off of the list's week
    good: list[tuple[CheckedRow, int]] = field(default_factory=list)  # (row, ListRow id)
    audits: list[tuple[object, ...]] = field(default_factory=list)

    @property
    def flag(self) -> str:
        return LIST_FLAG[ListType(self.list_type)]

    @property
    def listed(self) -> dict[str, Any]:
        """The batch in an audit entry's data: the timeline names the list from it in the
        reader's language."""
        return {"batch": self.batch.pk, "list_type": self.list_type, "week": str(self.week)}

    @cached_property
    def label(self) -> str:
        return f"{self.batch.get_list_type_display()} {self.week}"

    def audit(self, action: str, case: Case, from_state: str, to_state: str,
              data: dict[str, Any]) -> None:
        self.audits.append((self.now, self.actor_id, action, "cases.case", str(case.pk), case.pk,
                            from_state, to_state, self.label, data))


@dataclass
class _Group:
    """The rows of one subject or site (they share a key), and the case they belong to."""

    rows: list[tuple[CheckedRow, int, Classification]]
    keys: list[str]
    match_keys: list[str]
    case: Case | None = None
    created: bool = False


LIST_FLAG = {
    ListType.KEY: "on_key_list",
    ListType.STOCK: "on_stock_list",
    ListType.FULL: "on_full_list",
    ListType.NEW: "on_new_list",
}
_KEY_ORDER = ("uscc:", "id:", "account:", "meter:", "name:", "addr:", "ip:")


def _by_strength(keys: Iterable[str]) -> list[str]:
    return sorted(set(keys), key=lambda k: (_KEY_ORDER.index(k.split(":", 1)[0] + ":"), k))


COUNTERS = ("new", "present", "reappeared", "cases_created", "cases_reopened",
            "pending_dispatch")


def _write(summary: ImportSummary, checked: list[CheckedRow], batch: ListBatch,
           list_type: str, week: IsoWeek, user: Any, now: datetime, say: Progress) -> None:
    """The import's writes, as named steps over one ``_Batch``, each step (or each slice of
    subjects) in its own short transaction; the batch's ``progress`` records how far the
    committed slices got, in the same transactions."""
    b = _store_rows(summary, checked, batch, list_type, week, user, now, say)
    prev_ips = _previous_ips(b)
    say(_("Linking IP addresses"))
    ips = _ip_objects(b.good, now)
    say(_("Classifying and matching cases"))
    groups = _group_rows(b)
    done = int(batch.progress.get("slices", 0))
    for k in COUNTERS:
        setattr(summary, k, int(batch.progress.get(k, 0)))
    counted: set[str] = set()
    slices = list(_chunks(groups, SLICE))
    for n, part in enumerate(slices):
        if n < done:  # committed before the import stopped: counted, not written again
            counted.update(m[0].ip.value for g in part for m in g.rows if m[0].ip)
            continue
        say(_("Writing cases"), n * SLICE, len(groups))
        with transaction.atomic():
            for g, case in zip(part, match_cases([g.match_keys for g in part]), strict=True):
                g.case = case
            _create_cases(b, part, ips)
            reopened = _update_existing(b, part)
            _link(b, part, ips)
            _record_appearances(b, part, ips, prev_ips, reopened, counted)
            audit_bulk(b.audits)
            b.audits = []
            batch.progress = {"slices": n + 1, **{k: getattr(summary, k) for k in COUNTERS}}
            batch.save(update_fields=["progress"])
        _let_others_write()
    say(_("Writing cases"), len(groups), len(groups))
    summary.absent = len(prev_ips - {r.ip.value for r, _o in b.good if r.ip is not None})
    with transaction.atomic():
        _finish(b)


def _previous_batch(list_type: str, week: IsoWeek) -> ListBatch | None:
    return (ListBatch.objects.filter(list_type=list_type, week__lte=str(week))
            .exclude(status=ListBatch.Status.IMPORTING)
            .order_by("-week", "-imported_at", "-id").first())


def _let_others_write() -> None:
    """Between two slices, leave the embedded database's one write lock free for a moment.

    SQLite's lock is not fair: a waiting writer polls every 100 ms at most, and an import
    that takes the lock again at once can keep a county officer's save waiting for seconds
    (13.7 s measured by bench/load.py). A pause longer than one poll lets every waiting save
    in: about 10 s on a 100,000-row list. PostgreSQL locks rows, not the database: no pause.
    """
    from django.db import connection

    pause = settings.QINGLING_IMPORT_YIELD_MS
    if pause > 0 and connection.vendor == "sqlite" and not connection.in_atomic_block:
        time.sleep(pause / 1000)


def _create_batch(summary: ImportSummary, table: Any, sha: str, size: int, list_type: str,
                  week: IsoWeek, issuer: str, user: Any, now: datetime,
                  remap: dict[str, str]) -> ListBatch:
    from qingling.intake.readers import canonical_field

    previous = _previous_batch(list_type, week)
    batch = ListBatch.objects.create(
        list_type=list_type, week=str(week), issuer=issuer, file_name=summary.file[:255],
        sha256=sha, content_sha=table.digest, size=size, file_format=table.file_format,
        encoding=table.encoding,
        header_row=table.header_row,
        columns={h: remap.get(h) or canonical_field(h) for h in table.headers if h},
        headers=[h for h in table.headers if h],
        status=ListBatch.Status.IMPORTING, previous=previous,
        row_count=summary.rows, rejected_count=summary.rejected, imported_by=user,
        imported_at=now)
    summary.batch_id = batch.pk
    summary.previous_batch = previous.pk if previous else None
    return batch


def _store_rows(summary: ImportSummary, checked: list[CheckedRow], batch: ListBatch,
                list_type: str, week: IsoWeek, user: Any, now: datetime,
                say: Progress) -> _Batch:
    """Every row as read, sealed, in chunks of ``ROW_CHUNK`` (a resumed import adds the
    chunks that were not committed)."""
    have = set(ListRow.objects.filter(batch=batch).values_list("row_number", flat=True))
    todo = [r for r in checked if r.row_number not in have]
    for n, part in enumerate(_chunks(todo, ROW_CHUNK)):
        say(_("Storing the rows"), len(have) + n * ROW_CHUNK, len(checked))
        # Sealing is the slow part: done before the transaction takes the write lock.
        values = [(batch.pk, r.row_number, r.ok, [e.stored() for e in r.errors],
                   r.ip_text[:100], seal_json(r.fields), seal_json(r.extra)) for r in part]
        with transaction.atomic():
            fast_insert(
                ListRow,
                ("batch_id", "row_number", "accepted", "reasons", "ip_text", "fields", "extra"),
                values,
            )
    row_ids = dict(ListRow.objects.filter(batch=batch).values_list("row_number", "id"))
    return _Batch(summary=summary, batch=batch, list_type=list_type, week=week, now=now,
                  actor_id=user.pk if user is not None else None,
                  due=cutoff_of(week),
                  good=[(r, row_ids[r.row_number]) for r in checked if r.ok])


def _previous_ips(b: _Batch) -> set[str]:
    """The IPs of the previous batch of the same list type: the diff is against it."""
    if b.batch.previous_id is None:
        return set()
    return set(Appearance.objects.filter(batch_id=b.batch.previous_id)
               .values_list("ip__value", flat=True))


def _facts(row: CheckedRow, cls: Classification, county_codes: dict[int, str]) -> SubjectFacts:
    f = row.fields
    assert row.ip is not None
    return SubjectFacts(uscc=f.get("uscc", ""), id_number=f.get("id_number", ""),
                        unit_name=f.get("unit_name", ""), address=f.get("address", ""),
                        county_code=county_codes.get(row.place.county_id, "") if row.place else "",
                        ip=row.ip.value, residential=cls.subject_type == SubjectType.RESIDENTIAL)


def _group_rows(b: _Batch) -> list[_Group]:
    """Classify each row, then put rows that share an identifying key into one group (a
    file naming a unit once by credit code and once by name gives one case)."""
    classifier = Classifier.load()
    warnings = WarningList.load()
    codes = dict(Division.objects.filter(level=Division.Level.COUNTY).values_list("id", "code"))
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    members: list[tuple[CheckedRow, int, Classification, list[str], list[str]]] = []
    for r, o in b.good:
        cls = classifier.classify(_context(r, b.list_type))
        assert r.ip is not None
        hit = warnings.hit(r.ip.value) if warnings.nets else None
        if hit is not None:
            # A known shared egress: the organisation behind it is not the suspect; the host
            # behind the exit is to be found (误报(共享出口) candidate).
            cls = replace(cls, behaviour=Behaviour.FALSE_POSITIVE,
                          matched=[*cls.matched, f"共享出口：{hit.name}（需主机级证据）"])
        facts = _facts(r, cls, codes)
        keys, match = facts.keys(), facts.match_keys()
        for k in match[1:]:
            parent[find(k)] = find(match[0])
        members.append((r, o, cls, keys, match))
    groups: dict[str, _Group] = {}
    for r, o, cls, keys, match in members:
        g = groups.setdefault(find(match[0]), _Group(rows=[], keys=[], match_keys=[]))
        g.rows.append((r, o, cls))
        g.keys += keys
        g.match_keys += match
    for g in groups.values():
        g.keys, g.match_keys = _by_strength(g.keys), _by_strength(g.match_keys)
    return list(groups.values())


def _create_cases(b: _Batch, groups: list[_Group], ips: dict[str, IPAddress]) -> None:
    loaded = Router.load()
    routes: dict[tuple[str, str], Any] = {}

    def route_of(subject_type: str, behaviour: str) -> Any:
        if (subject_type, behaviour) not in routes:
            routes[subject_type, behaviour] = loaded.route(subject_type, behaviour)
        return routes[subject_type, behaviour]

    new: list[_Group] = [g for g in groups if g.case is None]
    for g in new:
        r0, _row_id, cls = g.rows[0]
        place = next((m[0].place for m in g.rows if m[0].place is not None), None)
        route = route_of(cls.subject_type, cls.behaviour)
        f = r0.fields
        member_ips = _unique([ips[m[0].ip.value] for m in g.rows if m[0].ip])
        seen = [m[0].observed_at for m in g.rows if m[0].observed_at is not None]
        case = Case(
            subject_key=g.keys[0], subject_name=f.get("unit_name", "")[:200],
            uscc=f.get("uscc", "")[:18], id_number=f.get("id_number", "").upper()[:18],
            phone=f.get("phone", "")[:30], address=f.get("address", "")[:300],
            county_id=place.county_id if place else None,
            township_id=place.township_id if place else None,
            zone_id=place.zone_id if place else None, carrier=f.get("carrier", "")[:40],
            listed_type=f.get("type", "")[:100],
            coin=f.get("coin", "")[:40], pool=f.get("pool", "")[:200],
            subject_type=cls.subject_type, behaviour=cls.behaviour, grade=cls.grade,
            classification=cls.matched, lead_department_id=route.lead_id,
            state=State.DISPATCHED if place else State.PENDING,
            first_week=str(b.week), last_week=str(b.week),
            due_at=b.due if b.list_type == ListType.KEY else None,
            first_evidence_at=min(seen) if seen else None,
            ip_summary=_ip_summary([i.value for i in member_ips]),
            created_at=b.now, updated_at=b.now)
        setattr(case, b.flag, True)
        g.case, g.created = case, True
    Case.objects.bulk_create([g.case for g in new if g.case is not None], batch_size=1000)
    b.summary.cases_created += len(new)
    b.summary.pending_dispatch += sum(1 for g in new if g.case and g.case.state == State.PENDING)
    co_rows: list[tuple[int, int]] = []
    for g in new:
        assert g.case is not None
        cls = g.rows[0][2]
        co_rows += [(g.case.pk, d) for d in route_of(cls.subject_type, cls.behaviour).co_ids]
        b.audit("create", g.case, "", g.case.state, {**b.listed, "rules": cls.matched})
    fast_insert(Case.co_departments.through, ("case_id", "department_id"), co_rows)


def _update_existing(b: _Batch, groups: list[_Group]) -> set[int]:
    """Existing cases named again: a cleared one reopens as 反弹 (with the list's due date
    when it is a key list, else the current cut-off for a key-list item); an open key-list
    item keeps its first due date; list flags and the latest week move on; a case that
    joins the key list is classified again. Dropping off a list never closes anything."""
    existing = {g.case.pk: g.case for g in groups if g.case is not None and not g.created}
    reopened = {pk for pk, c in existing.items() if c.state == State.CLEARED}
    key_list = b.list_type == ListType.KEY
    # Set-based updates: the same values for many rows, one statement per chunk, instead of
    # a row-by-row bulk_update (20x slower on a 100,000-row weekly list).
    for pk in sorted(reopened):
        c = existing[pk]
        target = State.DISPATCHED if c.county_id else State.PENDING
        b.audit("rebound", c, c.state, target, b.listed)
    for ids in _chunks(sorted(reopened)):
        for has_county, target in ((False, State.PENDING), (True, State.DISPATCHED)):
            qs = Case.objects.filter(pk__in=ids, state=State.CLEARED, county__isnull=not has_county)
            if key_list:
                qs.update(state=target, rebound_count=F("rebound_count") + 1, cleared_at=None,
                          due_at=b.due, updated_at=b.now)
                continue
            for on_key, due in ((True, current_cutoff(b.now)), (False, None)):
                qs.filter(on_key_list=on_key).update(
                    state=target, rebound_count=F("rebound_count") + 1, cleared_at=None,
                    due_at=due, updated_at=b.now)
    joins_key = ({pk for pk, c in existing.items() if not c.on_key_list} if key_list else set())
    for ids in _chunks(sorted(existing)):
        if key_list:
            Case.objects.filter(pk__in=ids, due_at__isnull=True, state__in=OPEN_STATES).update(
                due_at=b.due, updated_at=b.now)
        Case.objects.filter(pk__in=ids, **{b.flag: False}).update(**{b.flag: True},
                                                                   updated_at=b.now)
        Case.objects.filter(pk__in=ids, last_week__lt=str(b.week)).update(
            last_week=str(b.week), updated_at=b.now)
    seen = {g.case.pk: min(m[0].observed_at for m in g.rows if m[0].observed_at)
            for g in groups if g.case is not None and not g.created
            and any(m[0].observed_at for m in g.rows)}
    for at in sorted(set(seen.values())):
        evidence_seen([pk for pk, t in seen.items() if t == at], at)
    if joins_key:
        classifier, router = Classifier.load(), Router.load()
        for case in Case.objects.filter(pk__in=sorted(joins_key)).select_related("county"):
            case_reclassify(case, cause=f"列入{b.label}", actor=None, now=b.now,
                            classifier=classifier, router=router, cause_data=b.listed)
    b.summary.cases_reopened += len(reopened)
    return reopened


def _link(b: _Batch, groups: list[_Group], ips: dict[str, IPAddress]) -> None:
    """Each case is linked to the IPs its rows name and known by the keys they carry."""
    through = Case.ips.through
    pairs = {(g.case.pk, ips[m[0].ip.value].pk) for g in groups if g.case is not None
             for m in g.rows if m[0].ip is not None}
    have: set[tuple[int, int]] = set()
    for chunk in _chunks(sorted(pairs)):
        have.update(through.objects.filter(case_id__in={c for c, _ in chunk},
                                           ipaddress_id__in={i for _, i in chunk})
                    .values_list("case_id", "ipaddress_id"))
    fast_insert(through, ("case_id", "ipaddress_id"), sorted(pairs - have))
    keys_record((g.case.pk, k) for g in groups if g.case is not None for k in g.keys)


def _record_appearances(b: _Batch, groups: list[_Group], ips: dict[str, IPAddress],
                        prev_ips: set[str], reopened: set[int], counted: set[str]) -> None:
    """Each row's appearance; an IP counts once in the diff (``counted`` spans slices)."""
    appearances: list[tuple[object, ...]] = []
    s = b.summary
    for g in groups:
        assert g.case is not None
        for r, o, _cls in g.rows:
            assert r.ip is not None
            value = r.ip.value
            if g.case.pk in reopened:
                change = Appearance.Change.REAPPEARED
            elif value in prev_ips:
                change = Appearance.Change.PRESENT
            else:
                change = Appearance.Change.NEW
            if value not in counted:
                counted.add(value)
                if change == Appearance.Change.REAPPEARED:
                    s.reappeared += 1
                elif change == Appearance.Change.PRESENT:
                    s.present += 1
                else:
                    s.new += 1
            appearances.append(
                (b.batch.pk, o, ips[value].pk, g.case.pk, str(change), r.observed_at))
    fast_insert(
        Appearance, ("batch_id", "row_id", "ip_id", "case_id", "change", "observed_at"),
        appearances,
    )


def _finish(b: _Batch) -> None:
    s = b.summary
    b.audits.append(
        (b.now, b.actor_id, "import", "intake.listbatch", str(b.batch.pk), None, "", "", s.file,
         {k: v for k, v in s.as_dict().items() if k != "rejected_rows"}))
    audit_bulk(b.audits)
    b.batch.diff = {"new": s.new, "present": s.present, "reappeared": s.reappeared,
                    "absent": s.absent, "cases_created": s.cases_created,
                    "cases_reopened": s.cases_reopened}
    b.batch.status = ListBatch.Status.PARTIAL if s.rejected else ListBatch.Status.COMPLETE
    b.batch.progress = {}
    b.batch.save(update_fields=["diff", "status", "progress"])


def _unique(items: list[IPAddress]) -> list[IPAddress]:
    seen: set[int] = set()
    out = []
    for i in items:
        if i.pk not in seen:
            seen.add(i.pk)
            out.append(i)
    return out


def _ip_summary(values: list[str]) -> str:
    if not values:
        return ""
    return values[0] if len(values) == 1 else f"{values[0]} +{len(values) - 1}"


def _ip_objects(good: list[tuple[CheckedRow, int]], now: datetime) -> dict[str, IPAddress]:
    parsed = {r.ip.value: r.ip for r, _ in good if r.ip is not None}
    found: dict[str, IPAddress] = {}
    for chunk in _chunks(parsed):
        found.update({i.value: i for i in IPAddress.objects.filter(value__in=chunk)})
        IPAddress.objects.filter(value__in=chunk).update(last_seen_at=now)
    missing = [v for v in parsed if v not in found]
    fast_insert(
        IPAddress,
        ("value", "version", "is_range", "special", "first_seen_at", "last_seen_at"),
        ((v, parsed[v].version, parsed[v].is_range, parsed[v].special, now, now) for v in missing),
    )
    for chunk in _chunks(missing):
        found.update({i.value: i for i in IPAddress.objects.filter(value__in=chunk)})
    return found


# --- the preview: what an import would do, written nowhere ---------------------------------

PREVIEW_ROWS = 200  # rows listed per category on the preview page


def preview_list(*, data: bytes, file_name: str, list_type: str, week: IsoWeek,
                 remap: dict[str, str] | None = None, now: datetime | None = None,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Read and check the file and work out, row by row, what importing it would do
    (新增 / 仍在 / 反弹 / 本次未列), with the column mapping and every rejected row with its
    original cells. Reads the database, writes nothing."""
    from qingling.intake.readers import FIELD_LABELS, canonical_field
    from qingling.org.scope import mask_name

    now = now or timezone.now()
    say: Progress = progress or _quiet
    remap = remap or {}
    out: dict[str, Any] = {"preview": True, "file": file_name, "list_type": list_type,
                           "week": str(week), "remap": remap, "warnings": []}
    sha = hashlib.sha256(data).hexdigest()
    say(_("Reading the file"))
    try:
        table = read_table(data)
    except ListFileError as exc:
        raise ListFileError(_("%(file)s: %(error)s") % {"file": file_name, "error": exc}) from None
    dup = ListBatch.objects.filter(Q(sha256=sha) | Q(content_sha=table.digest),
                                   list_type=list_type, week=str(week)).first()
    if dup is not None and dup.status != ListBatch.Status.IMPORTING:
        out["duplicate_of"] = dup.pk
    used = column_map_fields(table.headers, remap)
    out["columns"] = [
        {"index": i, "header": h, "field": used.get(i, ""),
         "label": str(FIELD_LABELS.get(used.get(i, ""), "")),
         "known": bool(h and canonical_field(h)), "remapped": h in remap}
        for i, h in enumerate(table.headers)]
    out["fields"] = [(k, str(v)) for k, v in FIELD_LABELS.items()]
    say(_("Checking the rows"))
    gazetteer = Gazetteer.load(settings.QINGLING_CITY_CODE)
    checked = check_rows(table, gazetteer, now, remap)
    if not checked:
        raise ListFileError(_("%(file)s: the header is there but no data rows follow it")
                            % {"file": file_name})
    out["rows"] = len(checked)
    bad = [r for r in checked if not r.ok]
    out["rejected"] = len(bad)
    out["accepted"] = len(checked) - len(bad)
    cells = dict(table.rows)
    out["errors"] = [
        {"row": r.row_number, "reasons": [f"{e.column}: {e.reason}" for e in r.errors],
         "cells": list(cells.get(r.row_number, []))}
        for r in bad[:PREVIEW_ROWS]]
    current = IsoWeek.of(now)
    if str(week) > str(current):
        out["warnings"].append(_("The week %(week)s is in the future (this is %(now)s).")
                               % {"week": week, "now": current})
    previous = _previous_batch(list_type, week)
    latest = (ListBatch.objects.filter(list_type=list_type)
              .exclude(status=ListBatch.Status.IMPORTING).order_by("-week").first())
    if latest is not None and str(week) < latest.week:
        out["warnings"].append(
            _("A later %(list)s list was imported already (%(later)s): this one is older.")
            % {"list": latest.get_list_type_display(), "later": latest.week})
    say(_("Classifying and matching cases"))
    prev_ips = (set(Appearance.objects.filter(batch=previous).values_list("ip__value",
                                                                         flat=True))
                if previous is not None else set())
    out["previous_batch"] = previous.pk if previous is not None else None
    good = [(r, 0) for r in checked if r.ok]
    fake = _Batch(summary=ImportSummary(file=file_name, list_type=list_type, week=str(week)),
                  batch=ListBatch(list_type=list_type, week=str(week)), list_type=list_type,
                  week=week, now=now, actor_id=None, due=cutoff_of(week), good=good)
    groups = _group_rows(fake)
    for part in _chunks(groups, SLICE):
        for g, case in zip(part, match_cases([g.match_keys for g in part]), strict=True):
            g.case = case
    diff: dict[str, list[dict[str, Any]]] = {"new": [], "present": [], "reappeared": [],
                                             "absent": []}
    counts = dict.fromkeys(diff, 0)
    counted: set[str] = set()
    for g in groups:
        rebound = g.case is not None and g.case.state == State.CLEARED
        for r, _o, _cls in g.rows:
            assert r.ip is not None
            value = r.ip.value
            change = "reappeared" if rebound else ("present" if value in prev_ips else "new")
            if value in counted:
                continue
            counted.add(value)
            counts[change] += 1
            if len(diff[change]) < PREVIEW_ROWS:
                diff[change].append({
                    "row": r.row_number, "ip": value,
                    "unit": mask_name(r.fields.get("unit_name", "")),
                    "case": g.case.pk if g.case is not None else None,
                    "case_ref": g.case.reference if g.case is not None else ""})
    absent = sorted(prev_ips - counted)
    counts["absent"] = len(absent)
    shown = absent[:PREVIEW_ROWS]
    case_of = dict(Appearance.objects.filter(batch=previous, ip__value__in=shown)
                   .values_list("ip__value", "case_id")) if previous is not None else {}
    diff["absent"] = [{"row": None, "ip": ip, "unit": "", "case": case_of.get(ip),
                       "case_ref": f"QL{case_of[ip]:07d}" if ip in case_of else ""}
                      for ip in shown]
    out["counts"] = counts
    out["sections"] = [{"key": k, "count": counts[k], "rows": diff[k]} for k in diff]
    out["new_cases"] = sum(1 for g in groups if g.case is None)
    return out


def column_map_fields(headers: list[str], remap: dict[str, str]) -> dict[int, str]:
    from qingling.intake.validate import column_map

    return column_map(headers, remap)
