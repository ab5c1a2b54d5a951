"""Roster import (人员名单导入): people and their assignments from a department's spreadsheet.

The whole file is read into small row objects (a 100,000-row roster is a few tens of MB),
because its cross-row rules need every row at once: the same person on several rows, two
grid chiefs for one grid, a 包保 leader qualified by another row. Then, in one transaction:

1. read   parse every row (values, mobile and identity number, dates, role, axis...);
2. load   the grids, people, organisations and stored assignments the file names, in
          chunked IN (...) queries, never one query per row;
3. check  match people (identity number, else mobile), compare with what is stored, and
          run personnel.rules.check_assignments over the file against the stored facts;
4. write  only when there is no error and it is not a dry run: bulk_create/bulk_update
          in batches of BATCH_SIZE. Rows equal to what is stored are not written, so a
          re-import changes nothing.

See docs/adr/0008-roster-import-jobs.md.
"""

from __future__ import annotations

import datetime
import io
import re
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridcmd.tabular import Column, TableError, open_table
from grids.importing.common import (
    BATCH_SIZE,
    AdvisoryLock,
    Errors,
    Scope,
    chunked,
    normalize_value,
    take_lock,
)
from grids.models import GridNode
from personnel import validators
from personnel.models import (
    Assignment,
    Axis,
    Organisation,
    OrganisationType,
    Person,
    PoliticalStatus,
    Role,
)
from personnel.rules import AssignmentFacts, check_assignments

ERRORS_HEADER = "错误 / Errors"
ROSTER_COLUMNS = (
    Column("name", ("姓名",)),
    Column("mobile", ("手机号", "手机", "手机号码"), required=False),
    Column("id_number", ("身份证号", "身份证号码", "公民身份号码"), required=False),
    Column("organization", ("单位", "organisation", "工作单位"), required=False),
    Column("political_status", ("政治面貌",), required=False),
    Column("grid_code", ("网格编码",)),
    Column("role", ("角色",)),
    Column("axis", ("责任类型",), required=False),
    Column("sent_down", ("是否下沉",), required=False),
    Column("start_date", ("开始日期",)),
    Column("end_date", ("结束日期",), required=False),
    # Written by the export and the error report; read back without complaint, ignored.
    Column("grid_name", ("网格名称",), required=False),
    Column("errors", (ERRORS_HEADER, "错误", "errors"), required=False),
)

POLITICAL_STATUS_LABELS = {
    "中共党员": PoliticalStatus.PARTY_MEMBER,
    "党员": PoliticalStatus.PARTY_MEMBER,
    "中共预备党员": PoliticalStatus.PROBATIONARY,
    "预备党员": PoliticalStatus.PROBATIONARY,
    "共青团员": PoliticalStatus.LEAGUE_MEMBER,
    "团员": PoliticalStatus.LEAGUE_MEMBER,
    "民主党派": PoliticalStatus.DEMOCRATIC_PARTY,
    "民主党派成员": PoliticalStatus.DEMOCRATIC_PARTY,
    "无党派人士": PoliticalStatus.NON_PARTISAN,
    "无党派": PoliticalStatus.NON_PARTISAN,
    "群众": PoliticalStatus.MASSES,
}
# Chinese labels for the export (the first label of each status above).
POLITICAL_STATUS_ZH = {
    PoliticalStatus.PARTY_MEMBER: "中共党员",
    PoliticalStatus.PROBATIONARY: "中共预备党员",
    PoliticalStatus.LEAGUE_MEMBER: "共青团员",
    PoliticalStatus.DEMOCRATIC_PARTY: "民主党派",
    PoliticalStatus.NON_PARTISAN: "无党派人士",
    PoliticalStatus.MASSES: "群众",
}
AXIS_ZH = {
    Axis.TERRITORIAL: "属地",
    Axis.DEPARTMENT: "部门",
    Axis.UNIT: "单位",
    Axis.INDIVIDUAL: "个人",
}
TRUE_WORDS = {"是", "yes", "y", "1", "true", "t", "√"}
FALSE_WORDS = {"否", "no", "n", "0", "false", "f", "×"}
MAX_NAME = 50
MAX_ORGANISATION = 100
# Excel stores a date as days since 1899-12-30; a plausible span for a roster.
EXCEL_EPOCH = datetime.date(1899, 12, 30)
EXCEL_SERIAL_RE = re.compile(r"^(\d{5})(?:\.0+)?$")
DATE_RES = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)
# Rows per COPY on PostgreSQL (insert_rows).
INSERT_BATCH = 10_000
# Values per lookup query on PostgreSQL (lookup_chunks): one array parameter each.
LOOKUP_BATCH = 20_000
DIMENSION_RE = re.compile(rb'<dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"')


