"""Staffing compliance: does a grid's team meet the team templates (1+1+N+K, ...) that apply
to it, and how does that roll up the tree?

- A template applies to a grid when the grid's level is in its levels and, if the template
  names categories or kinds, the grid's category and kind are among them.
- Per role, a grid needs the largest count any applicable template asks for (templates
  overlap: "五级网格长+专职+兼职+N" and "1+1+N+K" both ask a village for grid workers; a
  village that meets the bigger one meets both). N is the template's own `n`.
- Staffed = distinct people holding the role on the grid on the day (assignments active
  on that date; dates are local Asia/Shanghai dates). Nothing is stored, so the numbers are
  right after any import, move or ended assignment.
- "+K": a template with requires_checkpoints asks every registered requirement provider
  (`register_requirement_provider`) for extra shortfalls such as "checkpoint X unmanned".
  Checkpoints arrive with a later issue; their app registers a provider in its
  AppConfig.ready() and nothing here changes.
- A grid no template applies to needs nothing, so it counts as fully staffed.

A rollup over a subtree loads the subtree's grids (one query), the templates (two), and
counts active assignments with one GROUP BY grid and role; providers are asked once with
all the grids that need them.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils.translation import gettext as _

from grids.models import GridNode, Level

from .models import Assignment, Role, TeamRequirement, TeamTemplate
from .selectors import local_today

# --- The "+K" hook -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Shortfall:
    """Something a grid lacks beyond role counts, e.g. code "checkpoint", label
    "Checkpoint 3 (那温路口) unmanned", missing 1."""

    code: str
    label: str
    missing: int = 1


RequirementProvider = Callable[[list[GridNode], datetime.date], dict[int, list[Shortfall]]]

_providers: list[RequirementProvider] = []


def register_requirement_provider(provider: RequirementProvider) -> RequirementProvider:
    """Register fn(grids, on) -> {grid_id: [Shortfall]}, asked for the grids whose
    templates require manned checkpoints ("+K"). It should run a fixed number of queries
    for all the grids it is given. Usable as a decorator; registering twice is a no-op."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def unregister_requirement_provider(provider: RequirementProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


# --- Templates -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    levels: frozenset
    categories: frozenset
    kinds: frozenset
    requires_checkpoints: bool
    required: tuple  # ((role_id, count), ...)

    def applies_to(self, grid: GridNode) -> bool:
        return (
            grid.level in self.levels
            and (not self.categories or grid.category in self.categories)
            and (not self.kinds or grid.kind in self.kinds)
        )


@dataclass
class Templates:
    specs: list[TemplateSpec]
    roles: dict[int, Role]  # every role some template requires, by id

    @classmethod
    def load(cls) -> Templates:
        """Two queries: templates, and their requirements with roles."""
        requirements = defaultdict(list)
        roles = {}
        for req in TeamRequirement.objects.select_related("role", "template"):
            requirements[req.template_id].append((req.role_id, req.required()))
            roles[req.role_id] = req.role
        specs = [
            TemplateSpec(
                name=t.name,
                levels=frozenset(int(x) for x in t.levels),
                categories=frozenset(t.categories or ()),
                kinds=frozenset(t.kinds or ()),
                requires_checkpoints=t.requires_checkpoints,
                required=tuple(requirements[t.pk]),
            )
            for t in TeamTemplate.objects.all()
        ]
        return cls(specs=specs, roles=roles)

    def applicable(self, grid: GridNode) -> list[TemplateSpec]:
        return [spec for spec in self.specs if spec.applies_to(grid)]


# --- One grid ------------------------------------------------------------------------------------


@dataclass
class RoleNeed:
    role: Role
    required: int
    staffed: int

    @property
    def missing(self) -> int:
        return max(self.required - self.staffed, 0)


@dataclass
class GridCompliance:
    grid: GridNode
    templates: list[str]  # names of the applicable templates
    needs: list[RoleNeed]  # per required role, in role order
    shortfalls: list[Shortfall] = field(default_factory=list)  # from "+K" providers

    @property
    def shortages(self) -> dict[str, int]:
        """{role code: how many people are missing} for the short roles only."""
        return {need.role.code: need.missing for need in self.needs if need.missing}

    @property
    def fully_staffed(self) -> bool:
        return not self.shortages and not any(s.missing for s in self.shortfalls)


def _staffed_counts(assignments, on: datetime.date) -> dict[int, dict[int, int]]:
    rows = (
        assignments.active_on(on)
        .order_by()
        .values("grid_id", "role_id")
        .annotate(n=Count("person_id", distinct=True))
    )
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    for row in rows:
        counts[row["grid_id"]][row["role_id"]] = row["n"]
    return counts


