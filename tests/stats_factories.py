"""DailyStat rows written directly: they are the rollup's output contract, so the read side
(dashboard, stats API, daily report) can be tested without running the rollup."""

import datetime

from django.utils import timezone

from screening.metrics import METRIC_NAMES
from screening.models import DailyStat
from screening.stats import STAT_FIELDS


def put_stat(node, day: datetime.date, *, updated_at=None, **values) -> DailyStat:
    """Write (or overwrite) the row of `node` on `day`; unnamed numbers are zero."""
    unknown = set(values) - set(STAT_FIELDS)
    assert not unknown, f"not DailyStat numbers: {unknown}"
    numbers = dict.fromkeys(STAT_FIELDS, 0) | values
    row, _ = DailyStat.objects.update_or_create(
        node=node, day=day, defaults={**numbers, "updated_at": updated_at or timezone.now()}
    )
    return row


def numbers(seed: int) -> dict:
    """A distinct, consistent set of numbers for a node: metrics from the seed, households
    checked within households, leaves reported within leaves expected."""
    metrics = {name: seed * 10 + i for i, name in enumerate(METRIC_NAMES)}
    return metrics | {
        "households_total": 100 + seed,
        "households_checked": 50 + seed,
        "leaves_expected": 4,
        "leaves_reported": seed % 5,
    }
