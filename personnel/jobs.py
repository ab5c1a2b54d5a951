"""Roster import jobs: submit a file, run it (in the request when small, as a Celery task
when large), report progress, and keep one import at a time per jurisdiction.

The lock is the job table itself: a partial unique constraint allows one queued or running
job per kind and jurisdiction (`ImportJob.lock_key`), so it holds on SQLite and PostgreSQL
alike, survives a restart, and a second upload gets ImportBusy (HTTP 409). A job whose
worker died is considered stale after STALE_AFTER and no longer blocks
(docs/adr/0008-roster-import-jobs.md).

Progress while a job runs goes to the cache, not the job row: the import writes inside one
long transaction, and a progress UPDATE made there would not be visible until the end.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridcmd.i18n import bilingual
from personnel.importing import estimate_rows, roster_import
from personnel.models import ImportJob

logger = logging.getLogger(__name__)

# Files with more data rows than this run as a Celery task with a progress bar; smaller
# ones run in the request. Settings may override it (ROSTER_IMPORT_ASYNC_ROWS).
ASYNC_THRESHOLD_ROWS = 2000
# A queued or running job older than this is taken to have lost its worker: it is marked
# failed and stops blocking its jurisdiction. 100,000 rows take well under a minute.
STALE_AFTER = datetime.timedelta(hours=1)
PROGRESS_TTL = 24 * 60 * 60
FULL_ACCESS_KEY = "/"


class ImportBusy(Exception):
    """Another import is queued or running in the same jurisdiction."""

    def __init__(self, job: ImportJob | None):
        super().__init__("Another import is running in this jurisdiction.")
        self.job = job


def async_threshold() -> int:
    return getattr(settings, "ROSTER_IMPORT_ASYNC_ROWS", ASYNC_THRESHOLD_ROWS)


def _full_access(user) -> bool:
    return user is None or user.is_superuser


def lock_key_for(user) -> str:
    return FULL_ACCESS_KEY if _full_access(user) else user.jurisdiction.path


def _progress_key(job_id: int) -> str:
    return f"personnel:import-job:{job_id}:progress"


def report_progress(job_id: int, percent: int) -> None:
    cache.set(_progress_key(job_id), max(0, min(100, int(percent))), PROGRESS_TTL)


def import_job_progress(job: ImportJob) -> int:
    if job.status in ImportJob.ACTIVE:
        return cache.get(_progress_key(job.pk), job.progress)
    return job.progress


def import_job_create(*, user, file, filename: str = "", dry_run: bool = False) -> ImportJob:
    """Store the upload and queue a job for it; ImportBusy if the jurisdiction already
    has one queued or running. `user` None is the operator at the shell (full access)."""
    key = lock_key_for(user)
    now = timezone.now()
    ImportJob.objects.filter(
        kind=ImportJob.Kind.PERSONNEL,
        lock_key=key,
        status__in=ImportJob.ACTIVE,
        created_at__lt=now - STALE_AFTER,
    ).update(
        status=ImportJob.Status.FAILED,
        finished_at=now,
        errors=[
            {
                "row": None,
                "column": "file",
                "message": bilingual(
                    _("The import stopped without finishing; nothing was written.")
                ),
            }
        ],
    )
    filename = PurePath(filename or getattr(file, "name", "") or "roster").name
    job = ImportJob(
        kind=ImportJob.Kind.PERSONNEL,
        user=user,
        jurisdiction=None if _full_access(user) else user.jurisdiction,
        lock_key=key,
        dry_run=dry_run,
        filename=filename[:255],
    )
    # The stored name is random: the clerk's file name may say anything.
    suffix = PurePath(filename).suffix.lower()[:8]
    job.file.save(
        f"{uuid.uuid4().hex}{suffix}", file if isinstance(file, File) else File(file), save=False
    )
    try:
        with transaction.atomic():
            job.save()
    except IntegrityError:
        job.file.delete(save=False)
        raise ImportBusy(
            ImportJob.objects.filter(
                kind=ImportJob.Kind.PERSONNEL, lock_key=key, status__in=ImportJob.ACTIVE
            ).first()
        ) from None
    cache.delete(_progress_key(job.pk))  # ids can be reused (a test database, a restore)
    return job


def import_job_submit(*, user, file, filename: str = "", dry_run: bool = False) -> ImportJob:
    """Create a job and run it now when the file is small, else enqueue it once the job row
    is committed. Returns the job as it stands."""
    job = import_job_create(user=user, file=file, filename=filename, dry_run=dry_run)
    with job.file.open("rb") as stored:
        rows = estimate_rows(stored)
    if rows > async_threshold():
        from personnel.tasks import run_personnel_import

        transaction.on_commit(lambda: run_personnel_import.delay(job.pk))
    else:
        import_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def import_job_resubmit(*, user, job: ImportJob) -> ImportJob:
    """Import, for real, the file of a dry run the user has just seen."""
    with job.file.open("rb") as stored:
        return import_job_submit(
            user=user, file=File(stored, name=job.filename), filename=job.filename
        )


def import_job_run(*, job_id: int) -> None:
    """Run a queued job. Idempotent: a job that is not queued any more (a duplicate
    delivery, a retry after it finished) is left alone."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=now, progress=0
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("user__jurisdiction").get(pk=job_id)
    report_progress(job.pk, 0)
    try:
        with job.file.open("rb") as stored:
            result = roster_import(
                file=stored,
                filename=job.filename,
                user=job.user,
                dry_run=job.dry_run,
                progress=lambda percent: report_progress(job.pk, percent),
            )
    except Exception:
        # Nothing was written (the import is one transaction); the job must not stay
        # "running" and block the jurisdiction.
        logger.exception("Roster import job %s failed", job_id)
        _finish(
            job,
            ImportJob.Status.FAILED,
            errors=[
                {
                    "row": None,
                    "column": "file",
                    "message": bilingual(_("The import failed unexpectedly; nothing was written.")),
                }
            ],
        )
        return
    _finish(
        job,
        ImportJob.Status.SUCCEEDED if result.ok else ImportJob.Status.FAILED,
        result=result.as_dict(),
        errors=result.errors_as_list(),
    )


def _finish(job: ImportJob, status, *, result=None, errors=None) -> None:
    job.status = status
    job.progress = 100
    job.result = result or {}
    job.errors = errors or []
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "progress", "result", "errors", "finished_at"])
    report_progress(job.pk, 100)


def import_job_get(*, user, job_id: int) -> ImportJob:
    """A job the user may see (their jurisdiction's, like everything else), else 404."""
    job = ImportJob.objects.visible_to(user).filter(pk=job_id).select_related("user").first()
    if job is None:
        raise Http404
    return job
