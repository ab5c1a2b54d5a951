from grids.importing import household_import

from ._import_base import ImportCommand


class Command(ImportCommand):
    help = "Import or update households from a CSV/XLSX file (whole file validated first)."

    def handle(self, *args, file, user=None, dry_run=False, **options):
        importer = self.get_user(user)
        with self.open(file) as spreadsheet:
            result = household_import(
                file=spreadsheet, filename=file, user=importer, dry_run=dry_run
            )
        self.report(result)
