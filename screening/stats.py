"""Reads of the daily statistics (the read side of the rollup) for the commander's
dashboard, the stats API and the daily report.

DailyStat rows are the rollup's output (screening.rollup): one row per node and date with
every metric and the coverage figures over the node's whole subtree. These selectors only
read them; they never aggregate checks, so their cost does not depend on how many checks
there are, and a fixed number of queries serves any number of children or days:

- one query for the DailyStat rows wanted (the node over a range of days, its children on
  one day);
- one more, only when some node has no row for a day it is asked about, for the figures
  that do not depend on checks (households and leaves in the subtree), so that a day
  nobody has checked yet still shows "0 of 1,234 households" rather than "0 of 0".

A missing row means no check and no zero report has been rolled up for that node and
day: its metrics are zero. Its households_total and leaves_expected are counted from the
tree as it stands now (the rollup records them as they stood on the day). A leaf is a
node with no children (ADR 0011).
"""

import datetime
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Func, IntegerField, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridcmd.i18n import Problem
from grids.models import GridNode, Household

from .metrics import COVERAGE_FIELDS, METRIC_NAMES
from .models import DailyStat

#: Every number a DailyStat row carries, in display order.
STAT_FIELDS: tuple[str, ...] = METRIC_NAMES + COVERAGE_FIELDS
#: The figures that come from the tree, not from checks: known even without a row.
STRUCTURE_FIELDS = ("households_total", "leaves_expected")
#: The dashboard's trend covers this many days, the chosen date included.
TREND_DAYS = 14
#: The longest daily series the API serves in one request.
MAX_SERIES_DAYS = 366


@dataclass
class NodeStats:
    """One node's numbers for one date."""

    node: GridNode
    day: datetime.date
    values: dict[str, int]
    as_of: datetime.datetime | None = None  # None: no row yet, nothing rolled up

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    @property
    def coverage(self) -> float | None:
        """Households checked out of households in the subtree, 0..1; None without households."""
        total = self.values["households_total"]
        return self.values["households_checked"] / total if total else None

    @property
    def reporting(self) -> float | None:
        expected = self.values["leaves_expected"]
        return self.values["leaves_reported"] / expected if expected else None

    @property
    def leaves_missing(self) -> int:
        """Leaves of the subtree that have not reported (未报告) on the day."""
        return max(self.values["leaves_expected"] - self.values["leaves_reported"], 0)

    @property
    def fully_reported(self) -> bool:
        return self.leaves_missing == 0


@dataclass
class Snapshot:
    """A node and its children on one date."""

    node: NodeStats
    children: list[NodeStats]
    day: datetime.date
    series: list[NodeStats] = field(default_factory=list)  # the node, oldest first

    @property
    def as_of(self) -> datetime.datetime | None:
        """When the data shown was last updated: the newest row of the day."""
        stamps = [s.as_of for s in [self.node, *self.children] if s.as_of is not None]
        return max(stamps) if stamps else None

    @property
    def not_reported(self) -> list[NodeStats]:
        """Children with at least one leaf that has not reported, most missing first."""
        late = [c for c in self.children if not c.fully_reported]
        return sorted(late, key=lambda c: (-c.leaves_missing, c.node.code))

    @property
    def previous(self) -> NodeStats | None:
        """The node on the day before, when the series holds it."""
        before = self.day - datetime.timedelta(days=1)
        return next((s for s in self.series if s.day == before), None)


def stats_today() -> datetime.date:
    """Today in the platform's time zone (Asia/Shanghai)."""
    return timezone.localdate()


def stats_snapshot(
    *, user, node: GridNode, day: datetime.date, trend_days: int = 0, children=None
) -> Snapshot:
    """The node and each of its children on `day`; with trend_days, also the node's series
    of that many days ending on `day` (the day before included when trend_days >= 2).

    `children` are the visible children of the node when the caller has loaded them
    already (the dashboard does, with their boundaries); otherwise they are loaded here
    without boundaries. Either way the queries are: children (unless given), one for the
    rows, and one more only when a row is missing.
    """
    if children is None:
        from grids.selectors import grid_children

        children = list(grid_children(user=user, node=node).defer("boundary"))
    first = day - datetime.timedelta(days=max(trend_days, 1) - 1)
    days = _days(first, day)
    rows = _rows(
        user=user,
        # Days and children as lists, not a range or a join: both halves are then probes of
        # the (day, node) index.
        where=Q(node=node, day__in=days) | Q(node_id__in=[c.pk for c in children], day=day),
    )
    wanted = [(node, d) for d in days] + [(child, day) for child in children]
    stats = _fill(wanted, rows)
    series = stats[: len(days)]
    return Snapshot(
        node=series[-1],
        children=stats[len(days) :],
        day=day,
        series=series if trend_days else [],
    )


