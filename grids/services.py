"""Writes to the grid tree. Every create, change and move goes through here, so the tree
rules (grids.rules) and the materialized path hold whoever writes: pages, API, importer,
admin or seed data."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext_lazy as _

from gridcmd.i18n import Problem

from . import rules
from .models import GridNode, Household, Level
from .signals import tree_changed


def raise_problems(problems: list[Problem]) -> None:
    if problems:
        errors: dict[str, list[str]] = {}
        for problem in problems:
            errors.setdefault(problem.field, []).append(problem.text)
        raise ValidationError(errors)


def facts(node: GridNode | None) -> rules.NodeFacts | None:
    if node is None:
        return None
    return rules.NodeFacts(code=node.code, level=node.level, category=node.category, kind=node.kind)


def node_path(parent: GridNode | None, code: str) -> str:
    return f"{parent.path if parent else '/'}{code}/"


def grid_node_problems(
    *, code: str, level: int, category: str, kind: str, parent: GridNode | None, boundary=None
) -> tuple[list[Problem], tuple[float, float] | None]:
    node = rules.NodeFacts(code=code, level=level, category=category, kind=kind)
    parent_facts = facts(parent)
    problems = rules.check_code(node, parent_facts) + rules.check_placement(node, parent_facts)
    geometry_problems, point = rules.check_geometry(boundary)
    return problems + geometry_problems, point


@transaction.atomic
def grid_create(
    *,
    code: str,
    name: str,
    level: int,
    parent: GridNode | None,
    category: str,
    kind: str,
    expected_households: int = 0,
    expected_population: int = 0,
    boundary: dict | None = None,
) -> GridNode:
    problems, point = grid_node_problems(
        code=code, level=level, category=category, kind=kind, parent=parent, boundary=boundary
    )
    if GridNode.objects.filter(code=code).exists():
        problems.append(Problem("code", _("The code %(code)s is already used."), {"code": code}))
    raise_problems(problems)
    path = node_path(parent, code)
    node = GridNode(
        code=code,
        name=name,
        level=level,
        parent=parent,
        category=category,
        kind=kind,
        expected_households=expected_households,
        expected_population=expected_population,
        boundary=boundary,
        point_lng=point[0] if point else None,
        point_lat=point[1] if point else None,
        path=path,
        depth=path.count("/") - 1,
    )
    node.full_clean(exclude=["path", "depth"])
    node.save()
    tree_changed.send(sender=GridNode, history=False)
    return node


GRID_UPDATABLE = {
    "name",
    "category",
    "kind",
    "expected_households",
    "expected_population",
    "boundary",
}


@transaction.atomic
def grid_update(*, node: GridNode, **changes) -> GridNode:
    """Change a node's own attributes; the code, level and parent change only by move."""
    unknown = set(changes) - GRID_UPDATABLE
    if unknown:
        raise ValueError(f"grid_update cannot change {sorted(unknown)}")
    node = GridNode.objects.select_for_update(of=("self",)).select_related("parent").get(pk=node.pk)
    merged = {f: changes.get(f, getattr(node, f)) for f in ("category", "kind", "boundary")}
    problems, point = grid_node_problems(
        code=node.code, level=node.level, parent=node.parent, **merged
    )
    if not rules.is_territorial(merged["category"], merged["kind"]) and node.children.exists():
        problems.append(
            Problem("kind", _("A grid with children cannot become a work-unit or dedicated grid."))
        )
    raise_problems(problems)
    for field, value in changes.items():
        setattr(node, field, value)
    update_fields = [*changes, "updated_at"]
    if "boundary" in changes:
        node.point_lng, node.point_lat = point if point else (None, None)
        update_fields += ["point_lng", "point_lat"]
    node.save(update_fields=update_fields)
    return node


@transaction.atomic
def grid_move(*, node: GridNode, new_parent: GridNode) -> GridNode:
    """Move a node and its subtree under a new parent, keeping every tree rule."""
    node = GridNode.objects.select_for_update().get(pk=node.pk)
    if new_parent.path.startswith(node.path):
        raise_problems(
            [Problem("parent_code", _("A grid cannot move under itself or its own descendant."))]
        )
    level = node.level
    if not node.is_territorial:
        level = new_parent.level  # a unit or dedicated leaf takes its new parent's level
    moved = rules.NodeFacts(code=node.code, level=level, category=node.category, kind=node.kind)
    problems = rules.check_placement(moved, facts(new_parent)) + rules.check_code(
        moved, facts(new_parent)
    )
    raise_problems(problems)
    old_path, new_path = node.path, node_path(new_parent, node.code)
    depth_shift = new_path.count("/") - old_path.count("/")
    if new_path.count("/") - 1 > rules.MAX_DEPTH:
        raise_problems([Problem("parent_code", _("The tree would become too deep."))])
    GridNode.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
        depth=F("depth") + depth_shift,
    )
    GridNode.objects.filter(pk=node.pk).update(parent=new_parent, level=level)
    node.refresh_from_db()
    tree_changed.send(sender=GridNode, history=True)
    return node


@transaction.atomic
def household_upsert(
    *, code: str, grid: GridNode, address: str, head_name: str, phone: str = "", size: int = 1
) -> Household:
    raise_problems(rules.check_household_grid(facts(grid)))
    household, _created = Household.objects.update_or_create(
        code=code,
        defaults={
            "grid": grid,
            "address": address,
            "head_name": head_name,
            "phone": phone,
            "size": size,
        },
    )
    tree_changed.send(sender=Household, history=False)
    return household


__all__ = ["grid_create", "grid_update", "grid_move", "household_upsert", "Level"]
