"""The roster export: every assignment in the user's jurisdiction, and the people registered
there without one, as XLSX in the import's own columns (so an export can be edited and
imported again). Identity and mobile numbers are masked unless the user holds
personnel.view_personal_data; a full export is recorded as an AuditEvent."""

from __future__ import annotations

import io

from django.db.models import Exists, OuterRef
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from gridcmd.masking import mask_id_number, mask_phone
from grids.scoping import jurisdiction_prefix
from personnel.importing.roster import AXIS_ZH, POLITICAL_STATUS_ZH
from personnel.models import Assignment, AuditEvent, Person

EXPORT_HEADERS = [
    "姓名",
    "手机号",
    "身份证号",
    "单位",
    "政治面貌",
    "网格编码",
    "网格名称",
    "角色",
    "责任类型",
    "是否下沉",
    "开始日期",
    "结束日期",
]
CHUNK = 2000  # rows fetched per round trip while streaming


def roster_export_xlsx(*, user) -> bytes:
    full = user.has_perm("personnel.view_personal_data")
    phone = (lambda v: v or "") if full else mask_phone
    ident = (lambda v: v or "") if full else mask_id_number

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("名单 Roster")
    bold = Font(bold=True)
    sheet.append([_text(sheet, h, font=bold) for h in EXPORT_HEADERS])

    def person_cells(person):
        return [
            person.name,
            phone(person.mobile),
            ident(person.id_number),
            person.organisation.name if person.organisation else "",
            POLITICAL_STATUS_ZH.get(person.political_status, ""),
        ]

    rows = people = 0
    seen = set()
    assignments = (
        Assignment.objects.visible_to(user)
        .select_related("person__organisation", "grid", "role")
        .order_by("grid__path", "role__sort_order", "person__name", "pk")
    )
    for a in assignments.iterator(chunk_size=CHUNK):
        values = person_cells(a.person) + [
            a.grid.code,
            a.grid.name,
            a.role.name_zh,
            AXIS_ZH.get(a.axis, a.axis),
            "是" if a.sent_down else "否",
            a.start_date.isoformat(),
            a.end_date.isoformat() if a.end_date else "",
        ]
        sheet.append([_text(sheet, v) for v in values])
        rows += 1
        seen.add(a.person_id)
    # People registered here with no assignment here: one row each, assignment cells blank.
    prefix = jurisdiction_prefix(user)
    visible_assignments = Assignment.objects.filter(person=OuterRef("pk"))
    if prefix:
        visible_assignments = visible_assignments.filter(grid__path__startswith=prefix)
    unassigned = (
        Person.objects.visible_to(user)
        .filter(~Exists(visible_assignments))
        .select_related("organisation")
        .order_by("name", "pk")
    )
    for person in unassigned.iterator(chunk_size=CHUNK):
        sheet.append([_text(sheet, v) for v in person_cells(person)])
        rows += 1
        seen.add(person.pk)
    people = len(seen)

    if full:
        AuditEvent.objects.create(
            actor=user,
            action=AuditEvent.Action.EXPORT_PERSONAL_DATA,
            detail={"what": "roster", "rows": rows, "people": people, "scope": prefix or "/"},
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _text(sheet, value, **style):
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str) and value:
        cell.data_type = "s"  # never a formula, never a number that loses digits
    for name, item in style.items():
        setattr(cell, name, item)
    return cell
