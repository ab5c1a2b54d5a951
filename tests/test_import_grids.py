"""Grid-tree import: every error class (with row and column, nothing written), idempotent
re-import, edit in place, moves, encodings, XLSX, boundaries, jurisdiction, the command,
the upload page and the API."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import Workbook

from grids.importing import grid_tree_import
from grids.models import Category, GridNode, Household, Kind, Level
from tests.factories import make_household, make_user, square

pytestmark = pytest.mark.django_db

HEADER = ["code", "parent_code", "level", "name", "category", "kind", "households", "population"]
ZH_HEADER = ["编码", "上级编码", "层级", "名称", "类别", "类型", "户数", "人口"]

# A new township under Debao, children listed before their parents.
NEW_TOWNSHIP = [
    ["451024101001001", "451024101001", "hamlet", "那甲屯", "non_border", "cell", "40", "160"],
    ["451024101001", "451024101000", "village", "那甲村", "non_border", "cell", "", ""],
    ["451024101000", "451024000000", "township", "都安乡", "non_border", "cell", "", ""],
    ["DA-SCHOOL-1", "451024101000", "township", "都安中学", "unit", "dedicated", "0", "600"],
]


def csv_bytes(rows, header=HEADER, encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def run(data: bytes, boundaries=None, **kwargs):
    geojson = io.BytesIO(json.dumps(boundaries).encode()) if boundaries is not None else None
    return grid_tree_import(file=io.BytesIO(data), boundaries=geojson, **kwargs)


def snapshot():
    """Everything an import could change, updated_at included."""
    return list(
        GridNode.objects.order_by("code").values_list(
            "code",
            "name",
            "parent_id",
            "path",
            "depth",
            "level",
            "category",
            "kind",
            "expected_households",
            "expected_population",
            "boundary",
            "point_lng",
            "updated_at",
        )
    )


def errors_at(result):
    return {(e.row, e.column) for e in result.errors}


def features(*pairs):
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": c}, "geometry": g} for c, g in pairs
        ],
    }


# -- a good import ---------------------------------------------------------------------


def test_import_creates_a_subtree_in_any_row_order(tree):
    result = run(csv_bytes(NEW_TOWNSHIP))
    assert result.ok, result.errors
    assert (result.created, result.updated, result.unchanged) == (4, 0, 0)
    hamlet = GridNode.objects.get(code="451024101001001")
    assert hamlet.path == "/451000000000/451024000000/451024101000/451024101001/451024101001001/"
    assert hamlet.depth == 5 and hamlet.level == Level.HAMLET
    assert (hamlet.expected_households, hamlet.expected_population) == (40, 160)
    assert hamlet.parent.code == "451024101001"
    school = GridNode.objects.get(code="DA-SCHOOL-1")
    assert (school.level, school.category, school.kind) == (
        Level.TOWNSHIP,
        Category.UNIT,
        Kind.DEDICATED,
    )
    assert school.path.endswith("/451024101000/DA-SCHOOL-1/")


def test_reimporting_the_same_file_changes_nothing(tree):
    data = csv_bytes(NEW_TOWNSHIP)
    geo = features(("451024101000", square(106.3, 23.4, 0.1)))
    assert run(data, geo).ok
    before = snapshot()
    again = run(data, geo)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert snapshot() == before  # not even updated_at moved


def test_reimport_uses_a_fixed_number_of_queries(tree, django_assert_num_queries):
    """Lookups are chunked: a re-import costs the same few queries for 1 row or 4."""
    from django.db import connection

    assert run(csv_bytes(NEW_TOWNSHIP)).ok
    # savepoint + release (the test's transaction), the node lookup, and the import lock on PostgreSQL
    expected = 3 + (connection.vendor == "postgresql")
    with django_assert_num_queries(expected):
        assert run(csv_bytes(NEW_TOWNSHIP[:1])).unchanged == 1
    with django_assert_num_queries(expected):
        assert run(csv_bytes(NEW_TOWNSHIP)).unchanged == 4


def test_an_edited_file_updates_in_place(tree):
    rows = [
        ["451024100001", "451024100000", "village", "那温村（新）", "border", "cell", "120", "480"],
        ["451024100001001", "451024100001", "hamlet", "那温屯", "", "", "", ""],
    ]
    geo = features(("451024100001001", square(106.12, 23.31, 0.01)))
    pk = tree.v1.pk
    result = run(csv_bytes(rows), geo)
    assert result.ok, result.errors
    assert (result.created, result.updated, result.unchanged) == (0, 2, 0)
    v1 = GridNode.objects.get(code="451024100001")
    assert v1.pk == pk
    assert (v1.name, v1.category, v1.expected_households, v1.expected_population) == (
        "那温村（新）",
        "border",
        120,
        480,
    )
    assert v1.boundary == tree.v1.boundary  # no feature: the stored boundary stays
    h11 = GridNode.objects.get(code="451024100001001")
    assert h11.boundary == square(106.12, 23.31, 0.01)
    assert 106.12 < h11.point_lng < 106.13 and 23.31 < h11.point_lat < 23.32
    assert h11.expected_households == 3  # blank cell keeps the stored value


def test_a_changed_parent_moves_the_subtree(tree):
    """Village 古寿村 moves from 东凌镇 to a new township; its stored hamlet follows."""
    make_household(tree.h21, code="H-GS-1")
    rows = [
        ["451024102000", "451024000000", "乡", "新乡", "", "", "", ""],
        ["451024100002", "451024102000", "村", "古寿村", "", "", "", ""],
    ]
    result = run(csv_bytes(rows))
    assert result.ok, result.errors
    assert (result.created, result.updated) == (1, 1)
    v2 = GridNode.objects.get(code="451024100002")
    assert v2.parent.code == "451024102000"
    assert v2.path == "/451000000000/451024000000/451024102000/451024100002/"
    h21 = GridNode.objects.get(code="451024100002001")
    assert h21.path == "/451000000000/451024000000/451024102000/451024100002/451024100002001/"
    assert h21.depth == 5
    assert Household.objects.get(code="H-GS-1").grid_id == h21.pk
    assert not GridNode.objects.filter(parent=tree.dongling, code="451024100002").exists()


def test_a_unit_grid_moves_up_a_level_with_its_level_column(tree):
    rows = [
        ["DB-HOSP-1", "451024100000", "township", "德保县人民医院", "unit", "dedicated", "", ""]
    ]
    assert run(csv_bytes(rows)).ok
    hospital = GridNode.objects.get(code="DB-HOSP-1")
    assert hospital.level == Level.TOWNSHIP and hospital.parent_id == tree.dongling.pk


def test_chinese_headers_and_values_in_a_gbk_csv(tree):
    rows = [
        ["451024101000", "451024000000", "乡", "都安乡", "边境", "单元", "1,200", "4800"],
        ["DA-MKT-1", "451024101000", "乡", "都安市场", "单位", "专属", "", ""],
    ]
    result = run(csv_bytes(rows, header=ZH_HEADER, encoding="gbk"))
    assert result.ok, result.errors
    township = GridNode.objects.get(code="451024101000")
    assert (township.name, township.category, township.kind, township.expected_households) == (
        "都安乡",
        "border",
        "cell",
        1200,
    )
    assert GridNode.objects.get(code="DA-MKT-1").kind == Kind.DEDICATED


def test_utf8_bom_csv(tree):
    result = run(b"\xef\xbb\xbf" + csv_bytes(NEW_TOWNSHIP, header=ZH_HEADER))
    assert result.ok, result.errors
    assert result.created == 4


def test_xlsx_with_numeric_codes(tree):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(ZH_HEADER)
    sheet.append([451024101000, 451024000000, "乡", "都安乡", "非边境", "单元", 10, 40])
    sheet.append([])
    sheet.append([451024101001, 451024101000, "村", "那甲村", None, None, None, None])
    out = io.BytesIO()
    workbook.save(out)
    result = run(out.getvalue())
    assert result.ok, result.errors
    assert GridNode.objects.get(code="451024101001").parent.code == "451024101000"


def test_boundaries_attach_by_code_also_to_stored_grids(tree):
    geo = features(
        ("451024101000", square(106.3, 23.4, 0.1)), ("451024100002001", square(106.2, 23.3, 0.01))
    )
    result = run(csv_bytes(NEW_TOWNSHIP[2:3]), geo)
    assert result.ok, result.errors
    assert (result.created, result.updated) == (1, 1)
    assert GridNode.objects.get(code="451024101000").boundary == square(106.3, 23.4, 0.1)
    h21 = GridNode.objects.get(code="451024100002001")
    assert h21.boundary == square(106.2, 23.3, 0.01) and h21.point_lat is not None


# -- every error class: row, column, and nothing written ---------------------------------


def assert_rejected(data, expected, boundaries=None, **kwargs):
    before = snapshot()
    result = run(data, boundaries, **kwargs)
    assert not result.ok
    assert expected <= errors_at(result), result.errors
    assert all(e.message for e in result.errors)
    assert snapshot() == before
    return result


def test_unknown_parent(tree):
    rows = NEW_TOWNSHIP + [["451024103000", "451024999000", "township", "无主乡", "", "", "", ""]]
    result = assert_rejected(csv_bytes(rows), {(6, "parent_code")})
    assert len(result.errors) == 1


def test_wrong_level(tree):
    rows = NEW_TOWNSHIP + [["451024101002", "451024101000", "hamlet", "错层村", "", "", "", ""]]
    assert_rejected(csv_bytes(rows), {(6, "level")})


def test_unit_grid_at_the_wrong_level(tree):
    rows = [["DB-SCH-2", "451024100000", "county", "学校", "unit", "cell", "", ""]]
    assert_rejected(csv_bytes(rows), {(2, "level")})


def test_bad_code_for_its_level(tree):
    rows = [["451024100002999", "451024100001", "hamlet", "错码屯", "", "", "", ""]]
    assert_rejected(csv_bytes(rows), {(2, "code")})


def test_duplicate_code_in_the_file(tree):
    rows = NEW_TOWNSHIP + [NEW_TOWNSHIP[1]]
    result = assert_rejected(csv_bytes(rows), {(6, "code")})
    assert "3" in result.errors[0].message  # names the first row


def test_cycle_in_the_file(tree):
    rows = [
        ["451024101000", "451024101001", "township", "甲", "", "", "", ""],
        ["451024101001", "451024101000", "village", "乙", "", "", "", ""],
    ]
    assert_rejected(csv_bytes(rows), {(2, "parent_code"), (3, "parent_code")})


def test_cycle_through_stored_nodes(tree):
    """东凌镇 re-parented under its own stored hamlet."""
    rows = [["451024100000", "451024100001001", "township", "东凌镇", "", "", "", ""]]
    result = assert_rejected(csv_bytes(rows), {(2, "parent_code")})
    assert len(result.errors) == 1


def test_own_parent_is_a_cycle(tree):
    rows = [["451024101000", "451024101000", "township", "甲", "", "", "", ""]]
    assert_rejected(csv_bytes(rows), {(2, "parent_code")})


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("level", "省"),
        ("category", "山区"),
        ("kind", "临时"),
        ("households", "-3"),
        ("population", "many"),
    ],
)
def test_bad_value(tree, column, value):
    row = list(NEW_TOWNSHIP[2])
    row[HEADER.index(column)] = value
    assert_rejected(csv_bytes([*NEW_TOWNSHIP[:2], row]), {(4, column)})


def test_empty_code_and_name(tree):
    assert_rejected(
        csv_bytes([["", "451024000000", "township", "", "", "", "", ""]]),
        {(2, "code"), (2, "name")},
    )


def test_errors_name_the_files_own_chinese_columns(tree):
    rows = [["451024101000", "451024999000", "乡", "都安乡", "", "", "", ""]]
    assert_rejected(csv_bytes(rows, header=ZH_HEADER), {(2, "上级编码")})


def test_unknown_and_missing_columns(tree):
    data = b"code,parent_code,level,colour\n451024101000,451024000000,township,red\n"
    assert_rejected(data, {(1, "colour"), (1, "name")})


def test_a_file_that_is_not_a_spreadsheet(tree):
    result = assert_rejected(b"\x89PNG\r\n\x1a\n\x00\x00binary", {(None, "file")})
    assert " / " in result.errors[0].message or result.errors[0].message


def test_bad_geometry(tree):
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[106, 23], [106.1, 23.1], [106.1, 23], [106, 23.1], [106, 23]]],
    }
    geo = features(
        ("451024101000", bowtie), ("451024101001", {"type": "Point", "coordinates": [106, 23]})
    )
    result = assert_rejected(csv_bytes(NEW_TOWNSHIP), {(None, "boundaries")}, boundaries=geo)
    assert len(result.errors) == 2
    assert "Feature 1" in result.errors[0].message and "Feature 2" in result.errors[1].message


def test_boundary_for_an_unknown_code(tree):
    geo = features(("451024101000", square(106.3, 23.4, 0.1)), ("451099999000", square(106, 23)))
    result = assert_rejected(csv_bytes(NEW_TOWNSHIP), {(None, "boundaries")}, boundaries=geo)
    assert "451099999000" in result.errors[0].message


def test_boundaries_file_that_is_not_geojson(tree):
    before = snapshot()
    result = grid_tree_import(
        file=io.BytesIO(csv_bytes(NEW_TOWNSHIP)), boundaries=io.BytesIO(b"not json")
    )
    assert errors_at(result) == {(None, "boundaries")}
    assert snapshot() == before


def test_a_stored_grid_cannot_become_a_unit_while_it_has_children(tree):
    # As a unit grid it would take its parent's level, so the row gives that level.
    rows = [["451024100001", "451024100000", "township", "那温村", "unit", "cell", "", ""]]
    assert_rejected(csv_bytes(rows), {(2, "category")})


def test_a_hamlet_with_households_cannot_become_a_dedicated_grid(tree):
    make_household(tree.h12)
    rows = [
        ["451024100001002", "451024100001", "village", "弄立屯", "non_border", "dedicated", "", ""]
    ]
    assert_rejected(csv_bytes(rows), {(2, "kind")})


def test_every_error_of_the_file_is_listed(tree):
    rows = [
        ["451024101000", "451024999000", "township", "甲", "", "", "", ""],
        ["451024101001", "451024101000", "hamlet", "乙", "", "", "", ""],
        ["451024101002", "451024101000", "村", "丙", "山区", "", "", ""],
        ["451024101002", "451024101000", "村", "丙", "", "", "", ""],
    ]
    assert_rejected(csv_bytes(rows), {(2, "parent_code"), (4, "category"), (5, "code")})


# -- jurisdiction ------------------------------------------------------------------------


@pytest.fixture
def debao_admin(tree):
    return make_user(
        roles=["commander", "administrator"], jurisdiction=tree.debao, username="debao_admin"
    )


def test_importer_writes_inside_their_jurisdiction(tree, debao_admin):
    # Their own county row (with its parent outside) may be in the file unchanged.
    rows = [["451024000000", "451000000000", "county", "德保县", "", "", "", ""], *NEW_TOWNSHIP]
    result = run(csv_bytes(rows), user=debao_admin)
    assert result.ok, result.errors
    assert result.created == 4


def test_a_row_under_another_county_is_outside_the_jurisdiction(tree, debao_admin):
    rows = [
        *NEW_TOWNSHIP,
        ["451026100002", "451026100000", "village", "那坡新村", "border", "", "", ""],
    ]
    result = assert_rejected(csv_bytes(rows), {(6, "parent_code")}, user=debao_admin)
    # The message does not tell an existing grid outside from one that does not exist.
    unknown = run(
        csv_bytes([["451026100002", "451026999000", "village", "x", "", "", "", ""]]),
        user=debao_admin,
    )
    assert [e.message.replace("451026999000", "451026100000") for e in unknown.errors] == [
        e.message for e in result.errors
    ]


def test_a_stored_grid_outside_the_jurisdiction_cannot_be_changed(tree, debao_admin):
    rows = [["451026100001", "451026100000", "village", "改名村", "border", "", "", ""]]
    assert_rejected(csv_bytes(rows), {(2, "code")}, user=debao_admin)


def test_moving_a_grid_out_of_the_jurisdiction(tree, debao_admin):
    rows = [["451024100002", "451026100000", "village", "古寿村", "", "", "", ""]]
    assert_rejected(csv_bytes(rows), {(2, "parent_code")}, user=debao_admin)


def test_a_new_root_needs_full_access(tree, debao_admin):
    rows = [["451100000000", "", "city", "贺州市", "", "", "", ""]]
    assert_rejected(csv_bytes(rows), {(2, "parent_code")}, user=debao_admin)
    assert run(csv_bytes(rows)).ok  # the shell operator may


# -- the command ---------------------------------------------------------------------------


def test_command_imports_and_prints_a_summary(tree, tmp_path):
    path = tmp_path / "grids.csv"
    path.write_bytes(csv_bytes(NEW_TOWNSHIP))
    geo = tmp_path / "b.geojson"
    geo.write_text(json.dumps(features(("451024101000", square(106.3, 23.4, 0.1)))))
    out = io.StringIO()
    call_command("import_grids", str(path), "--boundaries", str(geo), stdout=out)
    assert "created 4, updated 0, unchanged 0" in out.getvalue()
    assert GridNode.objects.get(code="451024101000").boundary is not None


def test_command_dry_run_writes_nothing(tree, tmp_path):
    path = tmp_path / "grids.csv"
    path.write_bytes(csv_bytes(NEW_TOWNSHIP))
    before = snapshot()
    out = io.StringIO()
    call_command("import_grids", str(path), "--dry-run", stdout=out)
    assert "created 4" in out.getvalue()
    assert snapshot() == before


def test_command_lists_errors_and_fails(tree, tmp_path, debao_admin):
    path = tmp_path / "grids.csv"
    path.write_bytes(
        csv_bytes([*NEW_TOWNSHIP, ["451026100002", "451026100000", "village", "x", "", "", "", ""]])
    )
    before = snapshot()
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_grids", str(path), "--user", "debao_admin", stderr=err)
    assert "row 6, column parent_code: " in err.getvalue()
    assert snapshot() == before
    with pytest.raises(CommandError):
        call_command("import_grids", str(path), "--user", "nobody")
    with pytest.raises(CommandError):
        call_command("import_grids", str(tmp_path / "missing.csv"))


# -- upload page and API ----------------------------------------------------------------------


def upload(data=None, name="grids.csv"):
    return SimpleUploadedFile(
        name, data if data is not None else csv_bytes(NEW_TOWNSHIP), content_type="text/csv"
    )


def test_upload_page_imports_for_an_administrator(tree, debao_admin, client):
    client.force_login(debao_admin)
    url = reverse("imports:grids")
    page = client.get(url)
    assert page.status_code == 200 and b'type="file"' in page.content
    response = client.post(url, {"file": upload(), "dry_run": "on"})
    assert response.status_code == 200
    assert (
        response.context["result"].created == 4
        and not GridNode.objects.filter(code="451024101000").exists()
    )
    response = client.post(url, {"file": upload()})
    assert response.context["result"].created == 4
    assert GridNode.objects.filter(code="451024101000").exists()


def test_upload_page_shows_the_error_table(tree, debao_admin, client):
    client.force_login(debao_admin)
    before = snapshot()
    data = csv_bytes([["451024101000", "451026100000", "township", "x", "", "", "", ""]])
    response = client.post(reverse("imports:grids"), {"file": upload(data)})
    assert response.status_code == 200
    content = response.content.decode()
    assert "<table" in content and "parent_code" in content and ">2<" in content
    assert snapshot() == before


def test_upload_page_is_forbidden_to_non_administrators(tree, county_commander, client):
    before = snapshot()
    client.force_login(county_commander)
    assert client.get(reverse("imports:grids")).status_code == 403
    assert client.post(reverse("imports:grids"), {"file": upload()}).status_code == 403
    assert snapshot() == before


def test_upload_page_requires_csrf(tree, debao_admin):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(debao_admin)
    before = snapshot()
    assert client.post(reverse("imports:grids"), {"file": upload()}).status_code == 403
    assert snapshot() == before


def test_api_imports_and_reports(tree, debao_admin, api_client_for):
    client = api_client_for(debao_admin)
    url = reverse("imports-api:grids")
    response = client.post(url, {"file": upload()}, format="multipart")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "dry_run": False,
        "errors": [],
    }
    response = client.post(url, {"file": upload(), "dry_run": "true"}, format="multipart")
    assert response.json()["unchanged"] == 4


def test_api_returns_400_with_every_error(tree, debao_admin, api_client_for):
    before = snapshot()
    data = csv_bytes(
        [*NEW_TOWNSHIP, ["451026100002", "451026100000", "village", "x", "", "", "", ""]]
    )
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[106, 23], [106.1, 23.1], [106.1, 23], [106, 23.1], [106, 23]]],
    }
    geo = SimpleUploadedFile("b.geojson", json.dumps(features(("451024101000", bowtie))).encode())
    response = api_client_for(debao_admin).post(
        reverse("imports-api:grids"), {"file": upload(data), "boundaries": geo}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert {(e["row"], e["column"]) for e in body["errors"]} == {
        (6, "parent_code"),
        (None, "boundaries"),
    }
    assert snapshot() == before


def test_api_without_a_file_is_a_400(tree, debao_admin, api_client_for):
    response = api_client_for(debao_admin).post(
        reverse("imports-api:grids"), {}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["column"] == "file"


def test_api_is_forbidden_to_non_administrators_and_anonymous(
    tree, county_commander, api_client_for
):
    from rest_framework.test import APIClient

    before = snapshot()
    url = reverse("imports-api:grids")
    assert (
        api_client_for(county_commander)
        .post(url, {"file": upload()}, format="multipart")
        .status_code
        == 403
    )
    assert APIClient().post(url, {"file": upload()}, format="multipart").status_code == 401
    assert snapshot() == before


def test_api_schema_describes_the_import(db, client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/imports/grids/"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {"200", "400"} <= set(operation["responses"])
    result = schema["components"]["schemas"]["ImportResult"]
    assert {"created", "updated", "unchanged", "errors"} <= set(result["properties"])
