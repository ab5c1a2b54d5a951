"""Demo checks: door-to-door checks and zero reports for today and the 13 days before it
(local Asia/Shanghai dates), then the full rollup of each of those days, so the dashboard
has today's figures, yesterday's and a 14-day trend as soon as the demo is loaded.

- Each household-bearing leaf is checked on most days by the worker assigned to it (the
  deepest active assignment with an account that covers it: `gridworker` in its hamlet,
  a village's full-time worker elsewhere; see personnel.demo). Debao (the county of the
  demo commander and worker) checks 60-90 % of its households a day, the others 30-60 %.
- Findings are what the articles describe: some returnees, rare ones from medium/high-risk
  areas, rare yellow codes, very rare red codes and fever; every county samples
  everyone on one day in three (its rounds of mass testing). A few checks are voided.
- Leaves without households (hospitals, schools, checkpoints, ...) file zero reports.
- Some leaves do not report on a day; today more of them (the day is not over), so the
  dashboard's 未报告 list has entries. `gridworker`'s own hamlet is 40 % done today, so
  /work/ shows households still to check.

Rows are written in bulk, a voided check with its void revision; then, in the same
transaction, rollup.full_recompute rebuilds the 14 days from them. The
checks have deterministic ids (uuid5 of household code and date) and every draw comes from
a random stream seeded by leaf and date, so a second run on the same day writes nothing.

Only the small scale gets checks: at the baise scale `manage.py bench` generates its own
million checks a day, and 14 demo days there would cost minutes.
"""

from __future__ import annotations

import datetime
import random
import time
import uuid
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from grids.demo import CITY_CODE
from grids.models import GridNode, Household
from personnel.demo import insert_rows
from personnel.models import Assignment

from . import ledger, rollup
from .metrics import METRIC_NAMES
from .models import Check, CheckRevision, Method, ZeroReport
from .services import SNAPSHOT_FIELDS

SEED = 2020
DAYS = 14
SCALES = {"small"}
DEBAO = "451024000000"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "demo-checks.gridcmd")
BATCH = 1000
CHUNK = 5000  # ids per IN (...) list
GRIDWORKER = "gridworker"
GRIDWORKER_SHARE_TODAY = 0.4
# Share of leaves that do not report on a day: (Debao, elsewhere), past days and today.
MISSING = {False: (0.03, 0.08), True: (0.10, 0.25)}
COVERAGE = {True: (0.6, 0.9), False: (0.3, 0.6)}  # households checked a day, Debao or not
VOID_REASON = "重复录入"


def check_uuid(household_code: str, day: datetime.date) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{household_code}/{day.isoformat()}")


@dataclass(frozen=True)
class Leaf:
    id: int
    code: str
    path: str


def demo_days(today: datetime.date) -> list[datetime.date]:
    return [today - datetime.timedelta(days=k) for k in range(DAYS - 1, -1, -1)]


