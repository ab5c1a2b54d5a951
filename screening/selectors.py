"""Reads of checks, and the one rule of who may write them.

Reading is scoped like everything else (ScopedQuerySet.visible_to: the jurisdiction's
subtree), plus the checks a user wrote themselves. Writing is a different question, and
worker_grids() answers it, in one place: a user may write checks for the households in the
subtree of every grid where their Person holds an Assignment active that day (any role); a
superuser anywhere (docs/adr/0010-offline-check-queue.md).
"""

import datetime
import uuid as uuid_module

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, Length, Substr
from django.http import Http404
from django.utils import timezone

from grids.models import GridNode, Household
from personnel.models import Assignment

from .models import Check, ZeroReport

#: The worker's home page lists at most this many grids (a worker holds a hamlet or two; a
#: superuser, who may write anywhere, would otherwise get the whole tree).
WORKER_GRID_LIMIT = 200


def local_today() -> datetime.date:
    """Today in settings.TIME_ZONE (Asia/Shanghai): the date a check counts for."""
    return timezone.localdate()


# --- Who may write ----------------------------------------------------------------------------


def worker_grids(user, on: datetime.date | None = None) -> QuerySet[GridNode]:
    """THE rule of who may write checks: the grids where the user may write checks on the
    given day (default today) — every grid where their Person holds an active Assignment,
    with its whole subtree; every grid for a superuser; none for anyone else.

    Lazy: it composes into the caller's query as one EXISTS, so "may I write here?" costs
    no query of its own."""
    if user is None or not user.is_authenticated or not user.is_active:
        return GridNode.objects.none()
    if user.is_superuser:
        return GridNode.objects.all()
    day = on or local_today()
    # An assignment covers a grid when the assigned grid's path is a prefix of the grid's.
    covering = (
        Assignment.objects.active_on(day)
        .filter(person__user=user)
        .filter(grid__path=Substr(OuterRef("path"), 1, Length("grid__path")))
    )
    return GridNode.objects.filter(Exists(covering))


def worker_leaf_grids(*, user, on: datetime.date | None = None) -> QuerySet[GridNode]:
    """The leaf grids a worker checks households in (at most WORKER_GRID_LIMIT), each
    annotated with households_total, households_checked on the day and zero_reported —
    one query."""
    day = on or local_today()

    def count(qs, of: str):
        grouped = qs.order_by().values("grid").annotate(n=Count(of, distinct=True)).values("n")
        return Coalesce(Subquery(grouped, output_field=IntegerField()), 0)

    return (
        worker_grids(user, on=day)
        .filter(~Exists(GridNode.objects.filter(parent=OuterRef("pk"))))
        .annotate(
            households_total=count(Household.objects.filter(grid=OuterRef("pk")), "pk"),
            households_checked=count(
                Check.objects.counted().filter(grid=OuterRef("pk"), checked_on=day), "household"
            ),
            zero_reported=Exists(ZeroReport.objects.filter(grid=OuterRef("pk"), reported_on=day)),
        )
        .defer("boundary")
        .order_by("path")[:WORKER_GRID_LIMIT]
    )


def worker_grid_get(*, user, code: str, on: datetime.date | None = None) -> GridNode:
    """A grid the user may write checks for, with zero_reported for the day; 404 otherwise
    (the worker's pages show nothing else)."""
    day = on or local_today()
    node = (
        worker_grids(user, on=day)
        .annotate(
            zero_reported=Exists(ZeroReport.objects.filter(grid=OuterRef("pk"), reported_on=day)),
            has_children=Exists(GridNode.objects.filter(parent=OuterRef("pk"))),
        )
        .defer("boundary")
        .filter(code=code)
        .first()
    )
    if node is None:
        raise Http404
    return node


def households_with_status(*, user, grid: GridNode | None, day: datetime.date | None = None):
    """The households in a grid's subtree (grid=None: anywhere) that the user may write
    checks for, each annotated with `checked` (a counted check on the day), ordered by
    code — one query."""
    day = day or local_today()
    qs = Household.objects.filter(grid__in=worker_grids(user, on=day))
    if grid is not None:
        qs = qs.filter(grid__path__startswith=grid.path)
    return qs.annotate(
        checked=Exists(Check.objects.counted().filter(household=OuterRef("pk"), checked_on=day))
    ).order_by("code")


# --- Reads ------------------------------------------------------------------------------------


def check_scope(*, user) -> QuerySet[Check]:
    """Checks a user may read: those in their jurisdiction, and those they wrote."""
    if user is None or not user.is_authenticated:
        return Check.objects.none()
    return Check.objects.visible_to(user) | Check.objects.filter(worker=user)


#: The days a list of checks covers when it names none: the dashboard's trend, to today.
CHECK_LIST_DEFAULT_DAYS = 14


def check_list_days(
    *,
    day: datetime.date | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> list[datetime.date]:
    """The days a list of checks covers: the day; or from `from` to `to` inclusive, where
    `to` defaults to today and `from` to CHECK_LIST_DEFAULT_DAYS days up to `to`."""
    if day is not None:
        return [day]
    last = date_to or local_today()
    first = date_from or last - datetime.timedelta(days=CHECK_LIST_DEFAULT_DAYS - 1)
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


def check_list(
    *,
    user,
    grid: GridNode | None = None,
    day: datetime.date | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> QuerySet[Check]:
    """Checks the user may read on the days of check_list_days(), optionally in a grid's
    subtree, newest first, with household, grid and worker joined in.

    The days are listed one by one (checked_on = ANY(days)), never as an open range: with
    a subtree's grids, both columns of the (checked_on, grid) index are then probed, and
    checks keep no index on grid alone, which cost every insert (docs/adr/0014)."""
    days = check_list_days(day=day, date_from=date_from, date_to=date_to)
    qs = (
        check_scope(user=user)
        .select_related("household", "grid", "worker")
        .filter(checked_on__in=days)
    )
    if grid is not None:
        qs = qs.filter(grid__path__startswith=grid.path)
    # Newest first, day by day (checked_on is checked_at's local date): the order of the
    # (checked_on, checked_at) index, so a page reads its rows instead of sorting them all.
    return qs.order_by("-checked_on", "-checked_at", "-pk")


def check_get(*, user, uuid) -> Check:
    """A check by its submission id, among those the user may read; 404 otherwise."""
    try:
        value = uuid_module.UUID(str(uuid))
    except ValueError:
        raise Http404 from None
    check = (
        check_scope(user=user)
        .select_related("household", "grid", "worker")
        .filter(uuid=value)
        .first()
    )
    if check is None:
        raise Http404
    return check
