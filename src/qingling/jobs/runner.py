"""Queue, claim and run background jobs.

- ``enqueue`` stores a job (and its input file, sealed) in one transaction;
- a worker (``qingling worker``, started by ``qingling serve``) claims the oldest queued job
  whose lane is free and runs it; commands run their own job in-process (``run_inline``)
  through the same claim, so a command-line import and a web import never overlap;
- a job reports its stage and progress through a ``Reporter``; a worker that died (no
  heartbeat for ``STALE``) has its job queued again, and handlers are written to resume.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from qingling.audit.services import audit_record
from qingling.common.crypto import open_bytes, seal_bytes
from qingling.common.env import write_private
from qingling.jobs import registry
from qingling.jobs.models import Job, Worker

log = logging.getLogger("qingling.jobs")

STALE = timedelta(minutes=2)  # a running job with no heartbeat this long lost its worker
BEAT_SECONDS = 15.0
MAX_ATTEMPTS = 3
_PG_CLAIM_LOCK = 7_440_001  # pg_advisory_xact_lock key: claims are serialised


class JobFailed(Exception):
    """A handler's expected failure: a message for the user and what to show with it."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.result = result or {}


def spool_dir() -> Path:
    return Path(settings.QINGLING_HOME) / "spool"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Reporter:
    """What a handler calls to say where it is. Writes go to the job row outside the
    handler's transactions (throttled), and optionally to a terminal."""

    def __init__(self, job: Job, echo: Callable[[str], None] | None = None,
                 every: float = 0.5) -> None:
        self.job = job
        self.echo = echo
        self.every = every
        self._last = 0.0
        self._printed = ""

    def __call__(self, stage: str, done: int | None = None, total: int | None = None) -> None:
        """A new stage (or progress within one, when ``done``/``total`` are given)."""
        changed = stage != self.job.stage
        self.job.stage = stage[:200]
        if total is not None:
            self.job.total = total
        if done is not None:
            self.job.done = done
        elif changed:
            self.job.done = 0
        self._write(force=changed)
        if self.echo is not None:
            line = stage if not self.job.total else f"{stage} {self.job.done:,}/{self.job.total:,}"
            if changed or self.job.done == self.job.total:
                if line != self._printed:
                    self.echo(line)
                    self._printed = line

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        if connection.in_atomic_block:
            return  # never lengthen (or join) the handler's own transaction
        self._last = now
        Job.objects.filter(pk=self.job.pk).update(
            stage=self.job.stage, done=self.job.done, total=self.job.total,
            heartbeat_at=timezone.now())


def enqueue(kind: str, *, title: str, params: dict[str, Any], data: bytes | None = None,
            user: Any = None, language: str | None = None, lane: str | None = None) -> Job:
    actor = user if user is not None and getattr(user, "is_authenticated", False) else None
    params = {**params, "language": language or translation.get_language() or "zh-hans"}
    with transaction.atomic():
        job = Job.objects.create(kind=kind, lane=lane or registry.lane(kind), title=title[:300],
                                 params=params, created_by=actor)
        if data is not None:
            name = f"job-{job.pk}-{secrets.token_hex(8)}.bin"
            write_private(spool_dir() / name, seal_bytes(data))
            job.spool = name
            job.save(update_fields=["spool"])
        audit_record(actor=actor, action="job_queue", obj=job, to_state=job.state,
                     comment=job.title, data={"kind": kind})
    return job


def _requeue_stale(now: datetime) -> None:
    for job in Job.objects.filter(state=Job.State.RUNNING, heartbeat_at__lt=now - STALE):
        if not job.spool and job.params.get("inline"):
            # A command's own job: its input was in that process; running the command again
            # resumes the work.
            Job.objects.filter(pk=job.pk).update(
                state=Job.State.FAILED, finished_at=now,
                error=_("The command stopped before the end; run it again to resume."))
        elif job.attempts >= MAX_ATTEMPTS:
            Job.objects.filter(pk=job.pk).update(
                state=Job.State.FAILED, finished_at=now,
                error=_("The job stopped %(n)s times without finishing.") % {"n": job.attempts})
            log.error("job %s failed: its worker stopped %s times", job.pk, job.attempts)
        else:
            Job.objects.filter(pk=job.pk).update(state=Job.State.QUEUED, worker="")
            log.warning("job %s lost its worker %s; queued again", job.pk, job.worker)


def claim(worker: str, *, job_id: int | None = None, now: datetime | None = None) -> Job | None:
    """The oldest queued job (or ``job_id``) whose lane has no running job, now running."""
    now = now or timezone.now()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_CLAIM_LOCK])
        _requeue_stale(now)
        busy = set(Job.objects.filter(state=Job.State.RUNNING).values_list("lane", flat=True))
        qs = Job.objects.filter(state=Job.State.QUEUED).exclude(lane__in=busy).order_by("id")
        if job_id is not None:
            qs = qs.filter(pk=job_id)
        job = qs.first()
        if job is None:
            return None
        Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
            state=Job.State.RUNNING, worker=worker, started_at=job.started_at or now,
            heartbeat_at=now, attempts=F("attempts") + 1)
    job.refresh_from_db()
    return job


class _Heartbeat(threading.Thread):
    def __init__(self, job_id: int) -> None:
        super().__init__(daemon=True, name=f"job-{job_id}-heartbeat")
        self.job_id = job_id
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(BEAT_SECONDS):
                try:
                    Job.objects.filter(pk=self.job_id, state=Job.State.RUNNING).update(
                        heartbeat_at=timezone.now())
                except Exception:  # a busy database: the next beat will do
                    log.debug("heartbeat of job %s skipped", self.job_id, exc_info=True)
        finally:
            connection.close()


