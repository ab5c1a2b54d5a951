"""Roster import: every validation rule and error class (a GBK CSV and an XLSX file), the dry
run, the all-or-nothing commit, idempotent re-import, organisations created, scoping, the
async job with its progress, the per-jurisdiction lock, the XLSX error report, the upload
page, the API and the management command."""

import csv
import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import Workbook, load_workbook
from rest_framework.test import APIClient

from personnel import jobs
from personnel.importing import roster_import
from personnel.models import Assignment, ImportJob, Organisation, Person, PoliticalStatus, Role
from personnel.validators import id_check_digit
from tests.factories import make_user

pytestmark = pytest.mark.django_db

ZH = [
    "姓名",
    "手机号",
    "身份证号",
    "单位",
    "政治面貌",
    "网格编码",
    "角色",
    "责任类型",
    "是否下沉",
    "开始日期",
]
EN = [
    "name",
    "mobile",
    "id_number",
    "organization",
    "political_status",
    "grid_code",
    "role",
    "axis",
    "sent_down",
    "start_date",
]


def id_number(seq: int, region: str = "451024") -> str:
    first17 = f"{region}19800101{seq:03d}"
    return first17 + id_check_digit(first17)


def mobile(seq: int) -> str:
    return f"138{seq:08d}"


# A good roster of Debao's township 东凌镇: a township chief who is 包保 leader of a village,
# the village's chief, and workers. Values in every accepted spelling.
def good_rows():
    return [
        [
            "黄大山",
            mobile(1),
            id_number(1),
            "东凌镇政府",
            "中共党员",
            "451024100000",
            "网格长",
            "属地",
            "否",
            "2022-02-01",
        ],
        [
            "黄大山",
            mobile(1),
            id_number(1),
            "东凌镇政府",
            "中共党员",
            "451024100001",
            "包保领导",
            "属地",
            "否",
            "2022/2/1",
        ],
        [
            "农秀英",
            mobile(2),
            id_number(2),
            "那温村委",
            "群众",
            "451024100001",
            "grid_chief",
            "territorial",
            "no",
            "2022年2月1日",
        ],
        [
            " 李明 ",
            mobile(3),
            "",
            "德保县卫健局",
            "预备党员",
            "451024100001",
            "医生",
            "部门",
            "是",
            "2022-02-03",
        ],
        [
            "王芳",
            "",
            id_number(4),
            "",
            "",
            "451024100001001",
            "full_time_worker",
            "个人",
            "1",
            "2022-02-03",
        ],
    ]


def csv_bytes(rows, header=ZH, encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, header=EN) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def run(data: bytes, **kwargs):
    return roster_import(file=io.BytesIO(data), **kwargs)


def snapshot():
    return (
        list(
            Person.objects.order_by("pk").values_list(
                "name",
                "mobile",
                "id_number",
                "political_status",
                "organisation_id",
                "registered_grid_id",
                "updated_at",
            )
        ),
        list(
            Assignment.objects.order_by("pk").values_list(
                "person_id",
                "grid_id",
                "role_id",
                "axis",
                "start_date",
                "end_date",
                "sent_down",
                "updated_at",
            )
        ),
        list(Organisation.objects.order_by("pk").values_list("name", "registered_grid_id")),
    )


def errors_at(result):
    return {(e.row, e.column) for e in result.errors}


@pytest.fixture
def admin(tree):
    return make_user(roles=["administrator"], jurisdiction=tree.debao, username="debao_admin")


# -- a good import -------------------------------------------------------------------------


def test_gbk_csv_imports_people_assignments_and_organisations(tree, admin):
    result = run(csv_bytes(good_rows(), encoding="gbk"), user=admin)
    assert result.ok, result.errors
    assert result.written
    assert result.as_dict()["people"] == {"created": 4, "updated": 0, "unchanged": 0}
    assert result.as_dict()["assignments"] == {"created": 5, "updated": 0, "unchanged": 0}
    assert result.organisations_created == ["东凌镇政府", "德保县卫健局", "那温村委"]
    assert Organisation.objects.filter(registered_grid=tree.debao).count() == 3

    huang = Person.objects.get(id_number=id_number(1))
    assert huang.political_status == PoliticalStatus.PARTY_MEMBER
    assert huang.organisation.name == "东凌镇政府"
    # Registered at the nearest grid above all their assignments (township and village).
    assert huang.registered_grid == tree.dongling
    roles = sorted(huang.assignments.values_list("grid__code", "role__code"))
    assert roles == [("451024100000", "grid_chief"), ("451024100001", "baobao_leader")]

    li = Person.objects.get(mobile=mobile(3))
    assert li.name == "李明" and li.id_number is None
    assert li.political_status == PoliticalStatus.PROBATIONARY
    doctor = li.assignments.get()
    assert (doctor.role.code, doctor.axis, doctor.sent_down, doctor.start_date) == (
        "doctor",
        "department",
        True,
        datetime.date(2022, 2, 3),
    )
    wang = Person.objects.get(id_number=id_number(4))
    assert wang.mobile == "" and wang.organisation is None and wang.registered_grid == tree.h11
    assert wang.assignments.get().axis == "individual"


