from django.core.files import File
from django.core.management.base import CommandError

from grids.management.commands._import_base import ImportCommand
from personnel.jobs import ImportBusy, import_job_create, import_job_run
from personnel.models import ImportJob


class Command(ImportCommand):
    help = (
        "Import a personnel roster from a CSV/XLSX file (whole file validated first, all or "
        "nothing). Runs here, not on a worker, but holds the same per-jurisdiction lock."
    )

    def handle(self, *args, file, user=None, dry_run=False, **options):
        importer = self.get_user(user)
        with self.open(file) as spreadsheet:
            try:
                job = import_job_create(
                    user=importer, file=File(spreadsheet), filename=file, dry_run=dry_run
                )
            except ImportBusy as busy:
                raise CommandError(
                    f"Another roster import (job {busy.job.pk if busy.job else '?'}) is running in this jurisdiction."
                ) from None
        import_job_run(job_id=job.pk)
        job.refresh_from_db()
        for error in job.errors:
            where = (
                f"row {error['row']}, column {error['column']}" if error["row"] else error["column"]
            )
            self.stderr.write(f"{where}: {error['message']}")
        r = job.result
        if r:
            summary = (
                f"{r['rows']} rows, {r['rejected']} rejected; people: {_counts(r['people'])}; "
                f"assignments: {_counts(r['assignments'])}; new organisations: "
                f"{', '.join(r['organisations_created']) or 'none'}"
            )
            self.stdout.write(summary)
        if job.status != ImportJob.Status.SUCCEEDED:
            raise CommandError(f"{len(job.errors)} error(s); nothing was written (job {job.pk}).")
        if dry_run:
            self.stdout.write("Dry run, nothing written.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Imported (job {job.pk})."))


def _counts(c: dict) -> str:
    return f"{c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged"
