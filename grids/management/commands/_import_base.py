"""What import_grids and import_households share: opening files, --user, --dry-run and
printing the result."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class ImportCommand(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or XLSX file")
        parser.add_argument(
            "--user",
            help="import as this user, limited to their jurisdiction (default: full access)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and count only; write nothing"
        )

    def open(self, name: str):
        path = Path(name)
        if not path.is_file():
            raise CommandError(f"No such file: {name}")
        return path.open("rb")

    def get_user(self, username: str | None):
        if not username:
            return None
        user = (
            get_user_model()
            .objects.select_related("jurisdiction")
            .filter(username=username)
            .first()
        )
        if user is None:
            raise CommandError(f"No such user: {username}")
        if not user.is_active or (not user.is_superuser and user.jurisdiction is None):
            raise CommandError(f"User {username} is inactive or has no jurisdiction.")
        return user

    def report(self, result) -> None:
        for error in result.errors:
            self.stderr.write(
                str(error) if error.row is not None else f"{error.column}: {error.message}"
            )
        summary = (
            f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}"
        )
        if result.errors:
            raise CommandError(f"{len(result.errors)} error(s); nothing was written.")
        if result.dry_run:
            self.stdout.write(f"Dry run, nothing written: would have {summary}.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Imported: {summary}."))