def stats_series(
    *, user, node: GridNode, start: datetime.date, end: datetime.date
) -> list[NodeStats]:
    """The node's numbers for each date from start to end inclusive, oldest first."""
    days = _days(start, end)
    rows = _rows(user=user, where=Q(node=node, day__in=days))
    return _fill([(node, d) for d in days], rows)


# --- Internals ----------------------------------------------------------------------------


def _days(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    return [start + datetime.timedelta(days=i) for i in range((end - start).days + 1)]


def _rows(*, user, where: Q) -> dict[tuple[int, datetime.date], DailyStat]:
    """DailyStat rows matching `where`, inside the user's jurisdiction, by (node id, day)."""
    qs = (
        DailyStat.objects.visible_to(user)
        .filter(where)
        .only("node_id", "day", "updated_at", *STAT_FIELDS)
    )
    return {(row.node_id, row.day): row for row in qs}


def _fill(wanted: list[tuple[GridNode, datetime.date]], rows) -> list[NodeStats]:
    """NodeStats for each (node, day) wanted, from its row or, without one, from zeros and
    the subtree's structure (one query for all the nodes lacking a row)."""
    missing = {node.pk for node, day in wanted if (node.pk, day) not in rows}
    structure = _structure(missing) if missing else {}
    result = []
    for node, day in wanted:
        row = rows.get((node.pk, day))
        if row is not None:
            values = {name: getattr(row, name) for name in STAT_FIELDS}
            result.append(NodeStats(node=node, day=day, values=values, as_of=row.updated_at))
        else:
            values = dict.fromkeys(STAT_FIELDS, 0) | structure[node.pk]
            result.append(NodeStats(node=node, day=day, values=values))
    return result


class _Count(Func):
    # COUNT(*) of a correlated subquery's rows, without a GROUP BY.
    function = "COUNT"
    template = "%(function)s(*)"
    output_field = IntegerField()


def _subquery_count(queryset) -> Subquery:
    return Subquery(
        queryset.order_by().annotate(n=_Count()).values("n"), output_field=IntegerField()
    )


def leaf_grids():
    """The grids that report: nodes with no children (hamlets, unit and dedicated grids, and
    any territorial node nobody has divided yet)."""
    return GridNode.objects.filter(children__isnull=True)


def _structure(node_ids) -> dict[int, dict[str, int]]:
    """Households and leaves in the subtree of each node, counted from the tree (one query,
    each count an indexed prefix match on the path)."""
    households = Household.objects.filter(grid__path__startswith=OuterRef("path"))
    leaves = leaf_grids().filter(path__startswith=OuterRef("path"))
    qs = (
        GridNode.objects.filter(pk__in=node_ids)
        .annotate(
            households_total=_subquery_count(households), leaves_expected=_subquery_count(leaves)
        )
        .values("pk", "households_total", "leaves_expected")
    )
    return {
        row["pk"]: {
            "households_total": row["households_total"] or 0,
            "leaves_expected": row["leaves_expected"] or 0,
        }
        for row in qs
    }


# --- Dates from a query string --------------------------------------------------------------

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: Dates outside this span are typing mistakes, not days of an epidemic.
EARLIEST_DAY = datetime.date(2000, 1, 1)
LATEST_DAY = datetime.date(2099, 12, 31)


def parse_day(
    text: str | None, *, param: str, default: datetime.date | None = None
) -> datetime.date:
    """A YYYY-MM-DD date from a query parameter, or ValidationError({param: message})."""
    if text is None or text == "":
        if default is None:
            _date_error(param, _("Give a date as YYYY-MM-DD."))
        return default
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        day = datetime.date.fromisoformat(text)
    except ValueError:
        _date_error(
            param, _('"%(value)s" is not a date: use YYYY-MM-DD, e.g. 2022-02-10.'), value=text[:40]
        )
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        _date_error(
            param,
            _("%(value)s is out of range: dates run from %(first)s to %(last)s."),
            value=text,
            first=EARLIEST_DAY.isoformat(),
            last=LATEST_DAY.isoformat(),
        )
    return day


def parse_range(start: str | None, end: str | None) -> tuple[datetime.date, datetime.date]:
    """A from/to pair of query parameters: both given, in order, at most MAX_SERIES_DAYS."""
    if not start or not end:
        _date_error(
            "from" if not start else "to",
            _("Give both from and to (YYYY-MM-DD) for a daily series."),
        )
    first = parse_day(start, param="from")
    last = parse_day(end, param="to")
    if first > last:
        _date_error(
            "to",
            _("to (%(to)s) is before from (%(from)s)."),
            to=last.isoformat(),
            **{"from": first.isoformat()},
        )
    if (last - first).days + 1 > MAX_SERIES_DAYS:
        _date_error(
            "to",
            _("A series covers at most %(max)s days; %(from)s to %(to)s is %(days)s."),
            max=MAX_SERIES_DAYS,
            days=(last - first).days + 1,
            to=last.isoformat(),
            **{"from": first.isoformat()},
        )
    return first, last


def _date_error(param: str, message, **params):
    raise ValidationError({param: Problem(param, message, params).text})
