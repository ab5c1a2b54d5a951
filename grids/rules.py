"""The grid tree's rules as pure functions, shared by the services (one write) and the
importer (a whole file validated before anything is written).

Each check returns a list of Problems (a column and a message); an empty list means the row is good.
Rules the database can hold (unique code, foreign keys, level range, root is a city) are
also constraints in grids.models; these are the ones it cannot hold.
"""

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from shapely.geometry import shape

from gridcmd.i18n import Problem

from .models import Category, Kind, Level

UNIT_CODE_RE = re.compile(r"^[A-Za-z0-9-]{1,32}$")
# 12-digit statistical division codes: PP CC DD TTT VVV.
DIVISION_CODE_RE = {
    Level.CITY: re.compile(r"^\d{2}(?!00)\d{2}0{8}$"),
    Level.COUNTY: re.compile(r"^\d{4}(?!00)\d{2}0{6}$"),
    Level.TOWNSHIP: re.compile(r"^\d{6}(?!000)\d{3}000$"),
    Level.VILLAGE: re.compile(r"^\d{9}(?!000)\d{3}$"),
}
HAMLET_SUFFIX_RE = re.compile(r"^\d{3}$")
MAX_DEPTH = 6  # five territorial levels and a unit/dedicated leaf under a hamlet


@dataclass(frozen=True)
class NodeFacts:
    """What the rules need to know about a node, whether it is stored or in a file."""

    code: str
    level: int
    category: str
    kind: str

    @property
    def is_territorial(self) -> bool:
        return self.category != Category.UNIT and self.kind == Kind.CELL


def is_territorial(category: str, kind: str) -> bool:
    return category != Category.UNIT and kind == Kind.CELL


def check_code(node: NodeFacts, parent: NodeFacts | None) -> list[Problem]:
    code = node.code
    if not node.is_territorial:
        if not UNIT_CODE_RE.match(code):
            return [
                Problem(
                    "code",
                    _("A work-unit or dedicated grid code is 1 to 32 letters, digits or '-'."),
                )
            ]
        return []
    if node.level == Level.HAMLET:
        if (
            parent is None
            or not code.startswith(parent.code)
            or not HAMLET_SUFFIX_RE.match(code[len(parent.code) :])
        ):
            return [
                Problem(
                    "code",
                    _("A hamlet code is its village's 12-digit code followed by three digits."),
                )
            ]
        return []
    pattern = DIVISION_CODE_RE.get(node.level)
    if pattern is not None and not pattern.match(code):
        return [
            Problem(
                "code",
                _("%(code)s is not a 12-digit statistical division code of a %(level)s."),
                {"code": code, "level": Level(node.level).label},
            )
        ]
    return []


def check_placement(node: NodeFacts, parent: NodeFacts | None) -> list[Problem]:
    """Level and parent rules: territorial levels step down one at a time; unit and
    dedicated grids are leaves at their parent's level under a territorial node."""
    if parent is None:
        if node.level != Level.CITY or not node.is_territorial:
            return [
                Problem("parent_code", _("Only a city-level cell grid can stand without a parent."))
            ]
        return []
    if not parent.is_territorial:
        return [
            Problem(
                "parent_code",
                _("A work-unit or dedicated grid is a leaf and cannot have children."),
            )
        ]
    if node.is_territorial:
        if node.level != parent.level + 1:
            return [
                Problem(
                    "level",
                    _(
                        "A %(level)s cannot hang under a %(parent_level)s: a grid's level is its parent's plus one."
                    ),
                    {"level": Level(node.level).label, "parent_level": Level(parent.level).label},
                )
            ]
    elif node.level != parent.level:
        return [
            Problem(
                "level",
                _("A work-unit or dedicated grid takes its parent's level (%(parent_level)s)."),
                {"parent_level": Level(parent.level).label},
            )
        ]
    return []


def check_geometry(geometry) -> tuple[list[Problem], tuple[float, float] | None]:
    """Validate a GeoJSON Polygon/MultiPolygon; return errors and a representative point."""
    if geometry is None:
        return [], None
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        return [
            Problem("boundary", _("A boundary must be a GeoJSON Polygon or MultiPolygon."))
        ], None
    try:
        geom = shape(geometry)
    except Exception:  # shapely raises several types for malformed coordinates
        return [Problem("boundary", _("The boundary's coordinates are malformed."))], None
    if geom.is_empty or not geom.is_valid:
        return [
            Problem(
                "boundary",
                _("The boundary is not a valid polygon (it crosses itself or is empty)."),
            )
        ], None
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        return [
            Problem(
                "boundary", _("The boundary's coordinates are not longitude/latitude (WGS 84).")
            )
        ], None
    point = geom.representative_point()
    return [], (point.x, point.y)


def check_household_grid(grid: NodeFacts) -> list[Problem]:
    if grid.category == Category.UNIT or (grid.is_territorial and grid.level == Level.HAMLET):
        return []
    return [Problem("grid_code", _("A household belongs to a hamlet or a work-unit grid."))]
