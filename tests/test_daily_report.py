"""The daily report (日报) as XLSX, from the dashboard and from the API: the workbook's cells
are the same numbers the stats API serves."""

import datetime
import io
from urllib.parse import unquote

import pytest
from django.utils import timezone
from django.utils.translation import gettext
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from grids.models import Level
from screening.metrics import METRICS
from screening.reports import HEADER_ROW, XLSX_CONTENT_TYPE, report_columns
from tests.factories import make_grid
from tests.stats_factories import numbers, put_stat

D = datetime.date(2022, 2, 10)


@pytest.fixture
def commander_client(client, county_commander):
    client.force_login(county_commander)
    return client


@pytest.fixture
def day_of_numbers(tree):
    stamp = timezone.make_aware(datetime.datetime(2022, 2, 10, 18, 30))
    put_stat(tree.debao, D, updated_at=stamp, **numbers(3))
    put_stat(
        tree.dongling,
        D,
        updated_at=stamp,
        **(numbers(2) | {"leaves_expected": 3, "leaves_reported": 1}),
    )
    put_stat(
        tree.hospital,
        D,
        updated_at=stamp,
        **(numbers(4) | {"leaves_expected": 1, "leaves_reported": 1}),
    )
    return tree


def workbook(response):
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_CONTENT_TYPE
    return load_workbook(io.BytesIO(response.content))


def table(ws):
    """The table below the header row, as dicts keyed by column key, up to the first blank row."""
    keys = [key for key, _header in report_columns()]
    rows = []
    for r in range(HEADER_ROW + 1, ws.max_row + 1):
        values = [ws.cell(row=r, column=c).value for c in range(1, len(keys) + 1)]
        if all(v is None for v in values):
            break
        rows.append(dict(zip(keys, values, strict=True)))
    return rows


def expected_row(values, index, name, code):
    return {
        "index": index,
        "name": name,
        "code": code,
        **values,
        "coverage": pytest.approx(values["households_checked"] / values["households_total"]),
        "leaves_missing": values["leaves_expected"] - values["leaves_reported"],
    }


def test_report_cells_equal_the_stats(
    commander_client, api_client_for, county_commander, day_of_numbers
):
    ws = workbook(
        commander_client.get("/dashboard/451024000000/report.xlsx?date=2022-02-10")
    ).active

    assert ws.title == gettext("Daily report")
    title = ws["A1"].value
    assert title.startswith("德保县") and title.endswith("2022-02-10")
    heading = " ".join(
        str(ws.cell(row=2, column=c).value or "") for c in range(1, ws.max_column + 1)
    )
    assert "德保县" in heading and "451024000000" in heading and "2022-02-10" in heading
    assert "2022-02-10 18:30" in heading  # when the data was last updated
    headers = [ws.cell(row=HEADER_ROW, column=c).value for c in range(1, len(report_columns()) + 1)]
    assert headers == [header for _key, header in report_columns()]
    for metric in METRICS:
        assert any(str(metric.label).lower() == str(h).lower() for h in headers)

    dongling_numbers = numbers(2) | {"leaves_expected": 3, "leaves_reported": 1}
    hospital_numbers = numbers(4) | {"leaves_expected": 1, "leaves_reported": 1}
    rows = table(ws)
    assert rows[0] == expected_row(dongling_numbers, 1, "东凌镇", "451024100000")
    assert rows[1] == expected_row(hospital_numbers, 2, "德保县人民医院", "DB-HOSP-1")
    assert rows[2] == expected_row(numbers(3), gettext("Total"), "德保县", "451024000000")
    assert len(rows) == 3
    coverage_column = [key for key, _h in report_columns()].index("coverage") + 1
    assert ws.cell(row=HEADER_ROW + 1, column=coverage_column).number_format == "0.0%"

    # The table equals the stats API's numbers for the same node and date.
    body = (
        api_client_for(county_commander)
        .get("/api/v1/grids/451024000000/stats/?date=2022-02-10")
        .json()
    )
    for row, entry in zip(rows, [*body["children"], body["node"]], strict=True):
        for key, _header in report_columns():
            if key in entry and key != "coverage":
                assert row[key] == entry[key], key
        assert row["coverage"] == pytest.approx(entry["coverage"])

    # Below the table: the children not yet reported, by name, with what is missing.
    after = [ws.cell(row=r, column=1).value for r in range(HEADER_ROW + 4, ws.max_row + 1)]
    late = next(v for v in after if v and "东凌镇" in v)
    assert "2" in late and "3" in late and "德保县人民医院" not in late
    # Widths are set for every column, the name column wide enough for a Chinese name.
    for c in range(1, len(report_columns()) + 1):
        assert ws.column_dimensions[get_column_letter(c)].width >= 6
    assert ws.column_dimensions["B"].width >= len("德保县人民医院") * 2
    assert ws.freeze_panes == f"C{HEADER_ROW + 1}"


