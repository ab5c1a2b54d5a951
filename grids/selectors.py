"""Reads of the grid tree. Every selector takes the user and scopes through
ScopedQuerySet.visible_to, so nothing outside a jurisdiction is ever returned; a grid
outside it is a 404, as if it did not exist."""

from django.db.models import Count, Q
from django.http import Http404

from .models import GridNode, Household
from .scoping import jurisdiction_prefix


def grid_list(
    *, user, parent: str | None = None, level: int | None = None, category: str | None = None
):
    qs = GridNode.objects.visible_to(user)
    if parent:
        # The parent must be visible too: filtering by a grid outside the jurisdiction (the
        # jurisdiction root's own parent included) finds nothing, as if it did not exist.
        qs = qs.filter(parent__in=GridNode.objects.visible_to(user).filter(code=parent))
    if level:
        qs = qs.filter(level=level)
    if category:
        qs = qs.filter(category=category)
    return qs


def grid_get(*, user, code: str) -> GridNode:
    node = GridNode.objects.visible_to(user).select_related("parent").filter(code=code).first()
    if node is None:
        raise Http404
    return node


def grid_children(*, user, node: GridNode):
    """The children of a visible node, each with its number of children (one query)."""
    return (
        GridNode.objects.visible_to(user)
        .filter(parent=node)
        .annotate(child_count=Count("children"))
        .order_by("code")
    )


def grid_breadcrumbs(*, user, node: GridNode) -> list[GridNode]:
    """Ancestors from the user's jurisdiction root (or the tree root) down to the node."""
    prefix = jurisdiction_prefix(user) or "/"
    codes = [c for c in node.ancestor_codes]
    ancestors = {g.code: g for g in GridNode.objects.filter(code__in=codes)}
    return [
        ancestors[c] for c in codes if c in ancestors and ancestors[c].path.startswith(prefix)
    ] + [node]


def grid_home(*, user) -> GridNode | None:
    """Where a user's grid browsing starts: their jurisdiction, or the first root."""
    if user.is_superuser and user.jurisdiction_id is None:
        return GridNode.objects.filter(parent__isnull=True).order_by("code").first()
    return user.jurisdiction


def household_list(*, user, grid: GridNode | None = None):
    qs = Household.objects.visible_to(user).select_related("grid")
    if grid is not None:
        qs = qs.filter(Q(grid__path__startswith=grid.path))
    return qs


def grid_feature(node: GridNode, **extra_properties) -> dict:
    return {
        "type": "Feature",
        "id": node.code,
        "geometry": node.boundary,
        "properties": {
            "code": node.code,
            "name": node.name,
            "level": node.level,
            "category": node.category,
            "kind": node.kind,
            "point": [node.point_lng, node.point_lat] if node.point_lng is not None else None,
            **extra_properties,
        },
    }


def grid_children_feature_collection(*, user, node: GridNode) -> dict:
    """The visible children of a node as a GeoJSON FeatureCollection (one query)."""
    return {
        "type": "FeatureCollection",
        "features": [grid_feature(child) for child in grid_children(user=user, node=node)],
    }
