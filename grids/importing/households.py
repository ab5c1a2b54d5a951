"""Import of households (户) from a spreadsheet.

A county's file can hold a million rows, so nothing is kept per row but its code (to find
duplicates): the file is streamed in chunks of BATCH_SIZE rows, twice. The first pass
validates every row and counts what would change; only when it finds no error does the
second pass write, in the same transaction, with one lookup, one bulk_create and one
bulk_update per chunk. Rows that match what is stored are not written, so re-importing a
file changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridcmd.tabular import Column, TableError, open_table
from grids import rules
from grids.models import GridNode, Household
from grids.signals import tree_changed

from .common import (
    BATCH_SIZE,
    AdvisoryLock,
    Errors,
    ImportResult,
    Scope,
    chunked,
    parse_count,
    take_lock,
)

HOUSEHOLD_COLUMNS = (
    Column("code", ("户编码", "编码", "household_code")),
    Column("grid_code", ("网格编码", "grid")),
    Column("address", ("地址",)),
    Column("head_name", ("户主姓名", "户主", "head")),
    Column("phone", ("电话", "联系电话"), required=False),
    Column("size", ("人口", "户人数", "人数")),
)
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")  # mainland mobile numbers
# A landline: optional area code (0 + 2-3 digits), 7-8 digit number, optional extension.
LANDLINE_RE = re.compile(r"^(?:0\d{2,3}-?)?\d{7,8}(?:-\d{1,6})?$")
MAX_SIZE = 32767  # PositiveSmallIntegerField
UPDATE_FIELDS = ["grid", "group", "address", "head_name", "phone", "size", "updated_at"]


@dataclass(slots=True)
class HouseholdRow:
    row: int
    code: str
    grid_code: str
    address: str
    head_name: str
    phone: str
    size: int


@dataclass(slots=True)
class _Grid:
    pk: int
    facts: rules.NodeFacts


def household_import(*, file, filename: str = "", user=None, dry_run: bool = False) -> ImportResult:
    """Validate and (unless dry_run, and only when there is no error) apply a household
    file. `file` is a binary file; user None means full access."""
    result = ImportResult(dry_run=dry_run)
    try:
        table = open_table(file, columns=HOUSEHOLD_COLUMNS, filename=filename)
    except TableError as exc:
        result.errors = exc.errors
        return result
    with table:
        errors = Errors(table)
        scope = Scope(user)
        try:
            with transaction.atomic():
                take_lock(AdvisoryLock.HOUSEHOLD_IMPORT)
                grids: dict[str, _Grid | None] = {}
                counts = _run(table, scope, grids, errors, write=False)
                if errors:
                    result.errors = errors.report()
                    return result
                result.created, result.updated, result.unchanged = counts
                if not dry_run:
                    _run(table, scope, grids, errors, write=True)
                    if result.created or result.updated:
                        tree_changed.send(sender=Household, history=False)
        except TableError as exc:  # an undecodable byte deep in the file, found by the first pass
            errors.extend(exc.errors)
            result.errors = errors.report()
    return result


def _parse(raw, errors: Errors) -> HouseholdRow | None:
    bad = False

    def fail(column, message, **params):
        nonlocal bad
        bad = True
        errors.add(raw.number, column, message, **params)

    code, grid_code = raw.get("code"), raw.get("grid_code")
    address, head_name = raw.get("address"), raw.get("head_name")
    phone = re.sub(r"\s+", "", raw.get("phone"))
    if not code:
        fail("code", _("The code is empty."))
    elif len(code) > 32:
        fail("code", _("A code has at most 32 characters."))
    if not grid_code:
        fail("grid_code", _("The grid code is empty."))
    if not address:
        fail("address", _("The address is empty."))
    elif len(address) > 200:
        fail("address", _("An address has at most 200 characters."))
    if not head_name:
        fail("head_name", _("The head of household is empty."))
    elif len(head_name) > 50:
        fail("head_name", _("A name has at most 50 characters."))
    # The number itself is personal data: the message names the cell, not its content.
    if phone and not (MOBILE_RE.match(phone) or LANDLINE_RE.match(phone)):
        fail(
            "phone",
            _("A phone number is an 11-digit mobile number or a landline of digits and '-'."),
        )
    size = parse_count(raw.get("size"))
    if size is None or not 1 <= size <= MAX_SIZE:
        fail(
            "size",
            _("“%(value)s” is not a household size (a whole number from 1)."),
            value=raw.get("size"),
        )
    if bad:
        return None
    return HouseholdRow(raw.number, code, grid_code, address, head_name, phone, size)


def _load_grids(codes: set[str], grids: dict[str, _Grid | None], scope: Scope) -> None:
    missing = sorted(code for code in codes if code not in grids)
    for chunk in chunked(missing):
        for code in chunk:
            grids[code] = None
        nodes = GridNode.objects.filter(code__in=chunk).values_list(
            "pk", "code", "path", "level", "category", "kind"
        )
        for pk, code, path, level, category, kind in nodes:
            # A grid outside the jurisdiction is treated as if it did not exist.
            if scope.contains(path):
                grids[code] = _Grid(
                    pk, rules.NodeFacts(code=code, level=level, category=category, kind=kind)
                )


def _run(table, scope: Scope, grids: dict, errors: Errors, *, write: bool) -> tuple[int, int, int]:
    """One pass over the file: validate and count, or (write=True, on a file already
    validated) write. Returns (created, updated, unchanged)."""
    seen: set[str] | None = None if write else set()
    created = updated = unchanged = 0
    now = timezone.now()
    for chunk in chunked(table.rows(errors)):
        parsed = []
        for raw in chunk:
            item = _parse(raw, errors)
            if item is None:
                continue
            if seen is not None:
                if item.code in seen:
                    errors.add(
                        item.row,
                        "code",
                        _("The household code %(code)s is already used earlier in the file."),
                        code=item.code,
                    )
                    continue
                seen.add(item.code)
            parsed.append(item)
        _load_grids({item.grid_code for item in parsed}, grids, scope)
        valid = []
        for item in parsed:
            grid = grids[item.grid_code]
            if grid is None:
                errors.add(
                    item.row,
                    "grid_code",
                    _("There is no grid %(code)s in your jurisdiction."),
                    code=item.grid_code,
                )
                continue
            problems = rules.check_household_grid(grid.facts)
            for problem in problems:
                errors.add_problem(item.row, problem)
            if not problems:
                valid.append((item, grid.pk))
        existing = {
            row[1]: row
            for row in Household.objects.filter(
                code__in=[item.code for item, _pk in valid]
            ).values_list(
                "pk",
                "code",
                "grid_id",
                "grid__path",
                "address",
                "head_name",
                "phone",
                "size",
                "group_id",
            )
        }
        to_create, to_update = [], []
        for item, grid_id in valid:
            old = existing.get(item.code)
            if old is None:
                created += 1
                if write:
                    to_create.append(
                        Household(
                            code=item.code,
                            grid_id=grid_id,
                            address=item.address,
                            head_name=item.head_name,
                            phone=item.phone,
                            size=item.size,
                        )
                    )
                continue
            pk, _code, old_grid_id, old_path, address, head_name, phone, size, group_id = old
            if not scope.contains(old_path):
                errors.add(
                    item.row,
                    "code",
                    _("The household code %(code)s is already used outside your jurisdiction."),
                    code=item.code,
                )
                continue
            if (old_grid_id, address, head_name, phone, size) == (
                grid_id,
                item.address,
                item.head_name,
                item.phone,
                item.size,
            ):
                unchanged += 1
                continue
            updated += 1
            if write:
                to_update.append(
                    Household(
                        pk=pk,
                        code=item.code,
                        grid_id=grid_id,
                        # A ten-household group lies within one hamlet: moving house leaves it.
                        group_id=group_id if grid_id == old_grid_id else None,
                        address=item.address,
                        head_name=item.head_name,
                        phone=item.phone,
                        size=item.size,
                        updated_at=now,
                    )
                )
        if to_create:
            Household.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
        if to_update:
            Household.objects.bulk_update(to_update, UPDATE_FIELDS, batch_size=BATCH_SIZE)
    return created, updated, unchanged


__all__ = ["household_import", "HOUSEHOLD_COLUMNS"]