def test_xlsx_with_english_headers_any_order_blank_lines_and_excel_dates(tree, admin):
    header = list(reversed(EN))
    rows = []
    for row in good_rows():
        values = list(reversed(row))
        rows.append(values)
        rows.append([None] * len(values))  # blank lines
    # A real Excel date cell and a serial day number.
    rows[0][0] = datetime.datetime(2022, 2, 1)
    rows[2][0] = 44593  # 2022-02-01
    result = run(xlsx_bytes(rows, header=[f"  {h} " for h in header]), user=admin)
    assert result.ok, result.errors
    assert result.assignments.created == 5
    assert set(Assignment.objects.values_list("start_date", flat=True)) == {
        datetime.date(2022, 2, 1),
        datetime.date(2022, 2, 3),
    }


# -- every error class --------------------------------------------------------------------

STORED = [
    # Stored before the bad file: 陈强 (id 7) a volunteer on 那温屯 since 2022-01-01.
    [
        "陈强",
        mobile(7),
        id_number(7),
        "",
        "群众",
        "451024100001001",
        "志愿者",
        "属地",
        "否",
        "2022-01-01",
    ],
    [
        "周明",
        mobile(6),
        id_number(6),
        "",
        "群众",
        "451024100001001",
        "民警",
        "属地",
        "否",
        "2022-01-01",
    ],
]


def bad_rows():
    return [
        ["甲", "12345", "", "", "", "451024100001", "志愿者", "", "", "2022-02-01"],  # 2 bad mobile
        [
            "乙",
            "",
            id_number(8)[:-1] + ("0" if id_number(8)[-1] != "0" else "1"),
            "",
            "",
            "451024100001",
            "志愿者",
            "",
            "",
            "2022-02-01",
        ],  # 3 bad check digit
        [
            "丙",
            mobile(10),
            "",
            "",
            "",
            "451024999999",
            "志愿者",
            "",
            "",
            "2022-02-01",
        ],  # 4 unknown grid
        [
            "丁",
            mobile(11),
            "",
            "",
            "",
            "451026100001",
            "志愿者",
            "",
            "",
            "2022-02-01",
        ],  # 5 Napo: outside
        [
            "戊",
            mobile(12),
            "",
            "",
            "",
            "451024100001",
            "厨师",
            "",
            "",
            "2022-02-01",
        ],  # 6 unknown role
        [
            "己",
            mobile(13),
            "",
            "",
            "",
            "451024100002",
            "包保领导",
            "",
            "",
            "2022-02-01",
        ],  # 7 leader, not chief above
        [
            "庚",
            mobile(14),
            "",
            "",
            "",
            "451024100001",
            "网格长",
            "",
            "",
            "2022-02-01",
        ],  # 8 two chiefs
        [
            "辛",
            mobile(15),
            "",
            "",
            "",
            "451024100001",
            "网格长",
            "",
            "",
            "2022-03-01",
        ],  # 9 two chiefs
        ["壬", mobile(16), "", "", "", "451024100001", "民警", "", "", "2022-02-01"],  # 10
        [
            "壬",
            mobile(16),
            "",
            "",
            "",
            "451024100001",
            "民警",
            "",
            "",
            "2022-02-01",
        ],  # 11 duplicate of 10
        [
            "周亮",
            "",
            id_number(6),
            "",
            "",
            "451024100001",
            "志愿者",
            "",
            "",
            "2022-02-01",
        ],  # 12 stored id, other name
        [
            "陈强",
            "",
            id_number(7),
            "",
            "",
            "451024100001001",
            "志愿者",
            "",
            "",
            "2022-03-01",
        ],  # 13 overlaps stored span
        [
            "癸",
            mobile(17),
            "",
            "",
            "党棍",
            "451024100001",
            "志愿者",
            "",
            "",
            "2022-02-01",
        ],  # 14 political status
        [
            "子",
            mobile(18),
            "",
            "",
            "",
            "451024100001",
            "志愿者",
            "东方",
            "",
            "2022-02-01",
        ],  # 15 axis
        [
            "丑",
            mobile(19),
            "",
            "",
            "",
            "451024100001",
            "志愿者",
            "",
            "也许",
            "2022-02-01",
        ],  # 16 sent_down
        ["寅", mobile(20), "", "", "", "451024100001", "志愿者", "", "", "2022-13-01"],  # 17 date
        ["", mobile(21), "", "", "", "451024100001", "志愿者", "", "", "2022-02-01"],  # 18 no name
        ["卯", "", "", "", "", "451024100001", "志愿者", "", "", "2022-02-01"],  # 19 no number
        ["乙乙", "", id_number(9), "", "", "451024100001", "志愿者", "", "", "2022-02-01"],  # 20
        [
            "丙丙",
            "",
            id_number(9),
            "",
            "",
            "451024100002",
            "志愿者",
            "",
            "",
            "2022-02-01",
        ],  # 21 same id, other name
        [
            "辰",
            mobile(22),
            "",
            "",
            "",
            "451024100001",
            "",
            "",
            "",
            "2022-02-01",
        ],  # 22 grid without role
        ["巳", mobile(23), "", "", "", "451024100001", "志愿者", "", "", ""],  # 23 no start date
    ]