def test_the_download_is_named_for_the_unit_and_date(commander_client, day_of_numbers):
    response = commander_client.get("/dashboard/451024000000/report.xlsx?date=2022-02-10")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    name = unquote(disposition.split("filename*=utf-8''")[1])
    assert "德保县" in name and "2022-02-10" in name and name.endswith(".xlsx")


def test_the_api_serves_the_same_report(
    api_client_for, county_commander, commander_client, day_of_numbers
):
    api = api_client_for(county_commander)
    from_api = workbook(api.get("/api/v1/grids/451024000000/daily-report/?date=2022-02-10")).active
    from_page = workbook(
        commander_client.get("/dashboard/451024000000/report.xlsx?date=2022-02-10")
    ).active
    assert table(from_api) == table(from_page)
    assert from_api["A1"].value == from_page["A1"].value
    # A client may ask for the spreadsheet by its media type.
    asked = api.get(
        "/api/v1/grids/451024000000/daily-report/?date=2022-02-10", HTTP_ACCEPT=XLSX_CONTENT_TYPE
    )
    assert table(workbook(asked).active) == table(from_api)


def test_a_day_without_rows_reports_zeros_and_everyone_missing(commander_client, tree):
    ws = workbook(
        commander_client.get("/dashboard/451024000000/report.xlsx?date=2022-02-10")
    ).active
    rows = table(ws)
    assert [r["code"] for r in rows] == ["451024100000", "DB-HOSP-1", "451024000000"]
    assert all(r[m.name] == 0 for r in rows for m in METRICS)
    assert [r["leaves_missing"] for r in rows] == [3, 1, 4]
    assert all(r["coverage"] is None for r in rows)  # no households recorded in the tree


def test_bad_dates_and_grids_outside_the_jurisdiction(
    commander_client, api_client_for, county_commander, tree
):
    page = commander_client.get("/dashboard/451024000000/report.xlsx?date=2022-02-30")
    assert page.status_code == 400 and "2022-02-30" in page.content.decode()
    api = api_client_for(county_commander)
    bad = api.get("/api/v1/grids/451024000000/daily-report/?date=10/02/2022")
    assert bad.status_code == 400 and list(bad.json()) == ["date"]
    assert commander_client.get("/dashboard/451026000000/report.xlsx").status_code == 404
    assert api.get("/api/v1/grids/451026000000/daily-report/").status_code == 404
    assert api.get("/api/v1/grids/451000000000/daily-report/").status_code == 404


@pytest.mark.parametrize("n", [3, 20])
def test_the_report_costs_the_same_queries_for_3_or_20_children(
    api_client_for, county_commander, tree, n, django_assert_num_queries
):
    township = make_grid(
        f"4510241{n:02d}000", f"测试镇{n}", level=Level.TOWNSHIP, parent=tree.debao
    )
    put_stat(township, D, **numbers(1))
    for i in range(1, n + 1):
        village = make_grid(
            f"4510241{n:02d}{i:03d}", f"村{i}", level=Level.VILLAGE, parent=township
        )
        put_stat(village, D, **numbers(i))
    api = api_client_for(county_commander)

    # Token and user, the user's jurisdiction, the grid, its children, the rows.
    with django_assert_num_queries(5):
        response = api.get(f"/api/v1/grids/{township.code}/daily-report/?date=2022-02-10")

    assert len(table(workbook(response).active)) == n + 1
