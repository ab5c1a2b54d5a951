"""Roster export: the user's subtree only, masked unless the user holds
personnel.view_personal_data, a full export audited, a fixed number of queries, and an
export that imports back unchanged."""

import io

import pytest
from django.contrib.auth.models import Permission
from openpyxl import load_workbook

from personnel.exporting import EXPORT_HEADERS
from personnel.importing import roster_import
from personnel.models import AuditEvent, Person
from tests.factories import make_user
from tests.test_personnel_import import csv_bytes, good_rows, id_number, mobile

pytestmark = pytest.mark.django_db
URL = "/api/v1/exports/personnel/"


@pytest.fixture
def roster(tree):
    admin = make_user(roles=["administrator"], jurisdiction=tree.debao, username="debao_admin")
    assert roster_import(file=io.BytesIO(csv_bytes(good_rows())), user=admin).ok
    napo_admin = make_user(roles=["administrator"], jurisdiction=tree.napo, username="napo_admin")
    napo = [
        [
            "那坡人",
            mobile(90),
            id_number(90, "451026"),
            "",
            "",
            "451026100001",
            "志愿者",
            "",
            "",
            "2022-02-01",
        ]
    ]
    assert roster_import(file=io.BytesIO(csv_bytes(napo)), user=napo_admin).ok
    return admin


def rows_of(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    return [[c if c is not None else "" for c in row] for row in sheet.iter_rows(values_only=True)]


def test_export_is_masked_scoped_and_not_audited(roster, county_commander, api_client_for):
    rows = rows_of(api_client_for(county_commander).get(URL))
    assert rows[0] == EXPORT_HEADERS
    assert len(rows) == 1 + 5  # Debao's five assignments; nothing of Napo
    assert "那坡人" not in {r[0] for r in rows}
    huang = next(r for r in rows if r[0] == "黄大山")
    assert huang[1] == "138****0001"
    assert huang[2] == id_number(1)[:4] + "*" * 10 + id_number(1)[-4:]
    assert not any(
        id_number(n) in str(r) or mobile(n) in str(r) for r in rows for n in (1, 2, 3, 4)
    )
    assert huang[3:5] == ["东凌镇政府", "中共党员"]
    assert AuditEvent.objects.count() == 0


def test_full_export_with_the_permission_is_audited(roster, county_commander, api_client_for):
    county_commander.user_permissions.add(Permission.objects.get(codename="view_personal_data"))
    rows = rows_of(api_client_for(county_commander).get(URL))
    huang = next(r for r in rows if r[0] == "黄大山")
    assert (huang[1], huang[2]) == (mobile(1), id_number(1))
    event = AuditEvent.objects.get()
    assert (event.actor, event.action) == (county_commander, "export_personal_data")
    assert event.detail == {
        "what": "roster",
        "rows": 5,
        "people": 4,
        "scope": county_commander.jurisdiction.path,
    }


def test_export_imports_back_unchanged(roster, superuser, api_client_for):
    content = api_client_for(superuser).get(URL).content
    before = list(Person.objects.values_list("pk", "updated_at"))
    result = roster_import(file=io.BytesIO(content), user=superuser)
    assert result.ok, result.errors
    assert result.people.created == result.people.updated == 0
    assert (
        result.assignments.created,
        result.assignments.updated,
        result.assignments.unchanged,
    ) == (0, 0, 6)
    assert list(Person.objects.values_list("pk", "updated_at")) == before
    assert AuditEvent.objects.filter(actor=superuser).count() == 1


def test_people_without_an_assignment_are_exported(roster, superuser, api_client_for, tree):
    Person.objects.create(name="闲人", mobile=mobile(91), registered_grid=tree.v1)
    rows = rows_of(api_client_for(superuser).get(URL))
    assert ["闲人", mobile(91), "", "", "群众"] + [""] * 7 in rows


def test_export_runs_a_fixed_number_of_queries(
    roster, county_commander, api_client_for, django_assert_num_queries
):
    client = api_client_for(county_commander)
    client.get(URL)  # warm the token and group lookups' first use
    # token + user, roles, permissions (user, group), the jurisdiction, assignments, unassigned people
    with django_assert_num_queries(7):
        rows_of(client.get(URL))
    more = [
        [f"工{i}", mobile(200 + i), "", "", "", "451024100002", "志愿者", "", "", "2022-02-01"]
        for i in range(30)
    ]
    assert roster_import(file=io.BytesIO(csv_bytes(more)), user=None).ok
    with django_assert_num_queries(7):
        assert len(rows_of(client.get(URL))) == 1 + 35


def test_who_may_export(roster, tree, api_client_for, client):
    worker = make_user(roles=["grid_worker"], jurisdiction=tree.h11, username="worker")
    assert api_client_for(worker).get(URL).status_code == 403
    client.force_login(worker)
    assert client.get("/imports/personnel/export/").status_code == 403
    client.force_login(roster)
    response = client.get("/imports/personnel/export/")
    assert response.status_code == 200 and len(rows_of(response)) == 6
