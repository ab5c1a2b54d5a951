"""Writes of checks and zero reports. Every submission, correction, void and zero report
goes through here: each is atomic, calls screening.ledger in the same transaction, so
the rollup can never miss it, and each correction or void writes its audit (CheckRevision;
a check's own row records its creation).

Rules (docs/adr/0010-offline-check-queue.md):
- A check is written only for a household in worker_grids(user) on the day it was made.
- A submission id (uuid) is stored once. Sending it again returns the stored check, even
  if the payload differs: the client's queue resends after a lost answer, and the first
  answer the server gave is the one that counts.
- Only the author corrects a check, on the local day it was made. The author voids it that
  day; a commander or an administrator voids any check in their jurisdiction, any day.
"""

import datetime
import functools
import uuid as uuid_module
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role, user_has_role
from gridcmd.arrays import array_literal
from gridcmd.i18n import Problem, bilingual
from grids.models import GridNode, Household
from grids.scoping import path_in_jurisdiction
from grids.services import raise_problems

from .ledger import (
    after_queueing,
    metrics,
    prepare_created,
    record_corrected,
    record_created,
    record_created_sql,
    record_voided,
    record_zero_report,
)
from .metrics import METRIC_NAMES
from .models import Check, CheckRevision, Method, ZeroReport
from .selectors import local_today, worker_grids

#: No household has more people than this; a larger count is a typing slip.
MAX_COUNT = 100
#: A check or zero report may be sent this many days after it was made (a phone offline for
#: a few days still gets its queue through); older ones are refused.
MAX_AGE_DAYS = 7
#: A phone clock this far ahead of the server's is still believed.
CLOCK_SKEW = datetime.timedelta(minutes=10)
NOTE_MAX = 500
REASON_MAX = 200
#: How often a write is retried after losing a race on a unique submission id.
RACE_RETRIES = 3

# (smaller, larger): a count that cannot exceed another one of the same household.
AT_MOST = (
    ("returnees_risk_area", "returnees"),
    ("returnees", "persons_present"),
    ("fever", "persons_present"),
    ("samples_taken", "persons_present"),
)
assert {name for pair in AT_MOST for name in pair} <= set(METRIC_NAMES)


class BatchStatus:
    CREATED = "created"
    EXISTS = "exists"
    ERROR = "error"


@dataclass(frozen=True)
class CheckInput:
    """One check as a client submits it, before the household is looked up."""

    uuid: uuid_module.UUID
    household_code: str
    checked_at: datetime.datetime | None = None
    method: str = Method.VISIT
    note: str = ""
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass
class BatchItemResult:
    index: int
    uuid: uuid_module.UUID
    status: str  # BatchStatus
    check_id: int | None = None
    errors: dict[str, list[str]] | None = None
    # A created check as written, with its household's code and its grid's path: enough to
    # answer with the check without reading it back.
    written: dict | None = None


# --- Validation (pure) -------------------------------------------------------------------------


def count_problems(counts: Mapping[str, int]) -> list[Problem]:
    """Problems with a check's counts: unknown names, out of range, one exceeding another."""
    problems = []
    for name in counts:
        if name not in METRIC_NAMES:
            problems.append(Problem(name, _("Unknown count.")))
    for name in METRIC_NAMES:
        value = counts.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            problems.append(
                Problem(name, _("Must be a whole number from 0 to %(max)s."), {"max": MAX_COUNT})
            )
    if problems:
        return problems
    for smaller, larger in AT_MOST:
        if counts.get(smaller, 0) > counts.get(larger, 0):
            problems.append(
                Problem(
                    smaller,
                    _("Cannot be more than %(other)s (%(value)s)."),
                    {"other": _label(larger), "value": counts.get(larger, 0)},
                )
            )
    codes = counts.get("yellow_codes", 0) + counts.get("red_codes", 0)
    if codes > counts.get("persons_present", 0):
        problems.append(
            Problem(
                "red_codes",
                _(
                    "Yellow and red health codes together cannot be more than %(other)s (%(value)s)."
                ),
                {"other": _label("persons_present"), "value": counts.get("persons_present", 0)},
            )
        )
    return problems


def _label(name: str):
    from .metrics import BY_NAME

    return BY_NAME[name].label