EXPECTED_ERRORS = {
    (2, "手机号"),
    (3, "身份证号"),
    (4, "网格编码"),
    (5, "网格编码"),
    (6, "角色"),
    (7, "角色"),
    (8, "角色"),
    (9, "角色"),
    (11, "网格编码"),
    (12, "身份证号"),
    (13, "开始日期"),
    (14, "政治面貌"),
    (15, "责任类型"),
    (16, "是否下沉"),
    (17, "开始日期"),
    (18, "姓名"),
    (19, "身份证号"),
    (21, "姓名"),
    (22, "角色"),
    (23, "开始日期"),
}


def test_every_error_class_in_a_gbk_file_is_reported_and_nothing_is_written(tree, admin):
    assert run(csv_bytes(STORED), user=admin).ok
    before = snapshot()
    result = run(csv_bytes(bad_rows(), encoding="gbk"), user=admin)
    assert errors_at(result) == EXPECTED_ERRORS, [str(e) for e in result.errors]
    assert not result.written
    assert snapshot() == before
    messages = {(e.row, e.column): e.message for e in result.errors}
    # Bilingual, and the grid outside the jurisdiction reads like an unknown one.
    assert " / " in messages[(2, "手机号")]
    assert messages[(4, "网格编码")].replace("451024999999", "X") == messages[
        (5, "网格编码")
    ].replace("451026100001", "X")
    assert "There is no grid 451026100001 in your jurisdiction" in messages[(5, "网格编码")]
    assert "grid chief" in messages[(8, "角色")]
    assert "包保" in messages[(7, "角色")]
    assert "row 10" in messages[(11, "网格编码")] or "10" in messages[(11, "网格编码")]
    assert "overlapping" in messages[(13, "开始日期")]
    assert "different name" in messages[(12, "身份证号")]
    # Personal numbers are never echoed in messages.
    assert not any(id_number(6) in e.message or "12345" in e.message for e in result.errors)
    # Rows 10 and 20 are good themselves: a later row duplicates or contradicts them.
    assert (result.rows, result.rejected) == (22, 20)
    assert result.people.created == 2 and result.assignments.created == 2


def test_errors_in_an_xlsx_file_name_the_english_columns(tree, admin):
    assert run(csv_bytes(STORED), user=admin).ok
    before = snapshot()
    rows = [bad_rows()[i] for i in (0, 3, 5, 6, 7, 11)]
    result = run(xlsx_bytes(rows), user=admin)
    assert errors_at(result) == {
        (2, "mobile"),
        (3, "grid_code"),
        (4, "role"),
        (5, "role"),
        (6, "role"),
        (7, "start_date"),
    }
    assert snapshot() == before


