"""The contract between everything that writes checks or zero reports and the rollup.

Every such write calls mark_dirty() inside its transaction. The RollupDirty rows commit
with the write or not at all, so the incremental rollup sees every committed change,
however late it commits. With no Redis (the embedded default), the rollup also runs
in-process once the transaction commits, so the dashboard stays fresh without a beat.
"""

import datetime
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

from .models import RollupDirty


def mark_dirty(*, pairs: Iterable[tuple[int, datetime.date]]) -> None:
    """Record (leaf grid id, date) pairs whose numbers changed in this transaction."""
    rows = [RollupDirty(grid_id=grid_id, day=day) for grid_id, day in set(pairs)]
    if not rows:
        return
    RollupDirty.objects.bulk_create(rows)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # A rolled-back transaction drops the callback with its rows; a rollup that finds
        # nothing dirty is a no-op, so several callbacks for one transaction are harmless.
        transaction.on_commit(_run_rollup, robust=True)


def _run_rollup() -> None:
    from .tasks import rollup_incremental

    rollup_incremental.delay()
