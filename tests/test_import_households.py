"""Household import: validation by row and column, atomicity, idempotency, jurisdiction,
encodings, the command, the upload page and the API."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from openpyxl import Workbook

from grids.importing import BATCH_SIZE, household_import
from grids.models import Household, TenHouseholdGroup
from tests.factories import make_household, make_user

pytestmark = pytest.mark.django_db

HEADER = ["code", "grid_code", "address", "head_name", "phone", "size"]
ZH_HEADER = ["户编码", "网格编码", "地址", "户主姓名", "联系电话", "人口"]
ROWS = [
    ["H-001", "451024100001001", "那温屯1号", "黄大明", "13812345678", "4"],
    ["H-002", "451024100001001", "那温屯2号", "农小红", "0776-3821234", "2"],
    ["H-003", "DB-HOSP-1", "医院宿舍3栋", "韦建国", "", "1"],
]


def csv_bytes(rows, header=HEADER, encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def run(data: bytes, **kwargs):
    return household_import(file=io.BytesIO(data), **kwargs)


def snapshot():
    return list(
        Household.objects.order_by("code").values_list(
            "code", "grid_id", "group_id", "address", "head_name", "phone", "size", "updated_at"
        )
    )


def assert_rejected(data, expected, **kwargs):
    before = snapshot()
    result = run(data, **kwargs)
    assert not result.ok
    assert expected <= {(e.row, e.column) for e in result.errors}, result.errors
    assert snapshot() == before
    return result


def test_import_creates_households(tree):
    result = run(csv_bytes(ROWS))
    assert result.ok, result.errors
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    household = Household.objects.get(code="H-002")
    assert (household.grid_id, household.phone, household.size) == (tree.h11.pk, "0776-3821234", 2)
    assert Household.objects.get(code="H-003").grid_id == tree.hospital.pk


def test_reimport_changes_nothing_and_an_edit_updates_in_place(tree):
    assert run(csv_bytes(ROWS)).ok
    before = snapshot()
    again = run(csv_bytes(ROWS))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert snapshot() == before
    pk = Household.objects.get(code="H-001").pk
    edited = [["H-001", "451024100001002", "弄立屯9号", "黄大明", "13812345678", "5"], *ROWS[1:]]
    result = run(csv_bytes(edited))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
    household = Household.objects.get(code="H-001")
    assert (household.pk, household.grid_id, household.address, household.size) == (
        pk,
        tree.h12.pk,
        "弄立屯9号",
        5,
    )


def test_moving_house_leaves_the_ten_household_group(tree):
    group = TenHouseholdGroup.objects.create(code="G1", name="一组", hamlet=tree.h11)
    household = make_household(tree.h11, code="H-001")
    Household.objects.filter(pk=household.pk).update(group=group)
    assert run(csv_bytes([["H-001", "451024100001002", "弄立屯9号", "黄大明", "", "3"]])).ok
    assert Household.objects.get(code="H-001").group_id is None


def test_chinese_headers_in_gbk(tree):
    result = run(
        csv_bytes(
            ROWS, header=["编码", "网格编码", "地址", "户主", "电话", "户人数"], encoding="gbk"
        )
    )
    assert result.ok, result.errors
    assert Household.objects.get(code="H-001").head_name == "黄大明"


def test_utf8_bom_and_xlsx(tree):
    assert run(b"\xef\xbb\xbf" + csv_bytes(ROWS[:1], header=ZH_HEADER)).created == 1
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(ZH_HEADER)
    sheet.append(["H-010", 451024100002001, "古寿屯10号", "李四", 13912345678, 3])
    out = io.BytesIO()
    workbook.save(out)
    result = run(out.getvalue())
    assert result.ok, result.errors
    assert Household.objects.get(code="H-010").phone == "13912345678"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("phone", "12345"),
        ("phone", "23812345678"),
        ("phone", "138-1234-5678x"),
        ("size", "0"),
        ("size", "2.5"),
        ("size", ""),
        ("code", ""),
        ("address", ""),
        ("head_name", ""),
    ],
)
def test_bad_values(tree, column, value):
    row = list(ROWS[1])
    row[HEADER.index(column)] = value
    result = assert_rejected(csv_bytes([ROWS[0], row, ROWS[2]]), {(3, column)})
    if column == "phone":
        assert value not in result.errors[0].message  # personal data is not echoed


def test_duplicate_code(tree):
    assert_rejected(csv_bytes([*ROWS, ROWS[0]]), {(5, "code")})


def test_grid_must_exist_and_be_a_hamlet_or_unit(tree):
    rows = [
        *ROWS,
        ["H-004", "451024100001", "村委", "x", "", "1"],
        ["H-005", "451024999999001", "x", "y", "", "1"],
    ]
    assert_rejected(csv_bytes(rows), {(5, "grid_code"), (6, "grid_code")})


def test_missing_column(tree):
    assert_rejected(
        b"code,grid_code,address\nH-1,451024100001001,x\n", {(1, "head_name"), (1, "size")}
    )


@pytest.fixture
def debao_admin(tree):
    return make_user(roles=["administrator"], jurisdiction=tree.debao, username="debao_admin")


def test_jurisdiction(tree, debao_admin):
    make_household(tree.nh1, code="H-NAPO-1")
    rows = [
        *ROWS,
        ["H-006", "451026100001001", "百都屯6号", "x", "", "1"],  # a hamlet in Napo
        ["H-NAPO-1", "451024100001001", "那温屯", "x", "", "1"],  # a Napo household's code
    ]
    result = assert_rejected(csv_bytes(rows), {(5, "grid_code"), (6, "code")}, user=debao_admin)
    # A grid outside reads like one that does not exist.
    assert "451026100001001" in result.errors[0].message
    assert run(csv_bytes(ROWS), user=debao_admin).created == 3


def test_more_rows_than_one_batch(tree):
    rows = [
        [f"H-{i:05}", "451024100001001", f"那温屯{i}号", f"户主{i}", "", "3"]
        for i in range(BATCH_SIZE + 5)
    ]
    result = run(csv_bytes(rows))
    assert result.ok and result.created == BATCH_SIZE + 5
    rows[-1][5] = "4"
    result = run(csv_bytes(rows))
    assert (result.created, result.updated, result.unchanged) == (0, 1, BATCH_SIZE + 4)
    # An error in the last batch leaves the first batches unwritten too.
    rows += [[f"H-X{i}", "451024100001001", "x", "y", "", "3"] for i in range(3)] + [
        ["H-Y", "nowhere", "x", "y", "", "3"]
    ]
    before = snapshot()
    assert [(e.row, e.column) for e in run(csv_bytes(rows)).errors] == [
        (len(rows) + 1, "grid_code")
    ]
    assert snapshot() == before


def test_query_count_does_not_grow_with_rows(tree, django_assert_num_queries):
    """Per batch: one grid lookup (first time a grid is seen) and one household lookup; two
    passes (validate, write); one insert. Savepoint pair and the PostgreSQL lock on top, and
    the rollup's look for today's rows (screening.ledger.tree_changed_receiver)."""
    rows = [[f"H-{i:03}", "451024100001001", f"x{i}", "y", "", "3"] for i in range(50)]
    overhead = 3 + (connection.vendor == "postgresql")
    with django_assert_num_queries(overhead + 2 + 1 + 1):
        assert run(csv_bytes(rows[:5])).created == 5
    with django_assert_num_queries(overhead + 2 + 1 + 1):
        assert run(csv_bytes(rows)).created == 45


def test_command(tree, tmp_path, debao_admin):
    path = tmp_path / "households.csv"
    path.write_bytes(csv_bytes(ROWS))
    out = io.StringIO()
    call_command("import_households", str(path), "--dry-run", stdout=out)
    assert "created 3" in out.getvalue() and not Household.objects.exists()
    call_command("import_households", str(path), "--user", "debao_admin", stdout=out)
    assert Household.objects.count() == 3
    path.write_bytes(csv_bytes([["H-9", "451026100001001", "x", "y", "", "1"]]))
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_households", str(path), "--user", "debao_admin", stderr=err)
    assert "row 2, column grid_code: " in err.getvalue()
    assert not Household.objects.filter(code="H-9").exists()


def test_upload_page_and_permissions(tree, debao_admin, county_commander, client):
    url = reverse("imports:households")
    anonymous = client.post(url, {"file": SimpleUploadedFile("h.csv", csv_bytes(ROWS))})
    assert anonymous.status_code == 302 and not Household.objects.exists()  # to the login page
    client.force_login(county_commander)
    assert (
        client.post(url, {"file": SimpleUploadedFile("h.csv", csv_bytes(ROWS))}).status_code == 403
    )
    assert not Household.objects.exists()
    client.force_login(debao_admin)
    assert client.get(url).status_code == 200
    response = client.post(url, {"file": SimpleUploadedFile("h.csv", csv_bytes(ROWS))})
    assert response.context["result"].created == 3
    assert "3" in response.content.decode()


def test_api(tree, debao_admin, county_commander, api_client_for):
    url = reverse("imports-api:households")
    denied = api_client_for(county_commander).post(
        url, {"file": SimpleUploadedFile("h.csv", csv_bytes(ROWS))}, format="multipart"
    )
    assert denied.status_code == 403 and not Household.objects.exists()
    client = api_client_for(debao_admin)
    ok = client.post(
        url, {"file": SimpleUploadedFile("h.csv", csv_bytes(ROWS))}, format="multipart"
    )
    assert ok.status_code == 200 and ok.json()["created"] == 3
    bad = client.post(
        url,
        {
            "file": SimpleUploadedFile(
                "h.csv", csv_bytes([["H-9", "DB-HOSP-1", "x", "y", "1", "1"]])
            )
        },
        format="multipart",
    )
    assert bad.status_code == 400
    assert bad.json()["errors"] == [
        {"row": 2, "column": "phone", "message": bad.json()["errors"][0]["message"]}
    ]
    assert not Household.objects.filter(code="H-9").exists()
