"""Roster import (人员名单导入) and its XLSX error report. See docs/adr/0008-roster-import-jobs.md."""

from .report import error_report_xlsx
from .roster import (
    ERRORS_HEADER,
    ROSTER_COLUMNS,
    RosterImportResult,
    estimate_rows,
    roster_import,
)

__all__ = [
    "ERRORS_HEADER",
    "ROSTER_COLUMNS",
    "RosterImportResult",
    "error_report_xlsx",
    "estimate_rows",
    "roster_import",
]