def test_header_errors_and_unreadable_files(tree, admin):
    result = run(
        csv_bytes([["x"]], header=["姓名", "网格编码", "角色", "开始日期", "身高"]), user=admin
    )
    assert [(e.row, e.column) for e in result.errors] == [(1, "身高")]
    result = run(csv_bytes([["x"]], header=["姓名", "角色"]), user=admin)
    assert {e.column for e in result.errors} == {"grid_code", "start_date"}
    result = run(b"\x00\x01\x02garbage", user=admin)
    assert result.errors and result.errors[0].column == "file"
    assert Person.objects.count() == 0


def test_a_stray_cell_rejects_its_row(tree, admin):
    data = (
        csv_bytes(good_rows()[:1]).decode()
        + "x,13800000009,,,,451024100001,志愿者,,,2022-02-01,,surprise\n"
    )
    result = run(data.encode(), user=admin)
    assert errors_at(result) == {(3, "L")}
    assert Person.objects.count() == 0


# -- dry run, atomic commit, re-import -------------------------------------------------------


def test_dry_run_reports_the_changes_and_writes_nothing(tree, admin):
    before = snapshot()
    result = run(csv_bytes(good_rows()), user=admin, dry_run=True)
    assert result.ok and not result.written
    assert result.as_dict()["people"] == {"created": 4, "updated": 0, "unchanged": 0}
    assert result.as_dict()["assignments"]["created"] == 5
    assert result.organisations_created == ["东凌镇政府", "德保县卫健局", "那温村委"]
    assert snapshot() == before


def test_dry_run_of_a_file_with_errors_counts_the_good_rows_and_the_rejected(tree, admin):
    rows = good_rows() + [bad_rows()[0]]
    result = run(csv_bytes(rows), user=admin, dry_run=True)
    assert result.rejected == 1 and result.rows == 6
    assert result.assignments.created == 5
    assert Person.objects.count() == 0


def test_an_error_in_the_last_row_writes_nothing(tree, admin):
    rows = good_rows() + [
        ["末行", mobile(99), "", "新单位", "", "451024100001", "志愿者", "", "", "2022-02-30"]
    ]
    result = run(csv_bytes(rows), user=admin)
    assert errors_at(result) == {(7, "开始日期")}
    assert (Person.objects.count(), Assignment.objects.count(), Organisation.objects.count()) == (
        0,
        0,
        0,
    )


def test_a_database_failure_midway_rolls_everything_back(tree, admin, monkeypatch):
    from personnel.importing import roster

    insert_rows = roster.insert_rows

    def explode(model, columns, rows):
        if model is Assignment:  # after the organisations and people went in
            raise RuntimeError("disk full")
        return insert_rows(model, columns, rows)

    monkeypatch.setattr(roster, "insert_rows", explode)
    with pytest.raises(RuntimeError):
        run(csv_bytes(good_rows()), user=admin)
    assert (Person.objects.count(), Organisation.objects.count()) == (0, 0)


def test_reimporting_the_same_file_changes_nothing(tree, admin):
    data = csv_bytes(good_rows(), encoding="gbk")
    assert run(data, user=admin).ok
    before = snapshot()
    again = run(data, user=admin)
    assert again.ok
    assert again.as_dict()["people"] == {"created": 0, "updated": 0, "unchanged": 4}
    assert again.as_dict()["assignments"] == {"created": 0, "updated": 0, "unchanged": 5}
    assert again.organisations_created == []
    assert snapshot() == before  # not even updated_at


def test_reimport_updates_details_and_ends_assignments(tree, admin):
    assert run(csv_bytes(good_rows()), user=admin).ok
    header = ZH + ["结束日期"]
    rows = [r + [""] for r in good_rows()]
    rows[2][1] = mobile(50)  # 农秀英's new mobile
    rows[2][4] = "中共党员"
    rows[2][10] = "2022-06-30"  # and her grid-chief assignment ends
    # 李明 has no identity number: matched by mobile.
    rows[3][3] = "那温村委"
    result = run(csv_bytes(rows, header=header), user=admin)
    assert result.ok, result.errors
    assert result.as_dict()["people"] == {"created": 0, "updated": 2, "unchanged": 2}
    assert result.as_dict()["assignments"] == {"created": 0, "updated": 1, "unchanged": 4}
    nong = Person.objects.get(id_number=id_number(2))
    assert (nong.mobile, nong.political_status) == (mobile(50), PoliticalStatus.PARTY_MEMBER)
    assert nong.assignments.get().end_date == datetime.date(2022, 6, 30)
    assert Person.objects.get(mobile=mobile(3)).organisation.name == "那温村委"
    # The chief's post is free after her end date: a new chief from July is accepted.
    follow = [["韦新", mobile(60), "", "", "", "451024100001", "网格长", "", "", "2022-07-01"]]
    assert run(csv_bytes(follow), user=admin).ok
    clash = [["韦旧", mobile(61), "", "", "", "451024100001", "网格长", "", "", "2022-06-01"]]
    assert errors_at(run(csv_bytes(clash), user=admin)) == {(2, "角色")}