def _text_problems(*, method: str, note: str) -> list[Problem]:
    problems = []
    if method not in METHODS:
        problems.append(
            Problem(
                "method", _('Unknown method "%(value)s": use visit or phone.'), {"value": method}
            )
        )
    if len(note) > NOTE_MAX:
        problems.append(Problem("note", _("At most %(max)s characters."), {"max": NOTE_MAX}))
    return problems


def _day_problems(
    day: datetime.date, *, field_name: str, today: datetime.date | None = None
) -> list[Problem]:
    today = today or local_today()
    if day > today:
        return [Problem(field_name, _("The date is in the future."))]
    if day < today - datetime.timedelta(days=MAX_AGE_DAYS):
        return [
            Problem(
                field_name,
                _("Too old: only the last %(days)s days can be reported."),
                {"days": MAX_AGE_DAYS},
            )
        ]
    return []


def _moment_problems(
    checked_at: datetime.datetime, day: datetime.date, *, now, today: datetime.date
) -> list[Problem]:
    if checked_at > now + CLOCK_SKEW:
        return [Problem("checked_at", _("The time is in the future."))]
    return _day_problems(day, field_name="checked_at", today=today)


def _errors(problems: list[Problem]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for problem in problems:
        errors.setdefault(problem.field, []).append(problem.text)
    return errors


METHODS = frozenset(Method.values)

#: What a revision records of a check: everything a correction or a void can change.
SNAPSHOT_FIELDS = ("method", "note", *METRIC_NAMES, "voided_at", "void_reason")


def snapshot(check: Check) -> dict:
    values = {name: getattr(check, name) for name in SNAPSHOT_FIELDS}
    if values["voided_at"] is not None:
        values["voided_at"] = values["voided_at"].isoformat()
    return values


# --- Submitting --------------------------------------------------------------------------------


def check_submit(
    *,
    user,
    household: Household,
    uuid: uuid_module.UUID,
    checked_at: datetime.datetime | None = None,
    method: str = Method.VISIT,
    note: str = "",
    counts: Mapping[str, int] | None = None,
) -> tuple[Check, bool]:
    """Store one check; returns (check, created). A known uuid of the same worker returns
    the stored check with created=False. Raises ValidationError (field errors) otherwise."""
    item = CheckInput(
        uuid=uuid,
        household_code=household.code,
        checked_at=checked_at,
        method=method,
        note=note,
        counts=dict(counts or {}),
    )
    (result,) = check_submit_batch(user=user, items=[item])
    if result.status == BatchStatus.ERROR:
        raise ValidationError(result.errors)
    return stored_check(result, user=user), result.status == BatchStatus.CREATED


def stored_check(result: BatchItemResult, *, user) -> Check:
    """The check a batch result stands for, with its household, grid and worker. A check
    just created is built from what was written (no read: the single POST of a check
    answers with it, and the read cost a tenth of its time); a known one is read."""
    if result.written is None:
        return Check.objects.select_related("household", "grid", "worker").get(pk=result.check_id)
    values = dict(result.written)
    household_code = values.pop("household_code")
    path = values.pop("grid_path")
    check = Check(id=result.check_id, **values)
    check.household = Household(
        id=values["household_id"], code=household_code, grid_id=values["grid_id"]
    )
    check.grid = GridNode(id=values["grid_id"], code=path.strip("/").split("/")[-1], path=path)
    check.worker = user
    check._state.adding = False
    return check


def check_submit_batch(*, user, items: Sequence[CheckInput]) -> list[BatchItemResult]:
    """Store many checks at once; one result per item, in order. A bad item is reported and
    skipped, the others are stored. A bounded number of queries whatever the batch size:
    households (locked for the ledger), writable grids (one per distinct day), the
    households' counted checks, and one statement for the checks and the rollup's queued
    changes.

    On PostgreSQL the first attempt takes every uuid for new, as nearly all are, and the
    insert skips any it finds stored (ON CONFLICT DO NOTHING). Only when it skipped one, or
    an item has errors (a resent check is answered as stored before it is judged), does it
    start again with a lookup of the known uuids: then a known uuid answers "exists"."""
    look_up_known = connection.vendor != "postgresql"
    for attempt in range(RACE_RETRIES):
        try:
            with transaction.atomic():
                return _submit_batch(user, items, look_up_known=look_up_known)
        except (_KnownUuidsNeeded, IntegrityError):
            # Errors to report, a uuid stored before, or one that another request stored
            # between our lookup and our insert: start again, looking the uuids up.
            if attempt == RACE_RETRIES - 1:
                raise
            look_up_known = True
    raise AssertionError("unreachable")


class _KnownUuidsNeeded(Exception):
    """Raised in an attempt that skipped the lookup of known uuids, to start again with it."""


def _submit_batch(
    user, items: Sequence[CheckInput], *, look_up_known: bool = True
) -> list[BatchItemResult]:
    # Read the clock and the time zone once: per item they cost more than the database.
    now = timezone.now()
    zone = timezone.get_current_timezone()
    today = now.astimezone(zone).date()
    results: list[BatchItemResult | None] = [None] * len(items)

    known = (
        {
            uuid: (pk, worker_id)
            for uuid, pk, worker_id in Check.objects.filter(
                uuid__any_of={item.uuid for item in items}
            ).values_list("uuid", "pk", "worker_id")
        }
        if look_up_known
        else {}
    )
    # Locked for the rollup's ledger (screening.ledger), in one order against deadlocks.
    # No join for the grids' paths: the permission query below reads them, for far fewer
    # grids than households.
    households = {
        code: (pk, grid_id)
        for code, pk, grid_id in Household.objects.select_for_update(no_key=True)
        .filter(code__any_of={item.household_code for item in items})
        .order_by("pk")
        .values_list("code", "pk", "grid_id")
    }

    # Validate each item on its own; collect the days whose permissions are needed.
    pending: list[tuple[int, CheckInput, datetime.datetime, datetime.date, tuple]] = []
    for index, item in enumerate(items):
        if item.uuid in known:
            pk, worker_id = known[item.uuid]
            if worker_id == user.pk:
                results[index] = BatchItemResult(index, item.uuid, BatchStatus.EXISTS, check_id=pk)
            else:
                problem = Problem("uuid", _("This submission id was used by someone else."))
                results[index] = _error(index, item, [problem])
            continue
        checked_at = item.checked_at or now
        if checked_at.utcoffset() is None:
            checked_at = timezone.make_aware(checked_at, zone)
        day = checked_at.astimezone(zone).date()
        problems = (
            count_problems(item.counts)
            + _text_problems(method=item.method, note=item.note)
            + _moment_problems(checked_at, day, now=now, today=today)
        )
        household = households.get(item.household_code)
        if household is None:
            problems.append(_unknown_household(item.household_code))
        if problems:
            results[index] = _error(index, item, problems)
            continue
        pending.append((index, item, checked_at, day, household))

    # Who may write where, with the paths of those grids: one query per distinct day (a
    # batch is usually one day).
    writable: dict[datetime.date, set[int]] = {}
    paths: dict[int, str] = {}
    by_day: dict[datetime.date, set[int]] = {}
    for _index, _item, _at, day, (_pk, grid_id) in pending:
        by_day.setdefault(day, set()).add(grid_id)
    for day, grid_ids in by_day.items():
        allowed = dict(
            worker_grids(user, on=day).filter(pk__any_of=grid_ids).values_list("pk", "path")
        )
        writable[day] = set(allowed)
        paths.update(allowed)
    refused = {grid_id for day, ids in by_day.items() for grid_id in ids - writable[day]}
    if refused:  # only to tell "not assigned" from "no such household"
        paths.update(GridNode.objects.filter(pk__any_of=refused).values_list("pk", "path"))

    rows: list[dict] = []
    created_at: list[int] = []  # the index of each row's item
    claimed: dict[uuid_module.UUID, int] = {}  # uuid -> index of the item that stores it
    for index, item, checked_at, day, (household_id, grid_id) in pending:
        if grid_id not in writable[day]:
            problem = (
                Problem("household", _("You are not assigned to this household's grid."))
                if path_in_jurisdiction(user, paths[grid_id])
                else _unknown_household(item.household_code)  # no leak outside the area
            )
            results[index] = _error(index, item, [problem])
            continue
        if item.uuid in claimed:
            results[index] = BatchItemResult(index, item.uuid, BatchStatus.EXISTS)
            continue
        claimed[item.uuid] = index
        rows.append(
            {
                "uuid": item.uuid,
                "household_id": household_id,
                "grid_id": grid_id,
                "worker_id": user.pk,
                "checked_on": day,
                "checked_at": checked_at,
                "method": item.method,
                "note": item.note,
                **{name: item.counts.get(name, 0) for name in METRIC_NAMES},
                "voided_at": None,
                "void_reason": "",
                "counts_household": False,  # set by prepare_created
                "created_at": now,
                "updated_at": now,
            }
        )
        created_at.append(index)

    if not look_up_known and any(r is not None and r.status == BatchStatus.ERROR for r in results):
        raise _KnownUuidsNeeded
    if rows:
        prepare_created(rows, households_locked=True)
        ids = _insert_created(rows)
        if len(ids) < len(rows):  # the insert skipped a stored uuid
            raise _KnownUuidsNeeded
        for index, row in zip(created_at, rows, strict=True):
            results[index] = BatchItemResult(
                index,
                row["uuid"],
                BatchStatus.CREATED,
                check_id=ids[row["uuid"]],
                written={
                    **row,
                    "household_code": items[index].household_code,
                    "grid_path": paths[row["grid_id"]],
                },
            )

    # Later duplicates of a uuid stored by this batch point at the stored check.
    for result in results:
        if result.status == BatchStatus.EXISTS and result.check_id is None:
            result.check_id = results[claimed[result.uuid]].check_id
    return results


def _insert_created(rows: list[dict]) -> dict[uuid_module.UUID, int]:
    """Insert new checks and queue their changes for the rollup (screening.ledger); returns
    {uuid: id} of the checks inserted. A check's row is its own creation record (who, when,
    what: ADR 0010), so its creation writes no revision."""
    if connection.vendor == "postgresql":
        return _insert_created_postgresql(rows)
    checks = Check.objects.bulk_create(Check(**row) for row in rows)
    for row, check in zip(rows, checks, strict=True):  # auto_now(_add) set their own time
        row["created_at"], row["updated_at"] = check.created_at, check.updated_at
    record_created(rows)
    return {check.uuid: check.pk for check in checks}


def _insert_created_postgresql(rows: list[dict]) -> dict[uuid_module.UUID, int]:
    """The same as the portable path, in one statement: the checks go in as one array per
    column (unnest), and their queued changes are summed by the database from the inserted
    rows (ledger.record_created_sql). Building 1,000 model instances and Django's 22,000
    placeholders cost more than the database's work (docs/performance.md). A uuid stored
    already is skipped, not an error: the caller sees it missing from the answer."""
    fields, sql = _insert_statement()
    arrays = [array_literal([row[name] for row in rows]) for name in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        ids = {uuid_module.UUID(str(uuid)): pk for uuid, pk in cursor.fetchall()}
    after_queueing()
    return ids


@functools.cache
def _insert_statement() -> tuple[list[str], str]:
    """The fields (attnames) and the text of the PostgreSQL insert, built once: the model's
    fields do not change while the process runs, and building it cost a single check's POST
    a twentieth of its time."""
    fields = [f for f in Check._meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    unnest = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    sql = f"""
        WITH created AS (
            INSERT INTO {qn(Check._meta.db_table)} ({columns}) SELECT * FROM unnest({unnest})
            ON CONFLICT ({qn(Check._meta.get_field("uuid").column)}) DO NOTHING
            RETURNING *
        ), queued AS ({record_created_sql("created")})
        SELECT uuid, id FROM created
    """
    return [f.attname for f in fields], sql


def _unknown_household(code: str) -> Problem:
    return Problem("household", _('No household with the code "%(code)s".'), {"code": code[:40]})


def _error(index: int, item: CheckInput, problems: list[Problem]) -> BatchItemResult:
    return BatchItemResult(index, item.uuid, BatchStatus.ERROR, errors=_errors(problems))


# --- Corrections and voids ---------------------------------------------------------------------


def _locked(check: Check) -> Check:
    return Check.objects.select_for_update(of=("self",)).select_related("grid").get(pk=check.pk)


@transaction.atomic
def check_correct(
    *,
    user,
    check: Check,
    counts: Mapping[str, int] | None = None,
    method: str | None = None,
    note: str | None = None,
) -> Check:
    """Correct a check's counts, method or note. Only its author, only on the local day it
    was made, never a voided one. Records the before and after in a revision; a correction
    that changes nothing records nothing."""
    check = _locked(check)
    if check.worker_id != user.pk:
        raise PermissionDenied(
            bilingual(_("Only the grid worker who wrote a check may correct it."))
        )
    problems = []
    if check.voided_at is not None:
        problems.append(Problem("non_field_errors", _("A voided check cannot be corrected.")))
    elif check.checked_on != local_today():
        problems.append(
            Problem("checked_on", _("A check can only be corrected on the day it was made."))
        )
    raise_problems(problems)

    merged = {name: getattr(check, name) for name in METRIC_NAMES} | dict(counts or {})
    new_method = check.method if method is None else method
    new_note = check.note if note is None else note
    raise_problems(count_problems(merged) + _text_problems(method=new_method, note=new_note))

    before = snapshot(check)
    counted_before = metrics(check)
    changes = {**merged, "method": new_method, "note": new_note}
    changed = [name for name, value in changes.items() if getattr(check, name) != value]
    if not changed:
        return check
    for name in changed:
        setattr(check, name, changes[name])
    check.save(update_fields=[*changed, "updated_at"])
    CheckRevision.objects.create(
        check_record=check,
        action=CheckRevision.Action.CORRECT,
        actor=user,
        before=before,
        after=snapshot(check),
    )
    record_corrected(check, before=counted_before)
    return check


def may_void(*, user, check: Check) -> bool:
    """The author on the local day the check was made; a commander or an administrator
    whose jurisdiction holds the check's grid, any day; a superuser."""
    if user.is_superuser:
        return True
    if check.worker_id == user.pk and check.checked_on == local_today():
        return True
    return (
        user_has_role(user, Role.COMMANDER) or user_has_role(user, Role.ADMINISTRATOR)
    ) and path_in_jurisdiction(user, check.grid.path)


@transaction.atomic
def check_void(*, user, check: Check, reason: str) -> tuple[Check, bool]:
    """Void a check: it stays stored and audited, and leaves the totals. Returns (check,
    changed); voiding a voided check changes nothing."""
    check = _locked(check)
    if not may_void(user=user, check=check):
        raise PermissionDenied(
            bilingual(
                _(
                    "A check can be voided by its author on the day it was made, or by a "
                    "commander or an administrator of its area."
                )
            )
        )
    if check.voided_at is not None:
        return check, False
    reason = (reason or "").strip()
    if not reason:
        raise_problems([Problem("reason", _("Say why the check is voided."))])
    if len(reason) > REASON_MAX:
        raise_problems([Problem("reason", _("At most %(max)s characters."), {"max": REASON_MAX})])
    before = snapshot(check)
    check.voided_at = timezone.now()
    check.void_reason = reason
    check.save(update_fields=["voided_at", "void_reason", "updated_at"])
    CheckRevision.objects.create(
        check_record=check,
        action=CheckRevision.Action.VOID,
        actor=user,
        before=before,
        after=snapshot(check),
    )
    record_voided(check)
    return check, True


# --- Zero reports ------------------------------------------------------------------------------


def zero_report_file(
    *, user, grid: GridNode, day: datetime.date | None = None, note: str = ""
) -> tuple[ZeroReport, bool]:
    """零报告: a leaf grid the user may write checks for says "nothing to report" for a day
    (default today). Idempotent per grid and day: returns (report, created)."""
    day = day or local_today()
    problems = _day_problems(day, field_name="date")
    if len(note) > REASON_MAX:
        problems.append(Problem("note", _("At most %(max)s characters."), {"max": REASON_MAX}))
    raise_problems(problems)
    if not worker_grids(user, on=day).filter(pk=grid.pk).exists():
        raise PermissionDenied(bilingual(_("You are not assigned to this grid.")))
    if GridNode.objects.filter(parent=grid).exists():
        raise_problems(
            [Problem("grid", _("Zero reports are filed by the grids at the bottom of the tree."))]
        )
    for attempt in range(RACE_RETRIES):
        existing = ZeroReport.objects.filter(grid=grid, reported_on=day).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                report = ZeroReport.objects.create(
                    grid=grid, reported_on=day, reporter=user, note=note
                )
                record_zero_report(grid_id=grid.pk, day=day)
                return report, True
        except IntegrityError:
            # Filed by a concurrent request: the next round finds it.
            if attempt == RACE_RETRIES - 1:
                raise
    raise AssertionError("unreachable")
