"""Reads of people, organisations, assignments, the 包保 chain and pioneer posts.

Every selector that takes a user scopes through `visible_to` (people: registered in the
jurisdiction OR assigned to a grid in it, decided once in PersonQuerySet.visible_to), so
an object outside the jurisdiction is a 404 as if it did not exist. Dashboard-style reads
(chain, post counts) run a fixed number of queries whatever the depth or the number of
people. Dates are local dates in Asia/Shanghai.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridcmd.i18n import Problem
from grids.models import GridNode
from grids.scoping import jurisdiction_prefix

from .models import (
    Assignment,
    Axis,
    Organisation,
    Person,
    PostClaim,
    PostType,
    Role,
    TeamRequirement,
    TeamTemplate,
)
from .rules import AssignmentFacts

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

# Ids per IN (...) list when loading stored facts for an import: keeps every query under
# SQLite's and PostgreSQL's parameter limits while the number of queries stays
# ceil(ids / FACTS_CHUNK).
FACTS_CHUNK = 2000


def local_today() -> datetime.date:
    return timezone.localdate(timezone=LOCAL_TZ)


def _chunks(values: Iterable, size: int):
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


# --- Reference data ----------------------------------------------------------------------------


def role_list():
    return Role.objects.all()


def post_type_list():
    return PostType.objects.all()


def team_template_list():
    requirements = TeamRequirement.objects.select_related("role").order_by(
        "role__sort_order", "role__code"
    )
    return TeamTemplate.objects.prefetch_related(Prefetch("requirements", queryset=requirements))


def team_template_get(*, pk) -> TeamTemplate:
    template = team_template_list().filter(pk=pk).first()
    if template is None:
        raise Http404
    return template


# --- People and organisations ----------------------------------------------------------------------


def _current_assignments(on: datetime.date) -> Prefetch:
    return Prefetch(
        "assignments",
        queryset=Assignment.objects.active_on(on)
        .select_related("grid", "role")
        .order_by("grid__path", "role__sort_order"),
        to_attr="current_assignments",
    )


def person_list(
    *,
    user,
    grid: GridNode | None = None,
    role: str | None = None,
    organisation: int | None = None,
    search: str | None = None,
    on: datetime.date | None = None,
):
    """People visible to the user, each with `current_assignments` (active on `on`).

    grid: people registered in or assigned to the grid's subtree; role: people holding that
    role (code) on `on` (within the grid's subtree when both are given); search: name
    contains. Three queries for a page whatever its size (count, rows, assignments).
    """
    on = on or local_today()
    qs = Person.objects.visible_to(user).select_related("organisation", "registered_grid")
    if grid is not None:
        qs = qs.filter(pk__in=Person.objects.in_subtree(grid.path).values("pk"))
    if role:
        holding = Assignment.objects.active_on(on).filter(person=OuterRef("pk"), role__code=role)
        if grid is not None:
            holding = holding.filter(grid__path__startswith=grid.path)
        qs = qs.filter(Exists(holding))
    if organisation:
        qs = qs.filter(organisation_id=organisation)
    if search:
        qs = qs.filter(name__icontains=search.strip())
    return qs.prefetch_related(_current_assignments(on))


def person_get(*, user, pk) -> Person:
    """A visible person with all their assignments (`all_assignments`, newest first)."""
    assignments = Assignment.objects.select_related("grid", "role").order_by("-start_date", "pk")
    person = (
        Person.objects.visible_to(user)
        .select_related("organisation", "registered_grid")
        .prefetch_related(Prefetch("assignments", queryset=assignments, to_attr="all_assignments"))
        .filter(pk=pk)
        .first()
    )
    if person is None:
        raise Http404
    return person


def organisation_list(*, user, grid: GridNode | None = None, search: str | None = None):
    qs = Organisation.objects.visible_to(user).select_related(
        "parent", "home_grid", "registered_grid"
    )
    if grid is not None:
        qs = qs.filter(registered_grid__path__startswith=grid.path)
    if search:
        qs = qs.filter(name__icontains=search.strip())
    return qs


def organisation_get(*, user, pk) -> Organisation:
    organisation = organisation_list(user=user).filter(pk=pk).first()
    if organisation is None:
        raise Http404
    return organisation


# --- Assignments ---------------------------------------------------------------------------------


def assignment_list(
    *,
    user,
    grid: GridNode | None = None,
    subtree: bool = True,
    person: int | None = None,
    role: str | None = None,
    active_on: datetime.date | None = None,
):
    qs = Assignment.objects.visible_to(user).select_related("person__organisation", "grid", "role")
    if grid is not None:
        qs = qs.filter(grid__path__startswith=grid.path) if subtree else qs.filter(grid=grid)
    if person:
        qs = qs.filter(person_id=person)
    if role:
        qs = qs.filter(role__code=role)
    if active_on is not None:
        qs = qs.active_on(active_on)
    return qs


def assignment_get(*, user, pk) -> Assignment:
    assignment = assignment_list(user=user).filter(pk=pk).first()
    if assignment is None:
        raise Http404
    return assignment


def grid_team(*, user, node: GridNode, on: datetime.date | None = None):
    """The people on a visible grid's team on a day (one query)."""
    return assignment_list(
        user=user, grid=node, subtree=False, active_on=on or local_today()
    ).order_by("role__sort_order", "person__name", "pk")


def assignment_callable_get(*, user, pk, on: datetime.date | None = None) -> Assignment:
    """An assignment whose phone the user may dial from a chain: any visible assignment, or
    a grid chief / 包保 leader active on `on` on an ancestor of the user's jurisdiction (the
    chain above them is shown to them: docs/adr/0007)."""
    prefix = jurisdiction_prefix(user)
    if prefix is None:
        raise Http404
    qs = Assignment.objects.select_related("person", "grid", "role").filter(pk=pk)
    if prefix:
        codes = prefix.strip("/").split("/")
        above = ["/" + "/".join(codes[:i]) + "/" for i in range(1, len(codes))]
        chain_above = Q(grid__path__in=above) & (
            Q(role__is_grid_chief=True) | Q(role__is_baobao_leader=True)
        )
        chain_above &= Q(pk__in=Assignment.objects.active_on(on or local_today()).values("pk"))
        qs = qs.filter(Q(grid__path__startswith=prefix) | chain_above)
    assignment = qs.first()
    if assignment is None:
        raise Http404
    return assignment


def assignment_facts_for(
    *, grid_ids: Iterable[int] = (), person_ids: Iterable[int] = (), exclude_ids: Iterable[int] = ()
) -> list[AssignmentFacts]:
    """Stored assignments as the facts personnel.rules.check_assignments needs: every
    assignment on the grids, and the grid-chief and 包保-leader assignments of the people
    (what qualifies them to lead one level down). `person_key` is str(person pk).

    Unscoped on purpose: rules hold across jurisdictions. ceil(len(ids) / FACTS_CHUNK)
    queries per id list, so an import of many thousands of rows stays bounded.
    """
    excluded = set(exclude_ids)
    qs = Assignment.objects.select_related("grid", "role").only(
        "person_id",
        "start_date",
        "end_date",
        "grid__code",
        "grid__path",
        "grid__level",
        "role__code",
        "role__is_grid_chief",
        "role__is_baobao_leader",
    )
    seen: dict[int, AssignmentFacts] = {}
    leads = Q(role__is_grid_chief=True) | Q(role__is_baobao_leader=True)
    for chunk in _chunks(sorted(set(grid_ids)), FACTS_CHUNK):
        _collect_facts(seen, qs.filter(grid_id__in=chunk), excluded)
    for chunk in _chunks(sorted(set(person_ids)), FACTS_CHUNK):
        _collect_facts(seen, qs.filter(leads, person_id__in=chunk), excluded)
    return list(seen.values())


def _collect_facts(seen: dict, qs, excluded: set) -> None:
    for a in qs:
        if a.pk not in excluded and a.pk not in seen:
            seen[a.pk] = assignment_facts(a)


def assignment_facts(a: Assignment, **overrides) -> AssignmentFacts:
    values = dict(
        person_key=str(a.person_id),
        grid_code=a.grid.code,
        grid_path=a.grid.path,
        grid_level=a.grid.level,
        role_code=a.role.code,
        is_grid_chief=a.role.is_grid_chief,
        is_baobao_leader=a.role.is_baobao_leader,
        start_date=a.start_date,
        end_date=a.end_date,
    )
    values.update(overrides)
    return AssignmentFacts(**values)


# --- The 包保 chain -------------------------------------------------------------------------------


@dataclass
class ChainGap:
    grid: GridNode
    kind: str  # "no_grid_chief" | "no_baobao_leader" | "axis_uncovered"
    problem: Problem
    axis: str | None = None


@dataclass
class ChainLevel:
    grid: GridNode
    assignments: list[Assignment] = field(default_factory=list)  # grid chiefs, then 包保 leaders
    gaps: list[ChainGap] = field(default_factory=list)


@dataclass
class AxisCoverage:
    axis: str
    label: str
    assignments: list[Assignment]

    @property
    def covered(self) -> bool:
        return bool(self.assignments)


@dataclass
class Chain:
    node: GridNode
    on: datetime.date
    levels: list[ChainLevel]  # the node first, then each ancestor up to the city
    axes: list[AxisCoverage]  # 四方责任 on the node itself
    visible_prefix: str  # the user's jurisdiction path ("" for everything)

    @property
    def gaps(self) -> list[ChainGap]:
        return [gap for level in self.levels for gap in level.gaps]


def grid_chain(*, user, node: GridNode, on: datetime.date | None = None) -> Chain:
    """Who answers for a visible grid on a day, at every level from it up to the city.

    Each level lists the active grid chiefs and 包保 leaders of that grid; the node also
    gets its coverage on the four responsibility axes (any active assignment on the node
    with that axis). Gaps: a grid with no grid chief, a grid below the city with no 包保
    leader, an axis nobody answers on. Ancestors above the user's jurisdiction are included
    (docs/adr/0007). Two queries whatever the depth and the number of people.
    """
    on = on or local_today()
    prefix = jurisdiction_prefix(user)
    if prefix is None:
        raise Http404
    ancestors = {
        g.code: g for g in GridNode.objects.filter(code__in=node.ancestor_codes).defer("boundary")
    }
    grids = [node] + [ancestors[c] for c in reversed(node.ancestor_codes) if c in ancestors]
    active = (
        Assignment.objects.active_on(on)
        .filter(grid__in=[g.pk for g in grids])
        .select_related("person__organisation", "role")
        .order_by("role__sort_order", "person__name", "pk")
    )
    by_grid: dict[int, list[Assignment]] = defaultdict(list)
    for a in active:
        by_grid[a.grid_id].append(a)

    levels = []
    for grid in grids:
        on_grid = by_grid[grid.pk]
        for a in on_grid:
            a.grid = grid  # already loaded; spares a query per row
        answerable = [a for a in on_grid if a.role.is_grid_chief or a.role.is_baobao_leader]
        level = ChainLevel(grid=grid, assignments=answerable)
        if not any(a.role.is_grid_chief for a in answerable):
            level.gaps.append(
                ChainGap(
                    grid,
                    "no_grid_chief",
                    Problem("role", _("%(grid)s has no grid chief."), {"grid": grid.name}),
                )
            )
        if grid.parent_id is not None and not any(a.role.is_baobao_leader for a in answerable):
            level.gaps.append(
                ChainGap(
                    grid,
                    "no_baobao_leader",
                    Problem("role", _("%(grid)s has no 包保 leader."), {"grid": grid.name}),
                )
            )
        levels.append(level)

    axes = []
    for axis in Axis:
        people = [a for a in by_grid[node.pk] if a.axis == axis.value]
        axes.append(AxisCoverage(axis=axis.value, label=axis.label, assignments=people))
        if not people:
            levels[0].gaps.append(
                ChainGap(
                    node,
                    "axis_uncovered",
                    Problem(
                        "axis",
                        _("Nobody answers for %(grid)s on the %(axis)s axis."),
                        {"grid": node.name, "axis": axis.label},
                    ),
                    axis=axis.value,
                )
            )
    return Chain(node=node, on=on, levels=levels, axes=axes, visible_prefix=prefix)


# --- Pioneer posts -------------------------------------------------------------------------------


@dataclass
class PostCounts:
    grid: GridNode
    counts: dict[str, int]  # post type code -> claims

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class PostRollup:
    node: PostCounts  # the whole subtree, the node included
    own: PostCounts  # claims on the node itself
    children: list[PostCounts]
    post_types: list[PostType]
    on: datetime.date


def post_claim_list(*, user, grid: GridNode | None = None, on: datetime.date | None = None):
    qs = PostClaim.objects.visible_to(user).select_related("person", "grid", "post_type")
    if grid is not None:
        qs = qs.filter(grid__path__startswith=grid.path)
    if on is not None:
        qs = qs.filter(claimed_on__lte=on).filter(
            Q(released_on__isnull=True) | Q(released_on__gte=on)
        )
    return qs.order_by("grid__path", "post_type__code", "pk")


def post_counts(*, user, node: GridNode, on: datetime.date | None = None) -> PostRollup:
    """Claims held on `on`, by post type, over a visible node's subtree and per child.
    Three queries: post types, children, one GROUP BY over the subtree."""
    on = on or local_today()
    types = list(PostType.objects.all())
    children = list(
        GridNode.objects.visible_to(user).filter(parent=node).defer("boundary").order_by("code")
    )
    rows = (
        post_claim_list(user=user, grid=node, on=on)
        .order_by()
        .values("grid__path", "post_type__code")
        .annotate(n=Count("pk"))
    )
    zero = {t.code: 0 for t in types}
    total = PostCounts(node, dict(zero))
    own = PostCounts(node, dict(zero))
    per_child = {c.code: PostCounts(c, dict(zero)) for c in children}
    depth = node.path.count("/") - 1
    for row in rows:
        code, n = row["post_type__code"], row["n"]
        total.counts[code] = total.counts.get(code, 0) + n
        codes = row["grid__path"].strip("/").split("/")
        if len(codes) == depth:
            own.counts[code] = own.counts.get(code, 0) + n
        elif codes[depth] in per_child:
            child = per_child[codes[depth]]
            child.counts[code] = child.counts.get(code, 0) + n
    return PostRollup(
        node=total, own=own, children=list(per_child.values()), post_types=types, on=on
    )