def _lookup(pairs) -> dict[str, str]:
    return {normalize_value(str(k)): v for k, v in pairs}


POLITICAL_LOOKUP = _lookup(
    [*POLITICAL_STATUS_LABELS.items()]
    + [(c.value, c.value) for c in PoliticalStatus]
    + [(c.label, c.value) for c in PoliticalStatus]
)
AXIS_LOOKUP = _lookup(
    [*((zh, axis) for axis, zh in AXIS_ZH.items())]
    + [(c.value, c.value) for c in Axis]
    + [(c.label, c.value) for c in Axis]
)


@dataclass(frozen=True, slots=True)
class RoleInfo:
    pk: int
    code: str
    is_grid_chief: bool
    is_baobao_leader: bool


@dataclass(slots=True)
class RosterRow:
    row: int
    name: str
    mobile: str
    id_number: str | None
    organisation: str
    political_status: str | None  # None: blank, keep what is stored
    grid_code: str
    role: RoleInfo | None
    axis: str | None  # None: blank, keep what is stored (territorial for a new one)
    sent_down: bool | None
    start_date: datetime.date | None
    end_date: datetime.date | None
    end_given: bool  # the file has an end-date column: a blank cell means open-ended
    key: str = ""  # the person within the file: identity number, else mobile


@dataclass(slots=True)
class StoredPerson:
    pk: int
    name: str
    mobile: str
    id_number: str | None
    political_status: str
    organisation_id: int | None
    path: str


@dataclass(slots=True)
class StoredAssignment:
    pk: int
    person_id: int
    grid_id: int
    role_id: int
    axis: str
    sent_down: bool
    start_date: datetime.date
    end_date: datetime.date | None
    facts: AssignmentFacts


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class RosterImportResult:
    dry_run: bool = False
    rows: int = 0
    rejected: int = 0
    people: Counts = field(default_factory=Counts)
    assignments: Counts = field(default_factory=Counts)
    organisations_created: list[str] = field(default_factory=list)
    written: bool = False
    errors: list = field(default_factory=list)  # CellError

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "written": self.written,
            "rows": self.rows,
            "rejected": self.rejected,
            "people": self.people.as_dict(),
            "assignments": self.assignments.as_dict(),
            "organisations_created": self.organisations_created,
        }

    def errors_as_list(self) -> list[dict]:
        return [{"row": e.row, "column": e.column, "message": e.message} for e in self.errors]


Progress = Callable[[int], None]


def estimate_rows(file) -> int:
    """A cheap estimate of a file's data rows, to choose between running an import in the
    request and as a task, and to scale the progress bar: newlines for a CSV, the sheet's
    stated dimension for an XLSX (0 when it does not say). Leaves the file at its start."""
    while not hasattr(file, "seek") and hasattr(file, "file"):
        file = file.file
    file.seek(0)
    head = file.read(4)
    file.seek(0)
    try:
        if head == b"PK\x03\x04":
            with zipfile.ZipFile(file) as archive:
                sheets = sorted(
                    n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")
                )
                if not sheets:
                    return 0
                with archive.open(sheets[0]) as sheet:
                    match = DIMENSION_RE.search(sheet.read(4096))
                return max(int(match.group(1)) - 1, 0) if match else 0
        lines = 0
        while chunk := file.read(1024 * 1024):
            lines += chunk.count(b"\n")
        return max(lines - 1, 0)
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0
    finally:
        file.seek(0)


def parse_date(text: str) -> datetime.date | None:
    """2022-02-01, 2022/2/1, 2022.2.1, 2022年2月1日 or an Excel serial day number."""
    text = unicodedata.normalize("NFKC", text).strip()
    serial = EXCEL_SERIAL_RE.match(text)
    if serial:
        return EXCEL_EPOCH + datetime.timedelta(days=int(serial.group(1)))
    for pattern in DATE_RES:
        match = pattern.match(text)
        if match:
            try:
                return datetime.date(*(int(g) for g in match.groups()))
            except ValueError:
                return None
    return None


