"""Door-to-door checks (入户排查), zero reports (零报告) and the daily statistics that the
rollup keeps for every node of the tree and every date.

The metric columns of Check and DailyStat come from screening.metrics.METRICS.
RollupDelta is the rollup's work queue: every write that changes a day's numbers inserts
its change in the same transaction, so a late commit can never be skipped (docs/adr/0012).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from grids.models import GridNode, Household
from grids.scoping import ScopedQuerySet

from .metrics import METRICS


class Method(models.TextChoices):
    VISIT = "visit", _("home visit")
    PHONE = "phone", _("phone call")


class CheckQuerySet(ScopedQuerySet):
    path_field = "grid__path"

    def counted(self):
        """Checks that count in the totals: every check not voided."""
        return self.filter(voided_at__isnull=True)


class Check(models.Model):
    uuid = models.UUIDField(_("submission id"), unique=True, default=uuid.uuid4)
    # No index of its own: every lookup by household names its day(s), and
    # check_day_household_idx (checked_on, household) serves them (ADR 0014).
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        on_delete=models.PROTECT,
        related_name="checks",
        db_index=False,
    )
    # The household's grid when the check was written; the rollup groups by it. No index of
    # its own: every read by grid names its days, and check_day_grid_idx (checked_on, grid)
    # serves it; an index on grid alone cost 10-25% of the batch API (docs/adr/0014).
    grid = models.ForeignKey(
        GridNode,
        verbose_name=_("grid"),
        on_delete=models.PROTECT,
        related_name="checks",
        db_index=False,
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("grid worker"),
        on_delete=models.PROTECT,
        related_name="checks",
    )
    checked_on = models.DateField(_("date checked"))  # local date, Asia/Shanghai
    checked_at = models.DateTimeField(_("time checked"))
    method = models.CharField(
        _("method"), max_length=8, choices=Method.choices, default=Method.VISIT
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    # True on exactly one counted check per household, grid and day: the one that counts the
    # household in households_checked. Kept by screening.ledger (docs/adr/0012).
    counts_household = models.BooleanField(default=False, editable=False)
    void_reason = models.CharField(_("reason for voiding"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CheckQuerySet.as_manager()

    class Meta:
        verbose_name = _("household check")
        verbose_name_plural = _("household checks")
        # checked_on is checked_at's local date, so this is newest first.
        ordering = ["-checked_on", "-checked_at"]
        indexes = [
            models.Index(fields=["checked_on", "grid"], name="check_day_grid_idx"),
            # Lists newest first: a page of a county's checks reads ~100 entries of it,
            # instead of sorting the subtree's 14 days (ADR 0014, addendum). New entries go
            # to the end of the day's part, so keeping it costs little.
            models.Index(fields=["checked_on", "checked_at"], name="check_day_time_idx"),
            # Day first: a day's new entries stay together in a small, hot part of the
            # index, instead of one random page of all of it per check (ADR 0014).
            models.Index(fields=["checked_on", "household"], name="check_day_household_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(method__in=[m.value for m in Method]), name="check_method_valid"
            ),
        ]

    def __str__(self):
        return f"{self.household_id} {self.checked_on} ({self.uuid})"


class CheckRevision(models.Model):
    """The audit of a check: each same-day correction and a void. Nothing about a check is
    changed without a revision recording what it was, so a check's row is its own creation
    record: its worker, its created_at, and its first values, which are the first revision's
    `before` once it has one (ADR 0010). Revisions with action "create" were written until
    2026-11; no new ones are."""

    class Action(models.TextChoices):
        CREATE = "create", _("created")
        CORRECT = "correct", _("corrected")
        VOID = "void", _("voided")

    check_record = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="revisions")
    action = models.CharField(max_length=8, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.get_action_display()} {self.check_record_id}"


class ZeroReportQuerySet(ScopedQuerySet):
    path_field = "grid__path"


class ZeroReport(models.Model):
    """零报告: a grid says "nothing to report today"; it counts as reported."""

    grid = models.ForeignKey(
        GridNode, verbose_name=_("grid"), on_delete=models.PROTECT, related_name="zero_reports"
    )
    reported_on = models.DateField(_("date"))
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ZeroReportQuerySet.as_manager()

    class Meta:
        verbose_name = _("zero report")
        verbose_name_plural = _("zero reports")
        constraints = [
            models.UniqueConstraint(fields=["grid", "reported_on"], name="zero_report_once_a_day")
        ]

    def __str__(self):
        return f"{self.grid_id} {self.reported_on}"


class RollupDelta(models.Model):
    """A change to one grid's numbers for one date that the rollup has not folded into
    DailyStat yet: the change of each metric, of households_checked, over the checks one
    transaction wrote (screening.ledger). Insert-only; the rollup folds a batch and deletes
    exactly the rows it folded, by id, in one transaction. A row without a grid says the
    whole date must be recomputed from the raw rows (the tree changed under it)."""

    # No index on grid: the queue is read and deleted by id only, and every index is one
    # more write for each check stored.
    grid = models.ForeignKey(
        GridNode,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        null=True,
        db_index=False,
    )
    day = models.DateField()
    households_checked = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.grid_id or '*'} {self.day}"


class DailyStatQuerySet(ScopedQuerySet):
    path_field = "node__path"


class DailyStat(models.Model):
    """One node's numbers for one date, over its whole subtree."""

    # One index, daily_stat_day_node (day, node), and no foreign key in the database: a
    # day's first build appends its 21,711 rows at the end of that index, where a (node, day)
    # index and a key check per row tripled its cost (docs/adr/0014). The rows are derived
    # data, rebuilt from the checks; Django still deletes them with their node.
    node = models.ForeignKey(
        GridNode,
        on_delete=models.CASCADE,
        related_name="daily_stats",
        db_index=False,
        db_constraint=False,
    )
    day = models.DateField()
    households_total = models.PositiveIntegerField(default=0)
    households_checked = models.PositiveIntegerField(default=0)
    leaves_expected = models.PositiveIntegerField(default=0)
    leaves_reported = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    objects = DailyStatQuerySet.as_manager()

    class Meta:
        verbose_name = _("daily statistic")
        verbose_name_plural = _("daily statistics")
        # A node's days are read as day = ANY(days): one probe a day.
        constraints = [models.UniqueConstraint(fields=["day", "node"], name="daily_stat_day_node")]

    def __str__(self):
        return f"{self.node_id} {self.day}"


for _metric in METRICS:
    Check.add_to_class(_metric.name, models.PositiveIntegerField(_metric.label, default=0))
    DailyStat.add_to_class(_metric.name, models.PositiveIntegerField(_metric.label, default=0))
    RollupDelta.add_to_class(_metric.name, models.IntegerField(default=0))
