"""Celery tasks of the personnel app. Each takes ids and calls one service."""

from celery import shared_task

from personnel.jobs import import_job_run


@shared_task(name="personnel.run_personnel_import", acks_late=True)
def run_personnel_import(job_id: int) -> None:
    """Run a queued roster import job. Idempotent: import_job_run only claims a job that is
    still queued, and the import itself writes all or nothing, so a duplicate delivery or a
    retry changes nothing."""
    import_job_run(job_id=job_id)
