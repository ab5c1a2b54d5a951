"""Reading spreadsheets that clerks upload: CSV in whatever encoding their office software
wrote (UTF-8, UTF-8 with BOM, GBK/GB18030) and XLSX.

The caller names its columns and the headers it accepts for each (English and Chinese);
this module maps the file's header row onto them, tolerating any column order, stray
spaces and blank lines, and hands back each row with its 1-based spreadsheet row number
(the header is row 1) so that every error can name its row and column. It streams: a
million-row file is read row by row, never held in memory whole, and can be read again
(`Table.rows()` starts from the top each time).

Encoding detection (docs/adr/0005-spreadsheet-import.md): a BOM decides; otherwise the
whole file is tried as strict UTF-8; otherwise GB18030 (a superset of GBK and GB2312).
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from gridcmd.i18n import bilingual

XLSX_MAGIC = b"PK\x03\x04"  # XLSX is a zip archive
XLS_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary Excel 97-2003 format (OLE2)
SNIFF_BYTES = 64 * 1024
DETECT_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Column:
    """A column the caller expects: its canonical name and the headers accepted for it."""

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class CellError:
    """One error in an uploaded file: 1-based row (None when it is not about one row), the
    column as the file names it, and a bilingual message."""

    row: int | None
    column: str
    message: str

    def __str__(self) -> str:
        if self.row is None:
            return f"{self.column}: {self.message}"
        return f"row {self.row}, column {self.column}: {self.message}"


class TableError(Exception):
    """The file cannot be read as a table at all (format, encoding or header)."""

    def __init__(self, errors: list[CellError]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    values: dict[str, str]  # canonical column name -> stripped cell text

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)


def normalize_header(text: str) -> str:
    """Headers compare after NFKC (full-width letters and spaces become ASCII), case
    folding and dropping spaces, '_' and '-': "Parent Code", "parent_code" and
    "ＰＡＲＥＮＴ＿ＣＯＤＥ " are the same header."""
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", text)).casefold()


def cell_text(value) -> str:
    """A cell as text: integral floats lose their ".0" (Excel stores 451024000000 and
    13812345678 as numbers), dates become ISO dates, everything is stripped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()  # str.strip() also drops the ideographic space U+3000


def _error(row, where, message, **params) -> CellError:
    return CellError(row, where, bilingual(message, **params))


