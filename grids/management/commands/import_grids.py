from grids.importing import grid_tree_import

from ._import_base import ImportCommand


class Command(ImportCommand):
    help = "Import or update the grid tree from a CSV/XLSX file (whole file validated first)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--boundaries", help="GeoJSON FeatureCollection with a `code` property per feature"
        )

    def handle(self, *args, file, boundaries=None, user=None, dry_run=False, **options):
        importer = self.get_user(user)
        with self.open(file) as spreadsheet:
            if boundaries:
                with self.open(boundaries) as geojson:
                    result = grid_tree_import(
                        file=spreadsheet,
                        filename=file,
                        boundaries=geojson,
                        user=importer,
                        dry_run=dry_run,
                    )
            else:
                result = grid_tree_import(
                    file=spreadsheet, filename=file, user=importer, dry_run=dry_run
                )
        self.report(result)