def _evaluate(grids: list[GridNode], on, templates: Templates, counts) -> dict[int, GridCompliance]:
    results: dict[int, GridCompliance] = {}
    needs_checkpoints = []
    for grid in grids:
        applicable = templates.applicable(grid)
        required: dict[int, int] = {}
        for spec in applicable:
            for role_id, n in spec.required:
                required[role_id] = max(required.get(role_id, 0), n)
        staffed = counts.get(grid.pk, {})
        needs = [
            RoleNeed(role=templates.roles[role_id], required=n, staffed=staffed.get(role_id, 0))
            for role_id, n in required.items()
        ]
        needs.sort(key=lambda need: (need.role.sort_order, need.role.code))
        results[grid.pk] = GridCompliance(
            grid=grid, templates=[s.name for s in applicable], needs=needs
        )
        if any(spec.requires_checkpoints for spec in applicable):
            needs_checkpoints.append(grid)
    if needs_checkpoints:
        for provider in list(_providers):
            for grid_id, shortfalls in (provider(needs_checkpoints, on) or {}).items():
                if grid_id in results:
                    results[grid_id].shortfalls.extend(shortfalls)
    return results


def grid_compliance(*, grid: GridNode, on: datetime.date | None = None) -> GridCompliance:
    """One grid's compliance on a day (default today). Three queries, plus providers."""
    on = on or local_today()
    counts = _staffed_counts(Assignment.objects.filter(grid=grid), on)
    return _evaluate([grid], on, Templates.load(), counts)[grid.pk]


# --- Rollups -------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Compliance added up over a set of grids."""

    grids: int = 0
    fully_staffed: int = 0
    shortages: Counter = field(default_factory=Counter)  # role code -> people missing
    shortfalls: Counter = field(default_factory=Counter)  # provider code -> missing

    def add(self, compliance: GridCompliance) -> None:
        self.grids += 1
        self.fully_staffed += compliance.fully_staffed
        self.shortages.update(compliance.shortages)
        for shortfall in compliance.shortfalls:
            self.shortfalls[shortfall.code] += shortfall.missing


@dataclass
class LevelTally:
    level: int
    tally: Tally

    @property
    def label(self) -> str:
        return str(Level(self.level).label)


@dataclass
class ChildStaffing:
    compliance: GridCompliance  # the child itself
    subtree: Tally  # the child and everything below it


@dataclass
class StaffingRollup:
    node: GridCompliance
    levels: list[LevelTally]  # every level below the node, over the whole subtree
    children: list[ChildStaffing]  # for map colouring
    roles: dict[str, Role]  # role code -> Role, for labels
    on: datetime.date

    def summary(self, level: LevelTally) -> str:
        return tally_summary(level.tally, self.roles, level.label)


def tally_summary(tally: Tally, roles: dict[str, Role], what: str) -> str:
    """ "37 of 40 village grids fully staffed; short: doctor 3, police officer 1"."""
    text = _("%(staffed)s of %(total)s %(what)s grids fully staffed") % {
        "staffed": tally.fully_staffed,
        "total": tally.grids,
        "what": what,
    }
    missing = [
        f"{roles[code].label} {n}"
        for code, n in sorted(tally.shortages.items(), key=_role_order(roles))
    ]
    missing += [f"{code} {n}" for code, n in sorted(tally.shortfalls.items())]
    if missing:
        text += _("; short: %(list)s") % {"list": ", ".join(missing)}
    return text


def _role_order(roles):
    return lambda item: (roles[item[0]].sort_order, item[0])


def staffing_rollup(*, user, node: GridNode, on: datetime.date | None = None) -> StaffingRollup:
    """Compliance of a visible node, of each level of its subtree, and of each child with
    its own subtree. Four queries whatever the size (grids, templates x2, one GROUP BY),
    plus one call per provider."""
    on = on or local_today()
    grids = list(
        GridNode.objects.visible_to(user)
        .subtree_of(node)
        .only("id", "code", "name", "level", "category", "kind", "path", "parent_id")
        .order_by("path")
    )
    if not any(g.pk == node.pk for g in grids):
        grids.insert(0, node)
    counts = _staffed_counts(Assignment.objects.filter(grid__path__startswith=node.path), on)
    templates = Templates.load()
    results = _evaluate(grids, on, templates, counts)

    depth = node.path.count("/") - 1
    levels: dict[int, Tally] = defaultdict(Tally)
    children: dict[str, ChildStaffing] = {}
    for grid in grids:
        if grid.parent_id == node.pk:
            children[grid.code] = ChildStaffing(compliance=results[grid.pk], subtree=Tally())
    for grid in grids:
        if grid.pk == node.pk:
            continue
        compliance = results[grid.pk]
        levels[grid.level].add(compliance)
        child = children.get(grid.path.strip("/").split("/")[depth])
        if child is not None:
            child.subtree.add(compliance)
    roles = {role.code: role for role in templates.roles.values()}
    return StaffingRollup(
        node=results[node.pk],
        levels=[LevelTally(level, tally) for level, tally in sorted(levels.items())],
        children=sorted(children.values(), key=lambda c: c.compliance.grid.code),
        roles=roles,
        on=on,
    )