def parse_bool(text: str) -> bool | None:
    word = normalize_value(text)
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def roster_import(
    *, file, filename: str = "", user=None, dry_run: bool = False, progress: Progress | None = None
) -> RosterImportResult:
    """Validate a roster file and, unless dry_run and only when it has no error, apply it,
    all or nothing. `user` None means full access (the operator at the shell); otherwise
    only grids in the user's jurisdiction may be named. `progress(percent)` is called as the
    work advances."""
    result = RosterImportResult(dry_run=dry_run)
    report = progress or (lambda percent: None)
    try:
        table = open_table(file, columns=ROSTER_COLUMNS, filename=filename)
    except TableError as exc:
        result.errors = exc.errors
        return result
    estimate = estimate_rows(file)
    with table:
        errors = Errors(table)
        run = _RosterImport(table, Scope(user), user, errors, report, estimate)
        try:
            with transaction.atomic():
                take_lock(AdvisoryLock.PERSONNEL_IMPORT)
                run.read()
                run.load(lock=not dry_run)
                run.check()
                run.count(result)
                if errors:
                    result.errors = errors.report()
                    return result
                if not dry_run:
                    run.write()
                    result.written = True
        except TableError as exc:  # an undecodable byte deep in the file
            errors.extend(exc.errors)
            result.errors = errors.report()
    report(100)
    return result


