"""`manage.py rollup --date YYYY-MM-DD`: recompute one date's DailyStat rows from the raw
checks and zero reports, printing what differed from the stored rows. With --incremental,
fold the queued changes instead (only that date's, when --date is given)."""

import datetime

from django.core.management.base import BaseCommand, CommandError

from screening import rollup

# Differences printed one by one; the rest are counted.
SHOWN = 20


def parse_date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be a date as YYYY-MM-DD, not {value!r}.") from None


class Command(BaseCommand):
    help = (
        "Recompute the daily statistics of a date (or fold the queued changes with --incremental)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the local date, YYYY-MM-DD")
        parser.add_argument(
            "--incremental",
            action="store_true",
            help="fold the queued changes (of --date only, if given) instead of recomputing",
        )

    def handle(self, *args, date, incremental, **options):
        day = parse_date(date) if date is not None else None
        if incremental:
            result = rollup.run_incremental(wait=True, day=day)
            self.stdout.write(
                f"Folded {result.deltas_consumed} queued change(s) of {result.grids} grid(s) in "
                f"{result.batches} batch(es); {result.rows_updated} row(s) updated"
                + (
                    f"; rebuilt {', '.join(d.isoformat() for d in result.full_days)}"
                    if result.full_days
                    else ""
                )
                + "."
            )
            return
        if day is None:
            raise CommandError("Give --date YYYY-MM-DD (or --incremental).")
        result = rollup.full_recompute(day)
        self.stdout.write(
            f"{day.isoformat()}: {result.nodes} nodes, {result.inserted} inserted, "
            f"{result.updated} updated, {result.deltas_consumed} queued change(s) consumed."
        )
        for difference in result.differences[:SHOWN]:
            changed = {
                name: (difference.stored[name], value)
                for name, value in difference.computed.items()
                if difference.stored[name] != value
            }
            self.stdout.write(f"  {difference.code}: (stored, recomputed) {changed}")
        if len(result.differences) > SHOWN:
            self.stdout.write(f"  ... and {len(result.differences) - SHOWN} more.")