def load_writers(
    first_day: datetime.date, today: datetime.date
) -> tuple[dict[str, int], int | None]:
    """{grid path: user id} of the accounts assigned there over the whole window (a person
    with a user, an assignment active from the first day to today), and the gridworker's id."""
    rows = (
        Assignment.objects.filter(
            person__user__isnull=False,
            grid__path__startswith=f"/{CITY_CODE}/",
            start_date__lte=first_day,
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
        .order_by("grid__path", "person__user_id")
        .values_list("grid__path", "person__user_id", "person__user__username")
    )
    writers: dict[str, int] = {}
    gridworker = None
    for path, user_id, username in rows:
        writers.setdefault(path, user_id)
        if username == GRIDWORKER:
            writers[path] = user_id  # its own hamlet is the gridworker's
            gridworker = user_id
    return writers, gridworker


def writer_of(path: str, writers: dict[str, int]) -> int | None:
    """The account of the deepest assignment covering the grid (what worker_grids allows)."""
    codes = path.strip("/").split("/")
    for depth in range(len(codes), 0, -1):
        user_id = writers.get("/" + "/".join(codes[:depth]) + "/")
        if user_id is not None:
            return user_id
    return None


def local_moment(day: datetime.date, hours: float) -> datetime.datetime:
    zone = timezone.get_current_timezone()
    midnight = datetime.datetime.combine(day, datetime.time(), tzinfo=zone)
    return midnight + datetime.timedelta(hours=hours)


def draw_counts(rng: random.Random, size: int, sampling_day: bool) -> tuple[dict, str]:
    present = sum(1 for _ in range(size) if rng.random() < 0.9)
    returnees = min(present, rng.choice((1, 1, 1, 2))) if rng.random() < 0.06 else 0
    risk = 1 if returnees and rng.random() < 0.05 else 0
    yellow = 1 if present and rng.random() < 0.003 else 0
    red = 1 if present > yellow and rng.random() < 0.0003 else 0
    fever = 1 if present and rng.random() < 0.0008 else 0
    tested = rng.random() < 0.5
    samples = present if sampling_day else (returnees if tested else 0)
    counts = {
        "persons_present": present,
        "returnees": returnees,
        "returnees_risk_area": risk,
        "yellow_codes": yellow,
        "red_codes": red,
        "fever": fever,
        "samples_taken": samples,
    }
    assert set(counts) == set(METRIC_NAMES)
    notes = []
    if risk:
        notes.append("自中高风险地区返乡，已报告并落实集中隔离")
    elif returnees:
        notes.append("返乡人员，已登记并落实居家健康监测")
    if yellow or red:
        notes.append("健康码异常，已通知核酸检测")
    if fever:
        notes.append("体温异常，已通知村医并转运")
    return counts, "；".join(notes)


def plan_checks(today: datetime.date, now: datetime.datetime) -> tuple[list[dict], list[dict]]:
    """Every demo check and zero report of the window, as field dicts (no ids yet)."""
    days = demo_days(today)
    writers, gridworker = load_writers(days[0], today)
    nodes = list(
        GridNode.objects.filter(path__startswith=f"/{CITY_CODE}/")
        .order_by("path")
        .values_list("id", "code", "path", "parent_id")
    )
    parents = {parent_id for *_, parent_id in nodes}
    leaves = [Leaf(pk, code, path) for pk, code, path, _ in nodes if pk not in parents]
    households: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    for pk, code, grid_id, size in (
        Household.objects.filter(grid__path__startswith=f"/{CITY_CODE}/")
        .order_by("code")
        .values_list("id", "code", "grid_id", "size")
    ):
        households[grid_id].append((pk, code, size))

    checks, zero_reports = [], []
    for day in days:
        is_today = day == today
        for leaf in leaves:
            worker = writer_of(leaf.path, writers)
            if worker is None:
                continue
            county = leaf.path.strip("/").split("/")[1] if leaf.path.count("/") > 2 else CITY_CODE
            debao = county == DEBAO
            mine = worker == gridworker and gridworker is not None
            rng = random.Random(f"{SEED}-{leaf.code}-{day.isoformat()}")
            missing = rng.random() < MISSING[is_today][0 if debao else 1]
            if missing and not mine:
                continue
            homes = households.get(leaf.id)
            if not homes:
                zero_reports.append({"grid_id": leaf.id, "reported_on": day, "reporter_id": worker})
                continue
            share = rng.uniform(*COVERAGE[debao])
            if mine and is_today:
                share = GRIDWORKER_SHARE_TODAY
            checked = rng.sample(homes, max(1, round(share * len(homes))))
            # A county's rounds of mass testing: every third day, staggered by county.
            sampling_day = (day.toordinal() + zlib.crc32(county.encode())) % 3 == 0
            start, end = local_moment(day, 8), local_moment(day, 19)
            if is_today:
                end = min(end, now - datetime.timedelta(minutes=1))
                if end < start + datetime.timedelta(minutes=30):
                    start = local_moment(day, 0)
                end = max(end, start)
            for household_id, code, size in checked:
                counts, note = draw_counts(rng, size, sampling_day)
                at = start + (end - start) * rng.random()
                voided = rng.random() < 0.003
                checks.append(
                    {
                        "uuid": check_uuid(code, day),
                        "household_id": household_id,
                        "grid_id": leaf.id,
                        "worker_id": worker,
                        "checked_on": day,
                        "checked_at": at,
                        "method": Method.PHONE if rng.random() < 0.2 else Method.VISIT,
                        "note": note,
                        **counts,
                        "voided_at": min(at + datetime.timedelta(minutes=15), now)
                        if voided
                        else None,
                        "void_reason": VOID_REASON if voided else "",
                    }
                )
    return checks, zero_reports


def seed_checks(
    *,
    scale: str,
    log: Callable[[str], None] = lambda message: None,
    today: datetime.date | None = None,
) -> dict:
    """Write the demo checks and zero reports of the 14 days and roll each day up in full.
    A second run on the same day writes nothing (and the rollup finds nothing to change)."""
    summary = {"checks": 0, "zero_reports": 0, "days": 0}
    if scale not in SCALES:
        log(f"Checks: none at the '{scale}' scale (`manage.py bench` generates its own).")
        return summary
    started = time.perf_counter()
    now = timezone.now()
    today = today or timezone.localdate()
    days = demo_days(today)
    checks, zero_reports = plan_checks(today, now)
    if not checks and not zero_reports:
        log("Checks: no worker is assigned in the demo tree; no checks written.")
        return summary
    with transaction.atomic():
        written = write_checks(checks, now)
        filed = write_zero_reports(zero_reports, days)
        # The full rollups below, in the same transaction, count every row written here,
        # so nothing is queued for the incremental rollup.
        changed = 0
        for day in days:
            result = rollup.full_recompute(day)
            changed += result.inserted + result.updated
    summary.update(checks=len(written), zero_reports=len(filed), days=len(days))
    log(
        f"Checks: {len(written):,} written ({len(checks):,} planned), {len(filed):,} zero reports, "
        f"{changed:,} daily statistics rolled up over {len(days)} days "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return summary


def write_checks(checks: list[dict], now: datetime.datetime) -> list[dict]:
    """Insert the checks whose uuid is not stored yet, and the void revision of a voided one
    (a check's row is its own creation record)."""
    uuids = [c["uuid"] for c in checks]
    known: set[uuid.UUID] = set()
    for start in range(0, len(uuids), CHUNK):
        known.update(
            Check.objects.filter(uuid__in=uuids[start : start + CHUNK]).values_list(
                "uuid", flat=True
            )
        )
    new = [c | {"created_at": now, "updated_at": now} for c in checks if c["uuid"] not in known]
    ledger.prepare_created(new)  # which check counts each household (its counts_household)
    insert_rows(Check, new)
    ids: dict[uuid.UUID, int] = {}
    new_uuids = [c["uuid"] for c in new if c["voided_at"] is not None]
    for start in range(0, len(new_uuids), CHUNK):
        ids.update(
            Check.objects.filter(uuid__in=new_uuids[start : start + CHUNK]).values_list(
                "uuid", "id"
            )
        )
    revisions = []
    for row in new:
        if row["voided_at"] is None:
            continue
        before = {name: row[name] for name in SNAPSHOT_FIELDS} | {
            "voided_at": None,
            "void_reason": "",
        }
        after = before | {
            "voided_at": row["voided_at"].isoformat(),
            "void_reason": row["void_reason"],
        }
        revisions.append(
            {
                "check_record_id": ids[row["uuid"]],
                "actor_id": row["worker_id"],
                "at": now,
                "action": CheckRevision.Action.VOID,
                "before": before,
                "after": after,
            }
        )
    insert_rows(CheckRevision, revisions)
    return new


def write_zero_reports(reports: list[dict], days: list[datetime.date]) -> list[dict]:
    known = set(
        ZeroReport.objects.filter(reported_on__gte=days[0], reported_on__lte=days[-1]).values_list(
            "grid_id", "reported_on"
        )
    )
    new = [z for z in reports if (z["grid_id"], z["reported_on"]) not in known]
    ZeroReport.objects.bulk_create([ZeroReport(**z) for z in new], batch_size=BATCH)
    return new