class _RosterImport:
    def __init__(self, table, scope: Scope, user, errors: Errors, report: Progress, estimate: int):
        self.table = table
        self.scope = scope
        self.user = user
        self.errors = errors
        self.report = report
        self.estimate = estimate
        self.rows: list[RosterRow] = []
        self.bad_rows: set[int] = set()
        self.roles: dict[str, RoleInfo] = {}
        self.roles_by_pk: dict[int, RoleInfo] = {}
        self.grids: dict[str, tuple[int, str, int]] = {}  # code -> (pk, path, level), in scope
        self.people_by_id: dict[str, StoredPerson] = {}
        self.people_by_mobile: dict[str, list[StoredPerson]] = defaultdict(list)
        self.organisations: dict[str, int] = {}
        self.stored: dict[int, StoredAssignment] = {}
        # Results of check(), used by count() and write().
        self.person_of_key: dict[str, StoredPerson | None] = {}
        self.person_changes: dict[int, dict] = {}
        self.new_people: dict[str, RosterRow] = {}
        self.new_organisations: list[str] = []
        self.new_assignments: list[RosterRow] = []
        self.changed_assignments: list[tuple[StoredAssignment, RosterRow]] = []
        self.unchanged_assignments = 0
        self.home: GridNode | None = None

    # -- helpers ---------------------------------------------------------------------------
    def fail(self, row: int, column: str, message, /, **params) -> None:
        self.bad_rows.add(row)
        self.errors.add(row, column, message, **params)

    def progress(self, start: int, end: int, done: int, total: int) -> None:
        share = min(done / total, 1.0) if total else 1.0
        self.report(int(start + (end - start) * share))

    # -- 1. read ------------------------------------------------------------------------------
    def read(self) -> None:
        for role in Role.objects.all():
            info = RoleInfo(role.pk, role.code, role.is_grid_chief, role.is_baobao_leader)
            self.roles_by_pk[role.pk] = info
            for label in (role.code, role.name_zh, role.name_en):
                self.roles[normalize_value(label)] = info
        has_end = self.table.has_column("end_date")
        self.seen = 0
        for index, raw in enumerate(self.table.rows(self.errors), start=1):
            self.seen = index
            item = self.parse(raw, has_end)
            if item is not None:
                self.rows.append(item)
            if index % BATCH_SIZE == 0:
                self.progress(0, 30, index, self.estimate)
        self.report(30)
        self.unify_people()

    def parse(self, raw, has_end: bool) -> RosterRow | None:
        number = raw.number
        bad = False

        def fail(column, message, **params):
            nonlocal bad
            bad = True
            self.fail(number, column, message, **params)

        name = raw.get("name")
        if not name:
            fail("name", _("The name is empty."))
        elif len(name) > MAX_NAME:
            fail("name", _("A name has at most %(max)s characters."), max=MAX_NAME)

        # The numbers are personal data: messages name the cell, never its content.
        mobile = validators.normalize_mobile(raw.get("mobile"))
        if mobile and not validators.MOBILE_RE.match(mobile):
            fail("mobile", _("Not a mainland mobile number (11 digits starting 13–19)."))
        id_number = validators.normalize_id_number(raw.get("id_number")) or None
        if id_number:
            try:
                validators.validate_id_number(id_number)
            except Exception as exc:  # django ValidationError, message already translatable
                fail("id_number", exc.messages[0] if hasattr(exc, "messages") else str(exc))
        if not mobile and not id_number:
            fail("id_number", _("A person needs an identity number or a mobile number."))

        organisation = re.sub(r"\s+", " ", raw.get("organization"))
        if len(organisation) > MAX_ORGANISATION:
            fail(
                "organization",
                _("An organisation name has at most %(max)s characters."),
                max=MAX_ORGANISATION,
            )

        political = None
        if raw.get("political_status"):
            political = POLITICAL_LOOKUP.get(normalize_value(raw.get("political_status")))
            if political is None:
                fail(
                    "political_status",
                    _(
                        "Unknown political status “%(value)s” (use 中共党员, 中共预备党员, 共青团员, 民主党派, 无党派人士 or 群众)."
                    ),
                    value=raw.get("political_status"),
                )

        grid_code, role_text = raw.get("grid_code"), raw.get("role")
        role = None
        if grid_code or role_text:
            if not grid_code:
                fail("grid_code", _("The grid code is empty."))
            if not role_text:
                fail("role", _("The role is empty."))
            else:
                role = self.roles.get(normalize_value(role_text))
                if role is None:
                    fail("role", _("Unknown role “%(value)s”."), value=role_text)

        axis = None
        if raw.get("axis"):
            axis = AXIS_LOOKUP.get(normalize_value(raw.get("axis")))
            if axis is None:
                fail(
                    "axis",
                    _("Unknown responsibility type “%(value)s” (use 属地, 部门, 单位 or 个人)."),
                    value=raw.get("axis"),
                )
        sent_down = None
        if raw.get("sent_down"):
            sent_down = parse_bool(raw.get("sent_down"))
            if sent_down is None:
                fail(
                    "sent_down",
                    _("“%(value)s” is not yes or no (是/否)."),
                    value=raw.get("sent_down"),
                )

        start = end = None
        if grid_code or role_text:
            if not raw.get("start_date"):
                fail("start_date", _("The start date is empty."))
            else:
                start = parse_date(raw.get("start_date"))
                if start is None:
                    fail(
                        "start_date",
                        _("“%(value)s” is not a date (e.g. 2022-02-01)."),
                        value=raw.get("start_date"),
                    )
            if raw.get("end_date"):
                end = parse_date(raw.get("end_date"))
                if end is None:
                    fail(
                        "end_date",
                        _("“%(value)s” is not a date (e.g. 2022-02-01)."),
                        value=raw.get("end_date"),
                    )
                elif start is not None and end < start:
                    fail("end_date", _("The end date is before the start date."))
        if bad:
            return None
        return RosterRow(
            row=number,
            name=name,
            mobile=mobile,
            id_number=id_number,
            organisation=organisation,
            political_status=political,
            grid_code=grid_code,
            role=role,
            axis=axis,
            sent_down=sent_down,
            start_date=start,
            end_date=end,
            end_given=has_end,
        )

    def unify_people(self) -> None:
        """Give every row its person key, and check that the rows of one person agree and
        that no assignment is listed twice."""
        id_of_mobile = {}
        for item in self.rows:
            if item.id_number and item.mobile:
                id_of_mobile.setdefault(item.mobile, item.id_number)
        first_of_key: dict[str, RosterRow] = {}
        seen: dict[tuple, int] = {}
        for item in self.rows:
            item.key = item.id_number or id_of_mobile.get(item.mobile) or f"m:{item.mobile}"
            first = first_of_key.setdefault(item.key, item)
            if first is not item:
                for column in ("name", "mobile", "organisation", "political_status"):
                    mine, theirs = getattr(item, column), getattr(first, column)
                    if mine and theirs and mine != theirs:
                        self.fail(
                            item.row,
                            "organization" if column == "organisation" else column,
                            _("This person is on row %(row)s with a different value here."),
                            row=first.row,
                        )
                        break
                else:  # fill what the first row left blank, so the person is whole
                    for column in ("mobile", "organisation", "political_status"):
                        if not getattr(first, column) and getattr(item, column):
                            setattr(first, column, getattr(item, column))
            if item.role is not None:
                identity = (item.key, item.grid_code, item.role.code, item.start_date)
                if identity in seen:
                    self.fail(
                        item.row,
                        "grid_code",
                        _("Duplicate of row %(row)s: the same person, grid, role and start date."),
                        row=seen[identity],
                    )
                else:
                    seen[identity] = item.row

    # -- 2. load ------------------------------------------------------------------------------
    def load(self, *, lock: bool) -> None:
        rows = [item for item in self.rows if item.row not in self.bad_rows]
        codes = sorted({item.grid_code for item in rows if item.grid_code})
        for in_chunk in lookup_chunks(codes, "varchar"):
            for pk, code, path, level in GridNode.objects.filter(code__in=in_chunk).values_list(
                "pk", "code", "path", "level"
            ):
                # A grid outside the jurisdiction is treated as if it did not exist.
                if self.scope.contains(path):
                    self.grids[code] = (pk, path, level)
        if lock:
            # Hold the grids' rows for the transaction, as personnel.services does for one
            # assignment, in primary-key order so that two writers cannot deadlock.
            for in_chunk in lookup_chunks(
                sorted(pk for pk, _p, _l in self.grids.values()), "bigint"
            ):
                list(
                    GridNode.objects.filter(pk__in=in_chunk)
                    .order_by("pk")
                    .select_for_update()
                    .values_list("pk")
                )
        self.report(33)

        fields = (
            "pk",
            "name",
            "mobile",
            "id_number",
            "political_status",
            "organisation_id",
            "registered_grid__path",
        )
        ids = sorted({item.id_number for item in rows if item.id_number})
        for in_chunk in lookup_chunks(ids, "varchar"):
            for values in Person.objects.filter(id_number__in=in_chunk).values_list(*fields):
                person = StoredPerson(*values)
                self.people_by_id[person.id_number] = person
        mobiles = sorted({item.mobile for item in rows if item.key.startswith("m:")})
        for in_chunk in lookup_chunks(mobiles, "varchar"):
            for values in Person.objects.filter(mobile__in=in_chunk).values_list(*fields):
                person = StoredPerson(*values)
                self.people_by_mobile[person.mobile].append(person)
        self.report(36)

        self.home = self._home()
        names = sorted({item.organisation for item in rows if item.organisation})
        organisations = (
            Organisation.objects.visible_to(self.user)
            if self.user is not None
            else Organisation.objects
        )
        for chunk in chunked(names):
            found = organisations.filter(name__in=chunk).values_list(
                "pk", "name", "registered_grid_id"
            )
            # Prefer the organisation registered at the importer's own grid, as a new one would be.
            for pk, name, _grid in sorted(
                found, key=lambda o: (o[2] != (self.home.pk if self.home else None), o[0])
            ):
                self.organisations.setdefault(name, pk)

        person_pks = {p.pk for p in self.people_by_id.values()}
        person_pks.update(p.pk for group in self.people_by_mobile.values() for p in group)
        grid_pks = sorted(pk for pk, _p, _l in self.grids.values())
        columns = (
            "pk",
            "person_id",
            "grid_id",
            "grid__code",
            "grid__path",
            "grid__level",
            "role_id",
            "axis",
            "sent_down",
            "start_date",
            "end_date",
        )
        # What check_assignments needs: every assignment on the file's grids, and the
        # grid-chief and 包保 assignments of the file's people wherever they are.
        for in_chunk in lookup_chunks(grid_pks, "bigint"):
            self._store(Assignment.objects.filter(grid_id__in=in_chunk).values_list(*columns))
        leading = Q(role__is_grid_chief=True) | Q(role__is_baobao_leader=True)
        for in_chunk in lookup_chunks(sorted(person_pks), "bigint"):
            self._store(
                Assignment.objects.filter(leading, person_id__in=in_chunk).values_list(*columns)
            )
        self.report(40)

    def _store(self, values) -> None:
        for (
            pk,
            person_id,
            grid_id,
            code,
            path,
            level,
            role_id,
            axis,
            sent_down,
            start,
            end,
        ) in values:
            if pk in self.stored:
                continue
            role = self.roles_by_pk[role_id]
            facts = AssignmentFacts(
                person_key=f"p:{person_id}",
                grid_code=code,
                grid_path=path,
                grid_level=level,
                role_code=role.code,
                is_grid_chief=role.is_grid_chief,
                is_baobao_leader=role.is_baobao_leader,
                start_date=start,
                end_date=end,
            )
            self.stored[pk] = StoredAssignment(
                pk, person_id, grid_id, role_id, axis, sent_down, start, end, facts
            )

    def _home(self) -> GridNode | None:
        """Where new people without an assignment and new organisations are registered: the
        importer's jurisdiction, or the root of the tree for full access."""
        if self.user is not None and getattr(self.user, "jurisdiction_id", None):
            return self.user.jurisdiction
        return GridNode.objects.filter(parent__isnull=True).order_by("pk").first()

    # -- 3. check -----------------------------------------------------------------------------
    def check(self) -> None:
        rows = [item for item in self.rows if item.row not in self.bad_rows]
        for item in rows:
            if item.grid_code and item.grid_code not in self.grids:
                # One message for a code that does not exist and one outside the
                # jurisdiction, so that an import cannot probe other counties (ADR 0004).
                self.fail(
                    item.row,
                    "grid_code",
                    _("There is no grid %(code)s in your jurisdiction."),
                    code=item.grid_code,
                )
            if (
                item.organisation
                and item.organisation not in self.organisations
                and self.home is None
            ):
                self.fail(
                    item.row,
                    "organization",
                    _("There is no grid to register a new organisation in."),
                )
        for item in rows:
            if item.key not in self.person_of_key:
                self.person_of_key[item.key] = self._match(item)
        rows = [item for item in rows if item.row not in self.bad_rows]

        new_facts: list[AssignmentFacts] = []
        new_rows: list[RosterRow] = []
        matched: dict[tuple, StoredAssignment] = {}
        for stored in self.stored.values():
            matched[(stored.person_id, stored.grid_id, stored.role_id, stored.start_date)] = stored
        replaced: set[int] = set()
        pairs: list[tuple[RosterRow, StoredAssignment | None]] = []
        for item in rows:
            if item.role is None:
                continue
            person = self.person_of_key[item.key]
            grid_pk, path, level = self.grids[item.grid_code]
            old = (
                matched.get((person.pk, grid_pk, item.role.pk, item.start_date)) if person else None
            )
            end = item.end_date if item.end_given or old is None else old.end_date
            if old is not None:
                replaced.add(old.pk)
            new_facts.append(
                AssignmentFacts(
                    person_key=f"p:{person.pk}" if person else f"f:{item.key}",
                    grid_code=item.grid_code,
                    grid_path=path,
                    grid_level=level,
                    role_code=item.role.code,
                    is_grid_chief=item.role.is_grid_chief,
                    is_baobao_leader=item.role.is_baobao_leader,
                    start_date=item.start_date,
                    end_date=end,
                )
            )
            new_rows.append(item)
            pairs.append((item, old))
        self.report(45)
        stored_facts = [s.facts for pk, s in self.stored.items() if pk not in replaced]
        for index, problems in check_assignments(new_facts, stored_facts).items():
            for problem in problems:
                self.bad_rows.add(new_rows[index].row)
                self.errors.add_problem(new_rows[index].row, problem)

        for item, old in pairs:
            if item.row in self.bad_rows:
                continue
            if old is None:
                self.new_assignments.append(item)
                continue
            axis = item.axis or old.axis
            sent_down = old.sent_down if item.sent_down is None else item.sent_down
            end = item.end_date if item.end_given else old.end_date
            if (axis, sent_down, end) == (old.axis, old.sent_down, old.end_date):
                self.unchanged_assignments += 1
            else:
                self.changed_assignments.append((old, item))
        self.report(50)

    def _match(self, item: RosterRow) -> StoredPerson | None:
        """The stored person a file person is, by identity number, else by mobile; records
        what would change. None for a new person."""
        if item.id_number:
            person = self.people_by_id.get(item.id_number)
        else:
            candidates = self.people_by_mobile.get(item.mobile, [])
            if len(candidates) > 1:
                self.fail(
                    item.row,
                    "mobile",
                    _("Several stored people have this mobile number: give the identity number."),
                )
                return None
            person = candidates[0] if candidates else None
        if person is None:
            self.new_people.setdefault(item.key, item)
            return None
        if person.name != item.name:
            column = "id_number" if item.id_number else "mobile"
            self.fail(
                item.row,
                column,
                _(
                    "Conflicts with what is stored: this number belongs to a person with a different name."
                ),
            )
            return person
        if not self.scope.contains(person.path):
            # Registered elsewhere (e.g. a city cadre sent down): they may be assigned here,
            # but their details are kept by their own jurisdiction.
            return person
        changes = {}
        if item.mobile and item.mobile != person.mobile:
            changes["mobile"] = item.mobile
        if item.political_status and item.political_status != person.political_status:
            changes["political_status"] = item.political_status
        if item.organisation:
            organisation = self.organisations.get(item.organisation)
            if organisation is None or organisation != person.organisation_id:
                changes["organisation"] = item.organisation
        if changes:
            self.person_changes[person.pk] = changes
        return person

    # -- results -------------------------------------------------------------------------------
    def count(self, result: RosterImportResult) -> None:
        # Rows the reader skipped for a stray cell reported their error without a RosterRow.
        stray = {e.row for e in self.errors.items if e.row} - self.bad_rows
        result.rows = self.seen + len(stray)
        result.rejected = len(self.bad_rows) + len(stray)
        good_keys = {item.key for item in self.rows if item.row not in self.bad_rows}
        new_keys = set(self.new_people) & good_keys
        stored = {
            p.pk for key, p in self.person_of_key.items() if p is not None and key in good_keys
        }
        result.people.created = len(new_keys)
        result.people.updated = len(stored & set(self.person_changes))
        result.people.unchanged = len(stored) - result.people.updated
        result.assignments.created = len(self.new_assignments)
        result.assignments.updated = len(self.changed_assignments)
        result.assignments.unchanged = self.unchanged_assignments
        wanted = {
            item.organisation
            for item in self.rows
            if item.row not in self.bad_rows
            and item.organisation
            and item.organisation not in self.organisations
        }
        self.new_organisations = sorted(wanted)
        result.organisations_created = self.new_organisations

    # -- 4. write -------------------------------------------------------------------------------
    def write(self) -> None:
        now = timezone.now()
        steps = max(
            len(self.new_people)
            + len(self.person_changes)
            + len(self.new_assignments)
            + len(self.changed_assignments),
            1,
        )
        done = 0

        if self.new_organisations:
            created = Organisation.objects.bulk_create(
                [
                    Organisation(name=name, type=OrganisationType.OTHER, registered_grid=self.home)
                    for name in self.new_organisations
                ],
                batch_size=BATCH_SIZE,
            )
            self.organisations.update((o.name, o.pk) for o in created)

        registered = self._registered_grids()
        home_pk = self.home.pk if self.home else None

        people_pk: dict[str, int] = {
            key: p.pk for key, p in self.person_of_key.items() if p is not None
        }
        person_columns = (
            "name",
            "mobile",
            "id_number",
            "political_status",
            "organisation_id",
            "registered_grid_id",
            "created_at",
            "updated_at",
        )
        for chunk in chunked(list(self.new_people.items()), INSERT_BATCH):
            values = [
                (
                    item.name,
                    item.mobile,
                    item.id_number,
                    item.political_status or PoliticalStatus.MASSES,
                    self.organisations.get(item.organisation) if item.organisation else None,
                    registered.get(key, home_pk),
                    now,
                    now,
                )
                for key, item in chunk
            ]
            for (key, _item), pk in zip(
                chunk, insert_rows(Person, person_columns, values), strict=True
            ):
                people_pk[key] = pk
            done += len(chunk)
            self.progress(50, 100, done, steps)

        updates = []
        stored_people = {p.pk: p for p in self.person_of_key.values() if p is not None}
        for pk, changes in self.person_changes.items():
            person = Person(pk=pk, updated_at=now)
            stored = stored_people[pk]
            person.mobile = changes.get("mobile", stored.mobile)
            person.political_status = changes.get("political_status", stored.political_status)
            person.organisation_id = (
                self.organisations[changes["organisation"]]
                if "organisation" in changes
                else stored.organisation_id
            )
            updates.append(person)
        for chunk in chunked(updates):
            Person.objects.bulk_update(
                chunk,
                ["mobile", "political_status", "organisation", "updated_at"],
                batch_size=BATCH_SIZE,
            )
            done += len(chunk)
            self.progress(50, 100, done, steps)

        assignment_columns = (
            "person_id",
            "grid_id",
            "role_id",
            "axis",
            "start_date",
            "end_date",
            "sent_down",
            "created_at",
            "updated_at",
        )
        for chunk in chunked(self.new_assignments, INSERT_BATCH):
            values = [
                (
                    people_pk[item.key],
                    self.grids[item.grid_code][0],
                    item.role.pk,
                    item.axis or Axis.TERRITORIAL,
                    item.start_date,
                    item.end_date,
                    bool(item.sent_down),
                    now,
                    now,
                )
                for item in chunk
            ]
            insert_rows(Assignment, assignment_columns, values)
            done += len(chunk)
            self.progress(50, 100, done, steps)

        changed = []
        for old, item in self.changed_assignments:
            changed.append(
                Assignment(
                    pk=old.pk,
                    axis=item.axis or old.axis,
                    sent_down=old.sent_down if item.sent_down is None else item.sent_down,
                    end_date=item.end_date if item.end_given else old.end_date,
                    updated_at=now,
                )
            )
        for chunk in chunked(changed):
            Assignment.objects.bulk_update(
                chunk, ["axis", "sent_down", "end_date", "updated_at"], batch_size=BATCH_SIZE
            )
            done += len(chunk)
            self.progress(50, 100, done, steps)

    def _registered_grids(self) -> dict[str, int]:
        """Where each new person is registered: the nearest grid above (or at) all their
        assignments in the file, so that the commanders of that area see them."""
        common: dict[str, str] = {}
        for item in self.new_assignments:
            path = self.grids[item.grid_code][1]
            known = common.get(item.key)
            common[item.key] = path if known is None else _common_path(known, path)
        codes = {path.strip("/").split("/")[-1] for path in common.values() if path.strip("/")}
        pks = {code: pk for code, (pk, _path, _level) in self.grids.items() if code in codes}
        for chunk in chunked(sorted(codes - set(pks))):
            pks.update(GridNode.objects.filter(code__in=chunk).values_list("code", "pk"))
        return {
            key: pks[path.strip("/").split("/")[-1]]
            for key, path in common.items()
            if path.strip("/")
        }


