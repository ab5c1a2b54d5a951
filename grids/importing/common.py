"""What the grid-tree and household imports share: the result they return, the error
list they fill, the importer's scope and the lock that serialises imports."""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.db import connection
from django.utils.translation import gettext_lazy as _

from gridcmd.i18n import Problem, bilingual
from gridcmd.tabular import CellError, Table
from grids.scoping import path_in_jurisdiction

# Rows written per INSERT/UPDATE statement, and codes per IN (...) lookup. Both stay well
# under SQLite's 32,766 bound parameters with every column of a row bound.
BATCH_SIZE = 1000
# A broken million-row file must not produce a million-line report: past this many errors
# the rest are counted, not listed (docs/adr/0005-spreadsheet-import.md).
MAX_REPORTED_ERRORS = 1000
THOUSANDS_RE = re.compile(r"^\d{1,3}(,\d{3})+$")


class AdvisoryLock(enum.IntEnum):
    """PostgreSQL advisory lock keys. Never renumber: a key is shared by every process that
    runs, old code or new, during a deploy."""

    GRID_TREE_IMPORT = 45_100_001
    HOUSEHOLD_IMPORT = 45_100_002
    PERSONNEL_IMPORT = 45_100_003


def take_lock(key: AdvisoryLock) -> None:
    """Serialise imports of one kind for the rest of the transaction, so two uploads of
    the same file cannot both see a code as new. SQLite already serialises writers
    (IMMEDIATE transactions), so only PostgreSQL needs the explicit lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(key)])


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    errors: list[CellError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "dry_run": self.dry_run,
            "errors": [
                {"row": e.row, "column": e.column, "message": e.message} for e in self.errors
            ],
        }


class Errors:
    """Errors of one import, in the file's own column names, capped for the report."""

    def __init__(self, table: Table | None = None):
        self.table = table
        self.items: list[CellError] = []
        self.count = 0

    def __bool__(self) -> bool:
        return self.count > 0

    def label(self, column: str) -> str:
        return self.table.column_label(column) if self.table is not None else column

    def add(self, row: int | None, column: str, message, /, **params) -> None:
        self.count += 1
        if len(self.items) < MAX_REPORTED_ERRORS:
            self.items.append(CellError(row, self.label(column), bilingual(message, **params)))

    def add_problem(self, row: int | None, problem: Problem) -> None:
        self.add(row, problem.field, problem.message, **problem.params)

    def append(self, error: CellError) -> None:
        """So that gridcmd.tabular.Table.rows() can report stray cells straight into this."""
        self.extend([error])

    def extend(self, errors: Iterable[CellError]) -> None:
        for error in errors:
            self.count += 1
            if len(self.items) < MAX_REPORTED_ERRORS:
                self.items.append(error)

    def report(self) -> list[CellError]:
        items = sorted(self.items, key=lambda e: (e.row is None, e.row or 0))
        hidden = self.count - len(items)
        if hidden:
            items.append(
                CellError(
                    None,
                    "file",
                    bilingual(
                        _(
                            "%(count)s further errors are not listed; correct the ones above and import again."
                        ),
                        count=hidden,
                    ),
                )
            )
        return items


class Scope:
    """Where the importer may write: a user's jurisdiction subtree, or everything for the
    operator at the shell (user None)."""

    def __init__(self, user=None):
        self.user = user

    @property
    def full(self) -> bool:
        return self.user is None or self.user.is_superuser

    def contains(self, path: str) -> bool:
        return self.user is None or path_in_jurisdiction(self.user, path)


def chunked(iterable: Iterable, size: int = BATCH_SIZE) -> Iterator[list]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def normalize_value(text: str) -> str:
    """Cell values compare like headers: full-width folded, case-folded, no spaces, and
    '-' and '_' alike ("Non-Border", "non_border")."""
    return unicodedata.normalize("NFKC", text).casefold().replace(" ", "").replace("-", "_")


def parse_count(text: str) -> int | None:
    """A non-negative whole number, or None when the text is not one."""
    if THOUSANDS_RE.match(text):  # "1,234" as office software exports it
        text = text.replace(",", "")
    if text.isascii() and text.isdigit():
        value = int(text)
        return value if value <= 2_147_483_647 else None
    return None
