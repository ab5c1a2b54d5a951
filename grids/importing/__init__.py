"""Spreadsheet imports of the grid tree and of households (services: they write).

Both validate a whole file before writing anything and return an ImportResult with
created/updated/unchanged counts and every error by row and column. See
docs/adr/0005-spreadsheet-import.md."""

from .common import BATCH_SIZE, MAX_REPORTED_ERRORS, ImportResult
from .grid_tree import GRID_COLUMNS, grid_tree_import
from .households import HOUSEHOLD_COLUMNS, household_import

__all__ = [
    "BATCH_SIZE",
    "MAX_REPORTED_ERRORS",
    "GRID_COLUMNS",
    "HOUSEHOLD_COLUMNS",
    "ImportResult",
    "grid_tree_import",
    "household_import",
]
