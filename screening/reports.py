"""The daily report (日报) as an XLSX workbook: a node and its children for one date, laid
out the way a county clerk hands the day's figures up the chain:

    德保县 入户排查日报 2022-02-10
    填报单位：德保县（451024000000）   日期：2022-02-10   数据更新：2022-02-10 18:30
    序号 | 网格 | 编码 | 户数 | 已排查户数 | 排查覆盖率 | 应报 | 已报 | 未报 | <each metric>
    1    | 东凌镇 | ...
    合计 | (the node's own totals)
    未报告：东凌镇（缺 1 个网格）、...
    制表：<user>   制表时间：...

The labels are translated (Chinese by default); the numbers are those of
screening.stats, the same the dashboard and the stats API show.
"""

import io
import unicodedata

from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from .metrics import METRICS
from .stats import Snapshot, stats_snapshot

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: The row of the column headers; children start on the next row.
HEADER_ROW = 4
_PERCENT = "0.0%"
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="E8ECF1")
_TOTAL_FILL = PatternFill("solid", fgColor="FFF4D6")
_RISK_FONT = Font(color="B71C1C", bold=True)


def report_columns() -> list[tuple[str, str]]:
    """(key, header) for every column of the table, in order."""
    return [
        ("index", _("No.")),
        ("name", _("Grid")),
        ("code", _("Code")),
        ("households_total", _("Households")),
        ("households_checked", _("Households checked")),
        ("coverage", _("Coverage")),
        ("leaves_expected", _("Grids expected to report")),
        ("leaves_reported", _("Grids reported")),
        ("leaves_missing", _("Grids not reported")),
        *[(m.name, capfirst(str(m.label))) for m in METRICS],
    ]


def report_title(snapshot: Snapshot) -> str:
    return _("%(unit)s door-to-door screening daily report %(date)s") % {
        "unit": snapshot.node.node.name,
        "date": snapshot.day.isoformat(),
    }


def _row_values(stats, index) -> dict:
    return {
        "index": index,
        "name": stats.node.name,
        "code": stats.node.code,
        **stats.values,
        "coverage": stats.coverage,
        "leaves_missing": stats.leaves_missing,
    }


def daily_report_workbook(snapshot: Snapshot, *, prepared_by: str = "") -> Workbook:
    columns = report_columns()
    width = len(columns)
    risky = {m.name for m in METRICS if m.risk}
    node = snapshot.node.node
    wb = Workbook()
    ws = wb.active
    # Excel sheet names: at most 31 characters, none of []:*?/\ (a date has none).
    ws.title = _("Daily report")[:31]

    # Title and the heading lines a clerk fills in by hand on the paper form.
    ws.cell(row=1, column=1, value=report_title(snapshot)).font = Font(size=16, bold=True)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 30
    as_of = snapshot.as_of
    heading = [
        _("Reporting unit: %(name)s (%(code)s)") % {"name": node.name, "code": node.code},
        _("Date: %(date)s") % {"date": snapshot.day.isoformat()},
        _("Data as of: %(time)s")
        % {
            "time": timezone.localtime(as_of).strftime("%Y-%m-%d %H:%M")
            if as_of
            else _("no data yet")
        },
    ]
    # Spread the three over the width: unit on the left, date and freshness after it.
    thirds = [1, 1 + width // 3, 1 + 2 * width // 3]
    for start, text in zip(thirds, heading, strict=True):
        ws.cell(row=2, column=start, value=text)

    for col, (_key, header) in enumerate(columns, start=1):
        cell = ws.cell(row=HEADER_ROW, column=col, value=header)
        cell.font = Font(bold=True)
        cell.fill = _HEAD_FILL
        cell.border = _BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[HEADER_ROW].height = 36

    rows = [_row_values(child, i) for i, child in enumerate(snapshot.children, start=1)]
    total = _row_values(snapshot.node, _("Total"))
    total["name"], total["code"] = node.name, node.code
    for offset, values in enumerate([*rows, total]):
        r = HEADER_ROW + 1 + offset
        is_total = values is total
        for col, (key, _header) in enumerate(columns, start=1):
            cell = ws.cell(row=r, column=col, value=values[key])
            cell.border = _BOX
            if key == "coverage":
                cell.number_format = _PERCENT
            if is_total:
                cell.font = Font(bold=True)
                cell.fill = _TOTAL_FILL
            elif key in risky and values[key]:
                cell.font = _RISK_FONT
            elif key == "leaves_missing" and values[key]:
                cell.font = _RISK_FONT

    after = HEADER_ROW + len(rows) + 2
    late = snapshot.not_reported
    names = "、".join(
        _("%(name)s (%(missing)s of %(expected)s grids)")
        % {"name": c.node.name, "missing": c.leaves_missing, "expected": c["leaves_expected"]}
        for c in late
    )
    ws.cell(
        row=after + 1,
        column=1,
        value=_("Not yet reported: %(names)s") % {"names": names or _("none")},
    )
    ws.merge_cells(start_row=after + 1, start_column=1, end_row=after + 1, end_column=width)
    ws.cell(row=after + 1, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.cell(
        row=after + 2,
        column=1,
        value=_("Prepared by: %(user)s    Prepared at: %(time)s")
        % {"user": prepared_by, "time": timezone.localtime().strftime("%Y-%m-%d %H:%M")},
    )

    _set_widths(ws, columns, [*rows, total])
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=3)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    return wb


def _display_width(text: str) -> int:
    # CJK characters take two columns in a spreadsheet, like in a terminal.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _set_widths(ws, columns, rows) -> None:
    for col, (key, header) in enumerate(columns, start=1):
        widest = max(
            [_display_width(header) // 2 + 2]  # headers wrap onto two lines
            + [_display_width(str(r[key] if r[key] is not None else "")) for r in rows]
        )
        if key == "coverage":
            widest = max(widest, 8)
        ws.column_dimensions[get_column_letter(col)].width = min(max(widest + 2, 6), 40)


def daily_report_filename(snapshot: Snapshot) -> str:
    return (
        _("%(unit)s daily report %(date)s")
        % {
            "unit": snapshot.node.node.name,
            "date": snapshot.day.isoformat(),
        }
        + ".xlsx"
    )


def daily_report_response(*, user, node, day) -> HttpResponse:
    """The daily report of a visible node as a downloadable XLSX response."""
    snapshot = stats_snapshot(user=user, node=node, day=day)
    wb = daily_report_workbook(snapshot, prepared_by=user.get_full_name() or user.get_username())
    buffer = io.BytesIO()
    wb.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=daily_report_filename(snapshot)
    )
    return response
