"""Import of the grid tree from a spreadsheet (and boundaries from a GeoJSON file).

The whole file is parsed into plain rows and validated against the tree as it would be
after the import — stored nodes and the file's rows together, in any order — with the
same rules the services use (grids.rules). Only a file without a single error is
written, in one transaction: new nodes with bulk_create, level by level so every parent
exists first; moves as one path rewrite per moved subtree; changed nodes with
bulk_update. Rows that match what is stored are not written, so re-importing a file
changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridcmd.tabular import Column, TableError, open_table
from grids import rules
from grids.models import Category, GridNode, Household, Kind, Level
from grids.services import node_path
from grids.signals import tree_changed

from .common import (
    BATCH_SIZE,
    AdvisoryLock,
    Errors,
    ImportResult,
    Scope,
    chunked,
    normalize_value,
    parse_count,
    take_lock,
)

GRID_COLUMNS = (
    Column("code", ("编码", "网格编码", "grid_code")),
    Column("parent_code", ("上级编码", "上级网格编码", "parent")),
    Column("level", ("层级", "级别")),
    Column("name", ("名称", "网格名称")),
    # Optional: a missing column or blank cell keeps what is stored (defaults for new grids).
    Column("category", ("类别",), required=False),
    Column("kind", ("类型",), required=False),
    Column("households", ("户数", "expected_households"), required=False),
    Column("population", ("人口", "expected_population"), required=False),
)

LEVEL_VALUES = {
    **{str(level.value): level.value for level in Level},
    **{level.name.lower(): level.value for level in Level},
    "市": Level.CITY,
    "县": Level.COUNTY,
    "区": Level.COUNTY,  # county-level districts such as 右江区
    "乡": Level.TOWNSHIP,
    "镇": Level.TOWNSHIP,
    "街道": Level.TOWNSHIP,
    "村": Level.VILLAGE,
    "社区": Level.VILLAGE,
    "屯": Level.HAMLET,
}
CATEGORY_VALUES = {
    "border": Category.BORDER,
    "边境": Category.BORDER,
    "non_border": Category.NON_BORDER,
    "nonborder": Category.NON_BORDER,
    "非边境": Category.NON_BORDER,
    "unit": Category.UNIT,
    "单位": Category.UNIT,
}
KIND_VALUES = {
    "cell": Kind.CELL,
    "单元": Kind.CELL,
    "单元网格": Kind.CELL,
    "dedicated": Kind.DEDICATED,
    "专属": Kind.DEDICATED,
    "专属网格": Kind.DEDICATED,
}
UPDATE_FIELDS = [
    "name",
    "level",
    "parent",
    "category",
    "kind",
    "expected_households",
    "expected_population",
    "boundary",
    "point_lng",
    "point_lat",
    "path",
    "depth",
    "updated_at",
]


@dataclass(slots=True)
class GridRow:
    """One parsed spreadsheet row. None in an optional field means "keep what is stored"."""

    row: int
    code: str
    parent_code: str | None
    level: int
    name: str
    category: str | None
    kind: str | None
    households: int | None
    population: int | None


@dataclass(slots=True)
class Feature:
    number: int  # 1-based position in the FeatureCollection
    code: str
    geometry: dict | None
    point: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class _PathOnly:
    """What grids.services.node_path reads from a parent: its path."""

    path: str


class _Unresolved:
    """Marks a row whose path cannot be known (unknown parent, cycle, or hanging below one)."""


UNRESOLVED = _Unresolved()


def grid_tree_import(
    *, file, filename: str = "", boundaries=None, user=None, dry_run: bool = False
) -> ImportResult:
    """Validate and (unless dry_run, and only when there is no error) apply a grid tree
    file. `file` and `boundaries` are binary files; user None means full access."""
    result = ImportResult(dry_run=dry_run)
    try:
        table = open_table(file, columns=GRID_COLUMNS, filename=filename)
    except TableError as exc:
        result.errors = exc.errors
        return result
    with table:
        errors = Errors(table)
        try:
            rows = _parse_rows(table, errors)
        except TableError as exc:  # an undecodable byte deep in the file
            errors.extend(exc.errors)
            result.errors = errors.report()
            return result
        features = _parse_boundaries(boundaries, errors) if boundaries is not None else []
        with transaction.atomic():
            take_lock(AdvisoryLock.GRID_TREE_IMPORT)
            plan = _Plan(rows, features, Scope(user), errors)
            plan.validate()
            if errors:
                result.errors = errors.report()
                return result
            result.created, result.updated, result.unchanged = plan.counts()
            if not dry_run:
                plan.write()
                if result.created or result.updated:
                    # An import may re-parent existing grids: earlier days change too.
                    tree_changed.send(sender=GridNode, history=bool(result.updated))
    return result


# -- parsing ---------------------------------------------------------------------------


def _parse_rows(table, errors: Errors) -> list[GridRow]:
    rows = []
    for raw in table.rows(errors):
        row = _parse_row(raw, errors)
        if row is not None:
            rows.append(row)
    return rows


def _parse_row(raw, errors: Errors) -> GridRow | None:
    bad = False

    def fail(column, message, **params):
        nonlocal bad
        bad = True
        errors.add(raw.number, column, message, **params)

    code = raw.get("code")
    if not code:
        fail("code", _("The code is empty."))
    elif len(code) > 32:
        fail("code", _("A code has at most 32 characters."))
    name = raw.get("name")
    if not name:
        fail("name", _("The name is empty."))
    elif len(name) > 100:
        fail("name", _("A name has at most 100 characters."))
    level = LEVEL_VALUES.get(normalize_value(raw.get("level")))
    if level is None:
        fail(
            "level",
            _(
                "“%(value)s” is not a level (city/county/township/village/hamlet or 市/县/乡/村/屯)."
            ),
            value=raw.get("level"),
        )
    category = kind = households = population = None
    if text := raw.get("category"):
        category = CATEGORY_VALUES.get(normalize_value(text))
        if category is None:
            fail(
                "category",
                _("“%(value)s” is not a category (border/non_border/unit or 边境/非边境/单位)."),
                value=text,
            )
    if text := raw.get("kind"):
        kind = KIND_VALUES.get(normalize_value(text))
        if kind is None:
            fail(
                "kind",
                _("“%(value)s” is not a kind (cell/dedicated or 单元/专属)."),
                value=text,
            )
    if text := raw.get("households"):
        households = parse_count(text)
        if households is None:
            fail(
                "households",
                _("“%(value)s” is not a whole number of zero or more."),
                value=text,
            )
    if text := raw.get("population"):
        population = parse_count(text)
        if population is None:
            fail(
                "population",
                _("“%(value)s” is not a whole number of zero or more."),
                value=text,
            )
    parent_code = raw.get("parent_code") or None
    if not bad:
        return GridRow(
            raw.number, code, parent_code, int(level), name, category, kind, households, population
        )
    if code and len(code) <= 32:
        # Keep the code known (level 0 marks the row broken), so that rows under it are not
        # also told their parent is unknown.
        return GridRow(raw.number, code, parent_code, 0, name, None, None, None, None)
    return None


def _parse_boundaries(file, errors: Errors) -> list[Feature]:
    def fail(message, **params):
        errors.add(None, "boundaries", message, **params)

    try:
        file.seek(0)
        data = json.loads(file.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        fail(_("The boundaries file is not GeoJSON (UTF-8 JSON)."))
        return []
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(data.get("features"), list)
    ):
        fail(_("The boundaries file must be a GeoJSON FeatureCollection."))
        return []
    features = []
    seen = set()
    for number, item in enumerate(data["features"], start=1):
        properties = item.get("properties") if isinstance(item, dict) else None
        code = properties.get("code") if isinstance(properties, dict) else None
        if isinstance(code, int):
            code = str(code)
        if not isinstance(code, str) or not code.strip():
            fail(_("Feature %(number)s has no “code” property."), number=number)
            continue
        code = code.strip()
        if code in seen:
            fail(
                _("Feature %(number)s: the code %(code)s has a boundary earlier in the file."),
                number=number,
                code=code,
            )
            continue
        seen.add(code)
        geometry = item.get("geometry")
        problems, point = rules.check_geometry(geometry)
        for problem in problems:
            fail(
                _("Feature %(number)s (%(code)s): %(problem)s"),
                number=number,
                code=code,
                problem=problem.message,  # lazy: rendered in each language of the message
            )
        if not problems:
            features.append(Feature(number, code, geometry, point))
    return features


# -- validation and writing --------------------------------------------------------------


class _Plan:
    """The tree after the import: the file's rows laid over the stored nodes."""

    def __init__(self, rows: list[GridRow], features: list[Feature], scope: Scope, errors: Errors):
        self.scope = scope
        self.errors = errors
        self.rows: dict[str, GridRow] = {}
        for row in rows:
            first = self.rows.get(row.code)
            if first is not None:
                errors.add(
                    row.row,
                    "code",
                    _("The code %(code)s is already on row %(row)s."),
                    code=row.code,
                    row=first.row,
                )
            else:
                self.rows[row.code] = row
        self.features = {f.code: f for f in features}
        self.stored = self._load_stored()
        self.paths: dict[str, str | _Unresolved] = {}
        self.broken: set[str] = {code for code, row in self.rows.items() if row.level == 0}

    def _load_stored(self) -> dict[str, GridNode]:
        codes = (
            set(self.rows)
            | {r.parent_code for r in self.rows.values() if r.parent_code}
            | set(self.features)
        )
        stored = {}
        for chunk in chunked(sorted(codes)):
            for node in GridNode.objects.filter(code__in=chunk).order_by():
                stored[node.code] = node
        return stored

    # The facts (level, category, kind) each code will have after the import.
    def facts(self, code: str) -> rules.NodeFacts | None:
        row = self.rows.get(code)
        if row is not None:
            stored = self.stored.get(code)
            category = row.category or (stored.category if stored else Category.NON_BORDER)
            kind = row.kind or (stored.kind if stored else Kind.CELL)
            return rules.NodeFacts(code=code, level=row.level, category=category, kind=kind)
        node = self.stored.get(code)
        if node is None:
            return None
        return rules.NodeFacts(code=code, level=node.level, category=node.category, kind=node.kind)

    def validate(self) -> None:
        errors = self.errors
        self._resolve_paths()
        for code, row in self.rows.items():
            stored = self.stored.get(code)
            if stored is not None and not self.scope.contains(stored.path):
                errors.add(
                    row.row,
                    "code",
                    _("The code %(code)s is already used by a grid outside your jurisdiction."),
                    code=code,
                )
                continue
            path = self.paths[code]
            if path is UNRESOLVED or code in self.broken:
                continue  # already reported: unknown parent, cycle or a bad value
            if not self.scope.contains(path):
                if row.parent_code is None:
                    errors.add(
                        row.row,
                        "parent_code",
                        _("A grid without a parent lies outside your jurisdiction."),
                    )
                else:
                    errors.add(row.row, "parent_code", self._unknown_parent, code=row.parent_code)
                continue
            if row.parent_code in self.broken:
                continue
            node, parent = (
                self.facts(code),
                self.facts(row.parent_code) if row.parent_code else None,
            )
            for problem in rules.check_code(node, parent) + rules.check_placement(node, parent):
                errors.add_problem(row.row, problem)
        for feature in self.features.values():
            if feature.code in self.rows:
                continue
            node = self.stored.get(feature.code)
            if node is None or not self.scope.contains(node.path):
                errors.add(
                    None,
                    "boundaries",
                    _(
                        "Feature %(number)s: there is no grid %(code)s in the file or in your jurisdiction."
                    ),
                    number=feature.number,
                    code=feature.code,
                )
        if not errors:
            self._check_stored_dependants()

    _unknown_parent = _(
        "The parent grid %(code)s is neither in this file nor in your jurisdiction."
    )

    def _resolve_paths(self) -> None:
        """Every row's path after the import, following parent links through the file and
        through stored nodes; reports unknown parents and cycles."""
        # Each row's path hangs on at most one other row: its parent if that is in the file,
        # else the nearest file row among its stored parent's ancestors (a stored node whose
        # ancestor is re-parented moves with it).
        anchor: dict[
            str, tuple[str | None, str | None, list[str]]
        ] = {}  # code -> (row, stored base, codes below)
        for code, row in self.rows.items():
            parent = row.parent_code
            if parent is None:
                anchor[code] = (None, None, [code])
            elif parent in self.rows:
                anchor[code] = (parent, None, [code])
            elif parent in self.stored:
                stored_path = self.stored[parent].path
                segments = stored_path.strip("/").split("/")
                for i in range(len(segments) - 1, -1, -1):
                    if segments[i] in self.rows:
                        anchor[code] = (segments[i], None, [*segments[i + 1 :], code])
                        break
                else:
                    anchor[code] = (None, stored_path, [code])
            else:
                self.errors.add(row.row, "parent_code", self._unknown_parent, code=parent)
                self.paths[code] = UNRESOLVED
        for start in self.rows:
            chain = []
            on_chain = set()
            code = start
            while code is not None and code not in self.paths:
                if code in on_chain:
                    cycle = chain[chain.index(code) :]
                    for member in cycle:
                        self.errors.add(
                            self.rows[member].row,
                            "parent_code",
                            _(
                                "The grid %(code)s would end up below itself: the parent links of %(cycle)s form a cycle."
                            ),
                            code=member,
                            cycle=" → ".join(cycle + [code]),
                        )
                        self.paths[member] = UNRESOLVED
                    break
                chain.append(code)
                on_chain.add(code)
                code = anchor[code][0]
            # Unwind: each chain member's path is its anchor's path plus its own tail.
            for member in reversed(chain):
                if member in self.paths:
                    continue
                hang_on, base, below = anchor[member]
                if hang_on is not None:
                    base = self.paths[hang_on]
                    if base is UNRESOLVED:
                        self.paths[member] = UNRESOLVED
                        continue
                for code_below in below:
                    base = node_path(_PathOnly(base) if base else None, code_below)
                self.paths[member] = base

    def _check_stored_dependants(self) -> None:
        """A stored grid whose level, category or kind changes must still suit the stored
        children it keeps and the households it holds."""
        changed = {}
        for code, row in self.rows.items():
            node = self.stored.get(code)
            if node is None:
                continue
            facts = self.facts(code)
            if (facts.level, facts.category, facts.kind) != (node.level, node.category, node.kind):
                changed[node.pk] = (row, facts, node)
        if not changed:
            return

        def column(row, facts, node):
            if facts.category != node.category:
                return "category"
            return "kind" if facts.kind != node.kind else "level"

        for chunk in chunked(list(changed)):
            children = GridNode.objects.filter(parent_id__in=chunk).values_list(
                "parent_id", "code", "level", "category", "kind"
            )
            for parent_id, code, level, category, kind in children:
                if code in self.rows:
                    continue  # the file places it itself, and its own row was checked
                row, facts, node = changed[parent_id]
                child = rules.NodeFacts(code=code, level=level, category=category, kind=kind)
                if rules.check_placement(child, facts):
                    self.errors.add(
                        row.row,
                        column(row, facts, node),
                        _(
                            "The grid %(child)s, stored under this one, could no longer hang under it."
                        ),
                        child=code,
                    )
            with_households = set(
                Household.objects.filter(grid_id__in=chunk)
                .values_list("grid_id", flat=True)
                .distinct()
            )
            for grid_id in with_households:
                row, facts, node = changed[grid_id]
                if rules.check_household_grid(facts):
                    self.errors.add(
                        row.row,
                        column(row, facts, node),
                        _(
                            "This grid holds households, so it must stay a hamlet or a work-unit grid."
                        ),
                    )

    # -- counting and writing ------------------------------------------------------------

    def _new_values(self, code: str) -> dict:
        row, node = self.rows[code], self.stored.get(code)
        facts = self.facts(code)
        feature = self.features.get(code)
        values = {
            "name": row.name,
            "level": facts.level,
            "category": facts.category,
            "kind": facts.kind,
            "expected_households": row.households
            if row.households is not None
            else (node.expected_households if node else 0),
            "expected_population": row.population
            if row.population is not None
            else (node.expected_population if node else 0),
        }
        if feature is not None:
            values["boundary"] = feature.geometry
            values["point_lng"], values["point_lat"] = feature.point or (None, None)
        elif node is None:
            values["boundary"] = None
            values["point_lng"] = values["point_lat"] = None
        return values

    def _classify(self):
        """(new codes, changed stored nodes with their new values, moved codes)."""
        new, changed, moved = [], [], []
        for code, row in self.rows.items():
            node = self.stored.get(code)
            if node is None:
                new.append(code)
                continue
            values = self._new_values(code)
            stored_parent = node.ancestor_codes[-1] if node.ancestor_codes else None
            is_moved = stored_parent != row.parent_code
            if is_moved:
                moved.append(code)
            if is_moved or any(getattr(node, f) != v for f, v in values.items()):
                changed.append((node, values))
        # Stored nodes outside the file that get a boundary from the GeoJSON file.
        extra = []
        for code, feature in self.features.items():
            node = self.stored.get(code)
            if code not in self.rows and node is not None and node.boundary != feature.geometry:
                lng, lat = feature.point or (None, None)
                extra.append(
                    (node, {"boundary": feature.geometry, "point_lng": lng, "point_lat": lat})
                )
        return new, changed + extra, moved

    def counts(self) -> tuple[int, int, int]:
        new, changed, _moved = self._classify()
        extra_features = sum(1 for code in self.features if code not in self.rows)
        unchanged = len(self.rows) + extra_features - len(new) - len(changed)
        return len(new), len(changed), unchanged

    def write(self) -> None:
        new, changed, moved = self._classify()
        ids = {code: node.pk for code, node in self.stored.items()}
        by_depth: dict[int, tuple[list, list]] = {}
        for code in new:
            by_depth.setdefault(self.paths[code].count("/") - 1, ([], []))[0].append(code)
        for code in moved:
            by_depth.setdefault(self.paths[code].count("/") - 1, ([], []))[1].append(code)
        now = timezone.now()
        # Parents first: at each depth every parent (created, moved or untouched) is final.
        for depth in sorted(by_depth):
            new_codes, moved_codes = by_depth[depth]
            for chunk in chunked(new_codes):
                nodes = []
                for code in chunk:
                    row = self.rows[code]
                    parent_id = ids[row.parent_code] if row.parent_code else None
                    nodes.append(
                        GridNode(
                            code=code,
                            parent_id=parent_id,
                            path=self.paths[code],
                            depth=depth,
                            **self._new_values(code),
                        )
                    )
                created = GridNode.objects.bulk_create(nodes, batch_size=BATCH_SIZE)
                for node in created:
                    ids[node.code] = node.pk
                if any(node.pk is None for node in created):  # a backend without RETURNING
                    ids.update(GridNode.objects.filter(code__in=chunk).values_list("code", "pk"))
            for code in moved_codes:
                self._move_subtree(ids[code], self.paths[code])
        to_update = []
        for node, values in changed:
            for field, value in values.items():
                setattr(node, field, value)
            row = self.rows.get(node.code)
            if row is not None:
                node.parent_id = ids[row.parent_code] if row.parent_code else None
                node.path = self.paths[node.code]
                node.depth = node.path.count("/") - 1
            else:
                # Only its boundary changes; its path may have moved with an ancestor.
                node.path = GridNode.objects.filter(pk=node.pk).values_list("path", flat=True).get()
            node.updated_at = now
            to_update.append(node)
        for chunk in chunked(to_update):
            GridNode.objects.bulk_update(chunk, UPDATE_FIELDS, batch_size=BATCH_SIZE)

    @staticmethod
    def _move_subtree(pk: int, new_path: str) -> None:
        """Rewrite the paths of a moved node's subtree as grids.services.grid_move does.
        The current path is read now, since an ancestor's move may already have changed it."""
        old_path = GridNode.objects.filter(pk=pk).values_list("path", flat=True).get()
        if old_path == new_path:
            return
        shift = new_path.count("/") - old_path.count("/")
        GridNode.objects.filter(path__startswith=old_path).update(
            path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
            depth=F("depth") + shift,
        )


__all__ = ["grid_tree_import", "GRID_COLUMNS"]