def execute(job: Job, echo: Callable[[str], None] | None = None, *, data: bytes | None = None,
            reraise: bool = False, fn: registry.Handler | None = None) -> Job:
    """Run a claimed job to its end: done, or failed with a message. A command passes its
    input as ``data`` and, with ``reraise``, gets the handler's exception back after the job
    is recorded as failed."""
    beat = None
    if not connection.in_atomic_block:  # (tests run inside one: no second connection)
        beat = _Heartbeat(job.pk)
        beat.start()
    report = Reporter(job, echo)
    state, result, error = Job.State.DONE, {}, ""
    failure: BaseException | None = None
    try:
        with translation.override(job.params.get("language") or "zh-hans"):
            if data is None and job.spool:
                data = open_bytes((spool_dir() / job.spool).read_bytes())
            result = (fn or registry.handler(job.kind))(job, data, report) or {}
    except JobFailed as exc:
        state, result, error = Job.State.FAILED, exc.result, exc.message
        failure = exc
    except Exception as exc:
        if not reraise:
            log.exception("job %s (%s) failed", job.pk, job.kind)
        state, error = Job.State.FAILED, (str(exc) or type(exc).__name__)[:2000]
        failure = exc
    finally:
        if beat is not None:
            beat.stopped.set()
            beat.join(timeout=5)
    Job.objects.filter(pk=job.pk).update(
        state=state, result=result, error=error, finished_at=timezone.now(),
        heartbeat_at=timezone.now(), stage=job.stage, done=job.done, total=job.total)
    if job.spool and not (state == Job.State.DONE and job.params.get("keep_spool")):
        (spool_dir() / job.spool).unlink(missing_ok=True)
    job.refresh_from_db()
    if reraise and failure is not None:
        cause = failure.__cause__ if isinstance(failure, JobFailed) and failure.__cause__ \
            else failure
        raise cause
    return job


def run_inline(job: Job, echo: Callable[[str], None] | None = None, *,
               data: bytes | None = None, reraise: bool = False,
               fn: registry.Handler | None = None,
               wait: Callable[[float], object] = time.sleep) -> Job:
    """Run ``job`` in this process as soon as its lane is free (a command's own job, or a
    small upload the page imports while the officer waits)."""
    told = False
    while True:
        claimed = claim(worker_name(), job_id=job.pk)
        if claimed is not None:
            return execute(claimed, echo, data=data, reraise=reraise, fn=fn)
        job.refresh_from_db()
        if job.state != Job.State.QUEUED:
            return job  # a worker took it (or it was cancelled): report what became of it
        if echo is not None and not told:
            echo(_("waiting for another job of the same kind to finish …"))
            told = True
        wait(1.0)


def start(job: Job, data: bytes | None = None) -> Job:
    """Run ``job`` here and now if its lane is free (a small upload, while the user waits);
    otherwise leave it queued, with its input spooled, for the worker."""
    claimed = claim(worker_name(), job_id=job.pk)
    if claimed is not None:
        return execute(claimed, data=data)
    if data is not None and not job.spool:
        name = f"job-{job.pk}-{secrets.token_hex(8)}.bin"
        write_private(spool_dir() / name, seal_bytes(data))
        Job.objects.filter(pk=job.pk).update(spool=name)
        job.spool = name
    job.params = {**job.params, "inline": False}
    Job.objects.filter(pk=job.pk).update(params=job.params)
    return job


def hand_over_spool(source: Job, target: Job) -> None:
    """``target`` takes ``source``'s spooled input (a preview's file, for the import)."""
    with transaction.atomic():
        Job.objects.filter(pk=target.pk).update(spool=source.spool)
        Job.objects.filter(pk=source.pk).update(spool="")
    target.spool, source.spool = source.spool, ""


def spooled(job: Job) -> bytes | None:
    if not job.spool or not (spool_dir() / job.spool).is_file():
        return None
    return open_bytes((spool_dir() / job.spool).read_bytes())


def discard_spool(job: Job) -> None:
    if job.spool:
        (spool_dir() / job.spool).unlink(missing_ok=True)
        Job.objects.filter(pk=job.pk).update(spool="")
        job.spool = ""


def cancel(job: Job, user: Any) -> bool:
    """A queued job can be cancelled (a running one finishes or is resumed)."""
    with transaction.atomic():
        n = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
            state=Job.State.CANCELLED, finished_at=timezone.now())
        if n:
            audit_record(actor=user, action="job_cancel", obj=job, from_state=Job.State.QUEUED,
                         to_state=Job.State.CANCELLED, comment=job.title)
    if n and job.spool:
        (spool_dir() / job.spool).unlink(missing_ok=True)
    return bool(n)


def worker_loop(*, once: bool = False, poll: float = 1.0,
                stop: threading.Event | None = None,
                echo: Callable[[str], None] | None = None) -> int:
    """Claim and run jobs until ``stop`` is set (or, with ``once``, until none is queued).
    Returns the number of jobs run."""
    stop = stop or threading.Event()
    name = worker_name()
    ran = 0
    last_seen = 0.0
    try:
        while not stop.is_set():
            if not connection.in_atomic_block:
                close_old_connections()
            if time.monotonic() - last_seen > 10:
                Worker.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})
                last_seen = time.monotonic()
            job = claim(name)
            if job is None:
                if once:
                    break
                stop.wait(poll)
                continue
            if echo is not None:
                echo(f"job {job.pk} ({job.kind}): {job.title}")
            job = execute(job)
            ran += 1
            if echo is not None:
                echo(f"job {job.pk}: {job.state}{' — ' + job.error if job.error else ''}")
    finally:
        Worker.objects.filter(name=name).delete()
    return ran


def worker_alive(within: timedelta = timedelta(seconds=30)) -> bool:
    return Worker.objects.filter(seen_at__gte=timezone.now() - within).exists()
