"""The XLSX error report: the clerk's own rows, every cell as they wrote it, with a first
column "错误 / Errors" saying what is wrong with each. The importer accepts that column and
ignores it, so the clerk corrects the cells and uploads the report itself again."""

from __future__ import annotations

import io
from collections import defaultdict

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill

from gridcmd.tabular import TableError, normalize_header, open_table

from .roster import ERRORS_HEADER, ROSTER_COLUMNS

ERROR_FILL = PatternFill("solid", fgColor="FDE2E2")
BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
ERRORS_ALIASES = {normalize_header(a) for a in ("errors", *ROSTER_COLUMNS[-1].aliases)}


def error_report_xlsx(file, errors: list[dict], *, filename: str = "") -> bytes:
    """The report for `errors` ({row, column, message}, as a job stores them) on `file`."""
    by_row: dict[int, list[str]] = defaultdict(list)
    file_errors: list[str] = []
    for error in errors:
        text = f"{error['column']}: {error['message']}"
        (by_row[error["row"]] if error.get("row") else file_errors).append(text)

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("名单 Roster")
    try:
        table = open_table(file, columns=ROSTER_COLUMNS, filename=filename)
    except TableError as exc:
        table = None
        file_errors.extend(f"{e.column}: {e.message}" for e in exc.errors if e.row is None)
        for e in exc.errors:
            if e.row is not None:
                file_errors.append(f"{e.row} {e.column}: {e.message}")
    if table is not None:
        with table:
            header = table.header_cells()
            # A report uploaded again carries last time's errors column: replace it.
            dropped = {
                i for i, text in enumerate(header) if normalize_header(text) in ERRORS_ALIASES
            }
            keep = [i for i in range(len(header)) if i not in dropped]
            sheet.column_dimensions["A"].width = 60
            sheet.append(
                [_cell(sheet, ERRORS_HEADER, font=BOLD)]
                + [_cell(sheet, header[i], font=BOLD) for i in keep]
            )
            try:
                for number, cells in table.raw_rows():
                    width = max(len(cells), len(header))
                    cells = cells + [""] * (width - len(cells))
                    values = [cells[i] for i in keep] + cells[len(header) :]
                    messages = by_row.get(number)
                    if messages:
                        first = _cell(sheet, "\n".join(messages), fill=ERROR_FILL, alignment=WRAP)
                    else:
                        first = ""
                    sheet.append([first, *(_cell(sheet, v) for v in values)])
            except TableError as exc:
                file_errors.extend(f"{e.column}: {e.message}" for e in exc.errors)
    if file_errors:
        other = workbook.create_sheet("文件错误 File errors")
        other.append([_cell(other, ERRORS_HEADER, font=BOLD)])
        for text in file_errors:
            other.append([_cell(other, text)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _cell(sheet, value, **style):
    """A text cell. Forced to text so that a value starting with "=" is never a formula
    (spreadsheet formula injection) and a long number keeps every digit."""
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str) and value:
        cell.data_type = "s"
    for name, item in style.items():
        setattr(cell, name, item)
    return cell