def detect_encoding(file) -> str:
    """BOM, then strict UTF-8 over the whole file, then GB18030. Reads in chunks; leaves
    the file at its start."""
    file.seek(0)
    head = file.read(4)
    file.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        while chunk := file.read(DETECT_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        encoding = "utf-8"
    except UnicodeDecodeError:
        encoding = "gb18030"
    file.seek(0)
    return encoding


class Table:
    """An opened spreadsheet with its header mapped onto the caller's columns."""

    def __init__(self, file, *, columns: Sequence[Column], filename: str = ""):
        # Django's UploadedFile and tempfile wrappers proxy a real binary file; the csv and
        # zip readers want that file itself.
        while not isinstance(file, io.IOBase) and hasattr(file, "file"):
            file = file.file
        self._file = file
        self._columns = list(columns)
        self.filename = filename
        self.encoding: str | None = None
        self._workbook = None
        file.seek(0)
        head = file.read(SNIFF_BYTES)
        file.seek(0)
        if head.startswith(XLSX_MAGIC):
            self.format = "xlsx"
            self._open_xlsx()
        elif head.startswith(XLS_MAGIC):
            raise TableError(
                [
                    _error(
                        None,
                        "file",
                        _("Old .xls workbooks cannot be read: save the file as XLSX or CSV."),
                    )
                ]
            )
        elif b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise TableError(
                [_error(None, "file", _("The file is neither a CSV nor an XLSX spreadsheet."))]
            )
        else:
            self.format = "csv"
            self.encoding = detect_encoding(file)
        self.header_row, self.positions, self.headers = self._map_header()

    # -- raw rows -------------------------------------------------------------------------
    def _open_xlsx(self):
        from openpyxl import load_workbook

        try:
            self._workbook = load_workbook(self._file, read_only=True, data_only=True)
            sheet = self._workbook.worksheets[0]
        except Exception as exc:  # openpyxl raises zip, XML and key errors for foreign files
            raise TableError(
                [_error(None, "file", _("The file is neither a CSV nor an XLSX spreadsheet."))]
            ) from exc
        # Some writers store a wrong sheet dimension; without it openpyxl reads every row.
        sheet.reset_dimensions()
        self._sheet = sheet

    def _raw_rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number, cell texts) for every row, blank ones included."""
        if self.format == "xlsx":
            for number, cells in enumerate(self._sheet.iter_rows(values_only=True), start=1):
                yield number, [cell_text(c) for c in cells]
            return
        self._file.seek(0)
        text = io.TextIOWrapper(self._file, encoding=self.encoding, errors="strict", newline="")
        try:
            # One CSV record is one spreadsheet row, even when a quoted cell spans lines.
            for number, cells in enumerate(csv.reader(text), start=1):
                yield number, [c.strip() for c in cells]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise TableError(
                [_error(None, "file", _("The file is neither a CSV nor an XLSX spreadsheet."))]
            ) from exc
        finally:
            text.detach()  # leave the caller's file open

    # -- header ---------------------------------------------------------------------------
    def _map_header(self):
        rows = self._raw_rows()
        header_row, header = None, []
        for number, cells in rows:
            if any(cells):
                header_row, header = number, cells
                break
        rows.close()
        if header_row is None:
            raise TableError([_error(None, "file", _("The file has no header row."))])
        by_alias = {}
        for column in self._columns:
            for alias in (column.name, *column.aliases):
                by_alias[normalize_header(alias)] = column.name
        positions: dict[str, int] = {}
        headers: dict[str, str] = {}
        errors = []
        for index, raw in enumerate(header):
            if not raw:
                continue  # blank header cells (trailing columns of a sheet) carry nothing
            name = by_alias.get(normalize_header(raw))
            if name is None:
                errors.append(
                    _error(header_row, raw, _("Unknown column “%(header)s”."), header=raw)
                )
            elif name in positions:
                errors.append(
                    _error(header_row, raw, _("Column “%(header)s” appears twice."), header=raw)
                )
            else:
                positions[name] = index
                headers[name] = raw
        for column in self._columns:
            if column.required and column.name not in positions:
                errors.append(
                    _error(
                        header_row,
                        column.name,
                        _(
                            "The required column “%(name)s” is missing (accepted headers: %(aliases)s)."
                        ),
                        name=column.name,
                        aliases=", ".join((column.name, *column.aliases)),
                    )
                )
        if errors:
            raise TableError(errors)
        return header_row, positions, headers

    def column_label(self, name: str) -> str:
        """The column as the file names it, for error messages."""
        return self.headers.get(name, name)

    def has_column(self, name: str) -> bool:
        return name in self.positions

    # -- data rows --------------------------------------------------------------------------
    def rows(self, errors: list[CellError] | None = None) -> Iterator[Row]:
        """Each non-blank row after the header. A row with text in a column that has no
        header is reported into `errors` (when given) and skipped."""
        positions = self.positions
        width = max(positions.values()) + 1
        mapped = set(positions.values())
        for number, cells in self._raw_rows():
            if number <= self.header_row or not any(cells):
                continue
            stray = [i for i, c in enumerate(cells) if c and i not in mapped]
            if stray:
                if errors is not None:
                    errors.append(
                        _error(
                            number,
                            _column_letter(stray[0]),
                            _("This cell has no column header."),
                        )
                    )
                continue
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            yield Row(number, {name: cells[i] for name, i in positions.items()})

    def header_cells(self) -> list[str]:
        """The header row as the file writes it, every cell (for an error report that gives
        the clerk their own file back)."""
        rows = self._raw_rows()
        try:
            for number, cells in rows:
                if number == self.header_row:
                    return cells
            return []
        finally:
            rows.close()

    def raw_rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number, every cell text) of each non-blank row after the header, including
        the rows `rows()` skips for a stray cell, so a report can hand back every row."""
        for number, cells in self._raw_rows():
            if number > self.header_row and any(cells):
                yield number, cells

    def close(self):
        if self._workbook is not None:
            self._workbook.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def open_table(file, *, columns: Sequence[Column], filename: str = "") -> Table:
    """Open a binary, seekable file as a table; raises TableError with bilingual errors."""
    return Table(file, columns=columns, filename=filename)