def test_a_leader_qualified_by_a_stored_chief_assignment(tree, admin):
    """The 包保 rule sees stored facts: a township chief imported earlier may be made 包保
    leader of a village in a later file."""
    assert run(csv_bytes(good_rows()[:1]), user=admin).ok
    later = [["黄大山", "", id_number(1), "", "", "451024100002", "包保领导", "", "", "2022-03-01"]]
    result = run(csv_bytes(later), user=admin)
    assert result.ok, result.errors
    assert result.people.unchanged == 1


def test_rows_of_one_person_must_agree(tree, admin):
    rows = good_rows()[:2]
    rows[1][1] = mobile(77)
    result = run(csv_bytes(rows), user=admin)
    assert errors_at(result) == {(3, "手机号")}


def test_several_stored_people_with_one_mobile_need_the_identity_number(tree, admin):
    shared = mobile(5)
    first = [
        ["甲一", shared, id_number(31), "", "", "451024100001", "志愿者", "", "", "2022-02-01"],
        ["甲二", shared, id_number(32), "", "", "451024100001", "民警", "", "", "2022-02-01"],
    ]
    assert run(csv_bytes(first), user=admin).ok
    result = run(
        csv_bytes([["甲一", shared, "", "", "", "451024100002", "志愿者", "", "", "2022-02-01"]]),
        user=admin,
    )
    assert errors_at(result) == {(2, "手机号")}


# -- scoping -----------------------------------------------------------------------------


def test_a_person_registered_elsewhere_is_assigned_but_not_edited(tree, admin):
    napo_admin = make_user(roles=["administrator"], jurisdiction=tree.napo, username="napo_admin")
    cadre = [
        [
            "陆干部",
            mobile(40),
            id_number(40),
            "那坡县委",
            "中共党员",
            "451026100001",
            "志愿者",
            "",
            "",
            "2022-02-01",
        ]
    ]
    assert run(csv_bytes(cadre), user=napo_admin).ok
    person = Person.objects.get(id_number=id_number(40))
    sent = [
        [
            "陆干部",
            mobile(41),
            id_number(40),
            "德保某局",
            "群众",
            "451024100001",
            "志愿者",
            "",
            "是",
            "2022-03-01",
        ]
    ]
    result = run(csv_bytes(sent), user=admin)
    assert result.ok, result.errors
    assert result.people.unchanged == 1 and result.assignments.created == 1
    person.refresh_from_db()
    assert (person.mobile, person.political_status, person.organisation.name) == (
        mobile(40),
        "party_member",
        "那坡县委",
    )
    assert person.assignments.count() == 2


def test_organisations_of_other_jurisdictions_are_not_reused(tree, admin):
    napo_admin = make_user(roles=["administrator"], jurisdiction=tree.napo, username="napo_admin")
    rows = [["农民", mobile(42), "", "卫健局", "", "451026100001", "志愿者", "", "", "2022-02-01"]]
    assert run(csv_bytes(rows), user=napo_admin).ok
    rows = [["农夫", mobile(43), "", "卫健局", "", "451024100001", "志愿者", "", "", "2022-02-01"]]
    result = run(csv_bytes(rows), user=admin)
    assert result.organisations_created == ["卫健局"]
    assert Organisation.objects.filter(name="卫健局").count() == 2


