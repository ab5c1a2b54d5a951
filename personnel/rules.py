"""The responsibility chain's rules as pure functions over plain facts, shared by the
services (one assignment at a time) and the roster importer (a whole file against what
is stored), like grids.rules for the tree.

- Spans of the same person, grid and role do not overlap.
- A grid has at most one grid chief at any date.
- A 包保 leader of a grid at level L is, at the start of that assignment, a grid chief or
  包保 leader of the grid's ancestor at level L-1 ("city leaders 包保 county grids").
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from gridcmd.i18n import Problem


@dataclass(frozen=True)
class AssignmentFacts:
    person_key: str  # anything that names one person: a pk, or an identity number in a file
    grid_code: str
    grid_path: str
    grid_level: int
    role_code: str
    is_grid_chief: bool
    is_baobao_leader: bool
    start_date: datetime.date
    end_date: datetime.date | None = None

    def active_on(self, day: datetime.date) -> bool:
        return self.start_date <= day and (self.end_date is None or self.end_date >= day)

    @property
    def ancestor_codes(self) -> list[str]:
        return self.grid_path.strip("/").split("/")[:-1]


def spans_overlap(a: AssignmentFacts, b: AssignmentFacts) -> bool:
    a_end = a.end_date or datetime.date.max
    b_end = b.end_date or datetime.date.max
    return a.start_date <= b_end and b.start_date <= a_end


def check_assignments(
    new: list[AssignmentFacts], stored: Iterable[AssignmentFacts]
) -> dict[int, list[Problem]]:
    """Check new assignments against each other and the stored ones.

    Returns the problems of each new assignment by its index in `new`; empty when all hold.
    `stored` needs the assignments on the same grids, of the same people, and the grid-chief
    and leader assignments of those people (what `personnel.selectors.assignment_facts_for`
    loads).
    """
    stored = list(stored)
    problems: dict[int, list[Problem]] = defaultdict(list)

    by_person_grid_role: dict[tuple, list[tuple[int | None, AssignmentFacts]]] = defaultdict(list)
    chiefs_by_grid: dict[str, list[tuple[int | None, AssignmentFacts]]] = defaultdict(list)
    leads_by_person: dict[str, list[AssignmentFacts]] = defaultdict(list)
    for index, facts in [(None, f) for f in stored] + list(enumerate(new)):
        by_person_grid_role[(facts.person_key, facts.grid_code, facts.role_code)].append(
            (index, facts)
        )
        if facts.is_grid_chief:
            chiefs_by_grid[facts.grid_code].append((index, facts))
        if facts.is_grid_chief or facts.is_baobao_leader:
            leads_by_person[facts.person_key].append(facts)

    for index, facts in enumerate(new):
        for other_index, other in by_person_grid_role[
            (facts.person_key, facts.grid_code, facts.role_code)
        ]:
            if other_index != index and other is not facts and spans_overlap(facts, other):
                problems[index].append(
                    Problem(
                        "start_date",
                        _(
                            "This person already holds this role on grid %(grid)s for overlapping dates."
                        ),
                        {"grid": facts.grid_code},
                    )
                )
                break
        if facts.is_grid_chief:
            for other_index, other in chiefs_by_grid[facts.grid_code]:
                if (
                    other_index != index
                    and other.person_key != facts.person_key
                    and spans_overlap(facts, other)
                ):
                    problems[index].append(
                        Problem(
                            "role",
                            _("Grid %(grid)s already has a grid chief for these dates."),
                            {"grid": facts.grid_code},
                        )
                    )
                    break
        if facts.is_baobao_leader:
            upper = _ancestor_at_level(facts, facts.grid_level - 1)
            qualified = upper is not None and any(
                lead.grid_code == upper and lead.active_on(facts.start_date)
                for lead in leads_by_person[facts.person_key]
            )
            if not qualified:
                problems[index].append(
                    Problem(
                        "role",
                        _(
                            "A 包保 leader of a level-%(level)s grid must be a grid chief or 包保 leader of the "
                            "grid above it at level %(upper)s."
                        ),
                        {"level": facts.grid_level, "upper": facts.grid_level - 1},
                    )
                )
    return dict(problems)


def _ancestor_at_level(facts: AssignmentFacts, level: int) -> str | None:
    # Every grid's ancestors are territorial, one per level from the city down, so the
    # i-th code of the path is the ancestor at level i+1 (a unit grid's too).
    ancestors = facts.ancestor_codes
    return ancestors[level - 1] if 1 <= level <= len(ancestors) else None
