"""Celery tasks of the rollup. Each is idempotent, takes only plain values (a date as
"YYYY-MM-DD") and calls one service in screening.rollup; the schedule is
settings.CELERY_BEAT_SCHEDULE. In the embedded default (no Redis) rollup_incremental runs
in-process after each commit (screening.ledger)."""

import datetime
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import rollup

logger = logging.getLogger(__name__)

# Differences the cross-check writes to the log one by one; the rest are counted.
LOGGED_DIFFERENCES = 20


@shared_task(ignore_result=True)
def rollup_incremental() -> dict:
    """Fold the queued changes into DailyStat (every 30 s under beat).

    A worker run yields when another run holds the lock: the queue waits for the next
    beat. The eager, in-process run waits for the lock instead, because no beat follows it.
    """
    result = rollup.run_incremental(wait=settings.CELERY_TASK_ALWAYS_EAGER)
    return result.as_dict()


@shared_task
def rollup_full(day: str | None = None) -> dict:
    """Recompute one date from the raw rows; without a date, yesterday (the nightly run)."""
    when = (
        datetime.date.fromisoformat(day)
        if day
        else timezone.localdate() - datetime.timedelta(days=1)
    )
    result = rollup.full_recompute(when)
    log_differences(result, context="full rollup")
    return result.as_dict()


@shared_task
def rollup_crosscheck_today() -> dict:
    """The hourly cross-check: recompute today from the raw rows and log any difference
    from what the incremental rollup had stored (then the recomputed numbers stand).
    Differences in households_total or leaves_expected are expected after the tree or the
    households changed, which the incremental rollup leaves to this run."""
    result = rollup.full_recompute(timezone.localdate())
    log_differences(result, context="cross-check")
    return result.as_dict()


def log_differences(result: rollup.FullResult, *, context: str) -> None:
    if not result.differences:
        logger.info("%s %s: %d nodes, no difference", context, result.day, result.nodes)
        return
    logger.warning(
        "%s %s: %d of %d nodes differed from the stored rollup (%d rows were missing)",
        context,
        result.day,
        len(result.differences),
        result.nodes,
        sum(1 for d in result.differences if d.stored is None),
    )
    for difference in result.differences[:LOGGED_DIFFERENCES]:
        if difference.stored is None:
            logger.warning("  %s: no row; now %s", difference.code, difference.computed)
            continue
        changed = {
            name: (difference.stored[name], value)
            for name, value in difference.computed.items()
            if difference.stored[name] != value
        }
        logger.warning("  %s: (stored, recomputed) %s", difference.code, changed)