# -- jobs: API, pages, command, async, lock, report -------------------------------------------


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(data: bytes, name="roster.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


API = "/api/v1/imports/personnel/"


def test_api_dry_run_then_commit(tree, admin, api_client_for):
    client = api_client_for(admin)
    response = client.post(
        API,
        {"file": upload(csv_bytes(good_rows(), encoding="gbk")), "dry_run": "true"},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "succeeded" and body["progress"] == 100 and body["dry_run"]
    assert body["result"]["people"]["created"] == 4 and body["result"]["written"] is False
    assert body["report_url"] is None
    assert Person.objects.count() == 0
    response = client.post(
        API, {"file": upload(csv_bytes(good_rows(), encoding="gbk"))}, format="multipart"
    )
    assert response.status_code == 200
    assert response.json()["result"]["written"] is True
    assert Person.objects.count() == 4
    status = client.get(response.json()["url"])
    assert status.status_code == 200 and status.json()["status"] == "succeeded"


def test_api_errors_give_400_and_a_report_with_the_rows_and_an_error_column(
    tree, admin, api_client_for
):
    client = api_client_for(admin)
    rows = good_rows() + [bad_rows()[0], bad_rows()[3]]
    response = client.post(
        API, {"file": upload(xlsx_bytes(rows), "roster.xlsx")}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "failed"
    assert {(e["row"], e["column"]) for e in body["errors"]} == {(7, "mobile"), (8, "grid_code")}
    report = client.get(body["report_url"])
    assert report.status_code == 200
    assert report["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(report.content)).worksheets[0]
    values = [
        [c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)
    ]
    assert values[0] == ["错误 / Errors"] + EN
    assert len(values) == 1 + len(rows)
    assert [row[1:] for row in values[1:]] == [
        [str(c).strip() if c else "" for c in row] for row in rows
    ]
    assert values[1][0] == "" and values[5][0] == ""
    assert values[6][0].startswith("mobile: ") and "Not a mainland mobile number" in values[6][0]
    assert values[7][0].startswith("grid_code: ")
    assert Person.objects.count() == 0


def test_the_report_fixed_and_uploaded_again_imports(tree, admin, api_client_for):
    client = api_client_for(admin)
    rows = good_rows() + [bad_rows()[0]]
    body = client.post(API, {"file": upload(csv_bytes(rows))}, format="multipart").json()
    workbook = load_workbook(io.BytesIO(client.get(body["report_url"]).content))
    sheet = workbook.worksheets[0]
    sheet.cell(row=7, column=3).value = mobile(88)  # the bad mobile, column B of the file
    out = io.BytesIO()
    workbook.save(out)
    response = client.post(API, {"file": upload(out.getvalue(), "fixed.xlsx")}, format="multipart")
    assert response.status_code == 200, response.json()["errors"]
    assert Person.objects.filter(mobile=mobile(88), name="甲").exists()
    # A report of a report replaces its error column rather than adding another.
    rows = [[""] + good_rows()[0], ["old error", *bad_rows()[0]]]
    body = client.post(
        API, {"file": upload(csv_bytes(rows, header=["错误 / Errors"] + ZH))}, format="multipart"
    ).json()
    header = next(
        load_workbook(io.BytesIO(client.get(body["report_url"]).content))
        .worksheets[0]
        .iter_rows(values_only=True)
    )
    assert list(header) == ["错误 / Errors"] + ZH


def test_a_large_file_runs_as_a_task_with_progress(
    tree, admin, api_client_for, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.ROSTER_IMPORT_ASYNC_ROWS = 10
    client = api_client_for(admin)
    rows = [
        [f"工{i}", mobile(1000 + i), "", "", "", "451024100001001", "志愿者", "", "", "2022-02-01"]
        for i in range(1500)
    ]
    seen = []
    original = jobs.report_progress

    def spy(job_id, percent):
        original(job_id, percent)
        # What a browser polling the job API sees while the task works.
        seen.append(client.get(f"/api/v1/imports/jobs/{job_id}/").json())

    monkeypatch.setattr(jobs, "report_progress", spy)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(API, {"file": upload(csv_bytes(rows))}, format="multipart")
        assert response.status_code == 202
        queued = response.json()
        assert queued["status"] == "queued" and queued["progress"] == 0
        assert response["Location"] == queued["url"]
        assert Person.objects.count() == 0  # not before the request's transaction commits
    assert len(callbacks) == 1
    running = [s for s in seen if s["status"] == "running"]
    progress = [s["progress"] for s in running]
    assert len(progress) >= 4 and progress == sorted(progress) and 0 < max(progress) <= 100
    assert any(0 < p < 100 for p in progress)
    done = client.get(queued["url"]).json()
    assert (done["status"], done["progress"]) == ("succeeded", 100)
    assert done["result"]["people"]["created"] == 1500
    assert Person.objects.count() == 1500


def test_the_task_is_idempotent(tree, admin):
    from personnel.tasks import run_personnel_import

    job = jobs.import_job_create(
        user=admin, file=io.BytesIO(csv_bytes(good_rows())), filename="r.csv"
    )
    run_personnel_import.delay(job.pk)
    before = snapshot()
    job.refresh_from_db()
    finished = job.finished_at
    run_personnel_import.delay(job.pk)  # a duplicate delivery
    job.refresh_from_db()
    assert snapshot() == before and job.finished_at == finished and job.status == "succeeded"


def test_one_import_at_a_time_per_jurisdiction(tree, admin, api_client_for):
    running = jobs.import_job_create(
        user=admin, file=io.BytesIO(csv_bytes(good_rows())), filename="a.csv"
    )
    other_admin = make_user(
        roles=["administrator"], jurisdiction=tree.debao, username="debao_admin2"
    )
    before = snapshot()
    response = api_client_for(other_admin).post(
        API, {"file": upload(csv_bytes(good_rows()))}, format="multipart"
    )
    assert response.status_code == 409
    assert (
        response.json()["job"] == running.pk
        and "Another roster import" in response.json()["detail"]
    )
    assert snapshot() == before
    assert ImportJob.objects.count() == 1
    # Another jurisdiction is not blocked.
    napo_admin = make_user(roles=["administrator"], jurisdiction=tree.napo, username="napo_admin")
    napo = [["农民", mobile(42), "", "", "", "451026100001", "志愿者", "", "", "2022-02-01"]]
    assert (
        api_client_for(napo_admin)
        .post(API, {"file": upload(csv_bytes(napo))}, format="multipart")
        .status_code
        == 200
    )
    # When the job finishes, the lock is free.
    jobs.import_job_run(job_id=running.pk)
    assert (
        api_client_for(other_admin)
        .post(API, {"file": upload(csv_bytes(good_rows()))}, format="multipart")
        .status_code
        == 200
    )


def test_the_page_refuses_a_second_import_with_a_message(tree, admin, client):
    jobs.import_job_create(user=admin, file=io.BytesIO(csv_bytes(good_rows())), filename="a.csv")
    client.force_login(admin)
    response = client.post(
        reverse("personnel-imports:upload"), {"file": upload(csv_bytes(good_rows()))}
    )
    assert response.status_code == 409
    assert "Another roster import is running" in response.content.decode()
    assert Person.objects.count() == 0


def test_a_stale_job_stops_blocking(tree, admin, api_client_for):
    from django.utils import timezone

    stale = jobs.import_job_create(
        user=admin, file=io.BytesIO(csv_bytes(good_rows())), filename="a.csv"
    )
    ImportJob.objects.filter(pk=stale.pk).update(
        status="running", created_at=timezone.now() - jobs.STALE_AFTER * 2
    )
    response = api_client_for(admin).post(
        API, {"file": upload(csv_bytes(good_rows()))}, format="multipart"
    )
    assert response.status_code == 200
    stale.refresh_from_db()
    assert stale.status == "failed" and stale.errors


def test_a_crash_fails_the_job_and_frees_the_lock(tree, admin, monkeypatch):
    from personnel.importing import roster

    monkeypatch.setattr(roster, "insert_rows", lambda *a, **k: 1 / 0)
    job = jobs.import_job_submit(
        user=admin, file=io.BytesIO(csv_bytes(good_rows())), filename="a.csv"
    )
    assert job.status == "failed" and "unexpectedly" in job.errors[0]["message"]
    assert Person.objects.count() == 0
    monkeypatch.undo()
    assert (
        jobs.import_job_submit(
            user=admin, file=io.BytesIO(csv_bytes(good_rows())), filename="a.csv"
        ).status
        == "succeeded"
    )


# -- who may import, and where ------------------------------------------------------------------


def test_only_administrators_may_import(tree, admin, api_client_for, client, county_commander):
    before = snapshot()
    response = api_client_for(county_commander).post(
        API, {"file": upload(csv_bytes(good_rows()))}, format="multipart"
    )
    assert response.status_code == 403
    client.force_login(county_commander)
    assert client.get(reverse("personnel-imports:upload")).status_code == 403
    assert (
        client.post(
            reverse("personnel-imports:upload"), {"file": upload(csv_bytes(good_rows()))}
        ).status_code
        == 403
    )
    assert snapshot() == before and ImportJob.objects.count() == 0
    client.logout()
    assert client.get(reverse("personnel-imports:upload")).status_code == 302  # to the login page
    assert APIClient().post(API, {}, format="multipart").status_code in (401, 403)


def test_jobs_of_another_jurisdiction_are_404(tree, admin, api_client_for, client):
    job = jobs.import_job_submit(
        user=admin, file=io.BytesIO(csv_bytes(good_rows()[:1] + [bad_rows()[0]])), filename="a.csv"
    )
    napo_admin = make_user(roles=["administrator"], jurisdiction=tree.napo, username="napo_admin")
    napo = api_client_for(napo_admin)
    assert napo.get(f"/api/v1/imports/jobs/{job.pk}/").status_code == 404
    assert napo.get(f"/api/v1/imports/jobs/{job.pk}/report/").status_code == 404
    client.force_login(napo_admin)
    assert client.get(reverse("personnel-imports:job", args=[job.pk])).status_code == 404
    assert client.get(reverse("personnel-imports:job-report", args=[job.pk])).status_code == 404
    assert client.post(reverse("personnel-imports:job-commit", args=[job.pk])).status_code == 404
    # A superuser's own (full-access) jobs are theirs alone.
    assert api_client_for(admin).get(f"/api/v1/imports/jobs/{job.pk}/").status_code == 200


def test_a_grid_outside_the_jurisdiction_changes_nothing(tree, admin, api_client_for):
    napo = [["农民", mobile(42), "", "新单位", "", "451026100001", "志愿者", "", "", "2022-02-01"]]
    before = snapshot()
    response = api_client_for(admin).post(
        API, {"file": upload(csv_bytes(napo))}, format="multipart"
    )
    assert response.status_code == 400
    assert snapshot() == before


# -- the upload page --------------------------------------------------------------------------


def test_page_dry_run_preview_then_commit(tree, admin, client):
    client.force_login(admin)
    page = client.get(reverse("personnel-imports:upload"))
    assert page.status_code == 200 and 'name="dry_run"' in page.content.decode()
    response = client.post(
        reverse("personnel-imports:upload"),
        {"file": upload(csv_bytes(good_rows())), "dry_run": "on"},
    )
    assert response.status_code == 302
    preview = client.get(response["Location"])
    html = preview.content.decode()
    assert "东凌镇政府" in html and 'class="commit"' in html
    assert Person.objects.count() == 0
    job = ImportJob.objects.get()
    committed = client.post(reverse("personnel-imports:job-commit", args=[job.pk]))
    assert committed.status_code == 302
    assert Person.objects.count() == 4 and Assignment.objects.count() == 5
    new_job = ImportJob.objects.exclude(pk=job.pk).get()
    assert not new_job.dry_run and new_job.status == "succeeded"


def test_page_shows_progress_bar_for_a_running_job(tree, admin, client):
    job = jobs.import_job_create(
        user=admin, file=io.BytesIO(csv_bytes(good_rows())), filename="a.csv"
    )
    jobs.report_progress(job.pk, 42)
    client.force_login(admin)
    html = client.get(reverse("personnel-imports:job", args=[job.pk])).content.decode()
    assert '<progress id="job-progress" max="100" value="42">' in html
    assert f"/api/v1/imports/jobs/{job.pk}/" in html


# -- the management command -----------------------------------------------------------------


def test_command_imports_and_dry_runs(tree, admin, tmp_path, capsys):
    path = tmp_path / "roster.csv"
    path.write_bytes(csv_bytes(good_rows(), encoding="gbk"))
    call_command("import_personnel", str(path), "--dry-run", "--user", "debao_admin")
    assert Person.objects.count() == 0
    assert "Dry run" in capsys.readouterr().out
    call_command("import_personnel", str(path))
    assert Person.objects.count() == 4
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([bad_rows()[3]]))
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("import_personnel", str(bad), "--user", "debao_admin")
    assert "row 2, column 网格编码" in capsys.readouterr().err
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_personnel", str(tmp_path / "missing.csv"))


def test_a_superuser_imports_anywhere(tree, superuser):
    rows = good_rows() + [
        ["农民", mobile(42), "", "", "", "451026100001", "志愿者", "", "", "2022-02-01"]
    ]
    result = run(csv_bytes(rows), user=superuser)
    assert result.ok, result.errors
    assert Organisation.objects.filter(registered_grid=tree.baise).count() == 3


def test_roles_added_by_an_administrator_are_accepted(tree, admin):
    Role.objects.create(code="sanitation", name_zh="保洁员", name_en="sanitation worker")
    rows = [["清洁", mobile(44), "", "", "", "451024100001", "保洁员", "", "", "2022-02-01"]]
    assert run(csv_bytes(rows), user=admin).ok