def lookup_chunks(values: list, sql_type: str):
    """What to put in `field__in=...`, chunk by chunk, to look `values` up in bounded queries.

    Elsewhere: chunks of BATCH_SIZE, as plain IN lists. On PostgreSQL: chunks of
    LOOKUP_BATCH passed as one array, `IN (SELECT unnest(%s))`, because Django prepares
    every value of an IN list one by one, which costs more than the query itself for
    100,000 values."""
    if connection.vendor != "postgresql":
        for chunk in chunked(values):
            yield chunk
        return
    for chunk in chunked(values, LOOKUP_BATCH):
        yield RawSQL(f"SELECT unnest(%s::{sql_type}[])", [chunk])


def insert_rows(model, columns: tuple[str, ...], rows: list[tuple]) -> list[int]:
    """Insert rows (tuples in `columns` order) and return their new primary keys, in order.

    On PostgreSQL, INSERT_BATCH rows at a time: the keys are drawn from the table's
    sequence first, then the rows go in with one COPY. That skips building a model
    instance and compiling a placeholder per value, which is where bulk_create spends most
    of a 100,000-row import, and COPY loads faster than any INSERT. Elsewhere, bulk_create."""
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        return [o.pk for o in model.objects.bulk_create(objects, batch_size=BATCH_SIZE)]
    meta = model._meta
    names = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in columns)
    table = connection.ops.quote_name(meta.db_table)
    pk = connection.ops.quote_name(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        text = "".join(
            "\t".join([str(pk_value), *(_copy_text(v) for v in row)]) + "\n"
            for pk_value, row in zip(ids, rows, strict=True)
        )
        # psycopg2's own cursor: Django's wrapper has no COPY.
        cursor.cursor.copy_expert(f"COPY {table} ({pk}, {names}) FROM STDIN", io.StringIO(text))
    return ids


def _copy_text(value) -> str:
    """A value in COPY's text format: \\N for NULL, backslash escapes for the rest."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, datetime.date):  # dates and aware datetimes
        return value.isoformat()
    return (
        str(value)
        .replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )


def _common_path(a: str, b: str) -> str:
    """The path of the nearest common ancestor-or-self of two materialized paths."""
    shared = []
    for x, y in zip(a.strip("/").split("/"), b.strip("/").split("/"), strict=False):
        if x != y:
            break
        shared.append(x)
    return "/" + "".join(f"{code}/" for code in shared) if shared else "/"
