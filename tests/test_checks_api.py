"""The checks API over HTTP: one check (201 / 200 / 400), batches, the list with its
filters and scoping, corrections, voids and zero reports; forbidden writes change nothing;
query counts pinned."""

import datetime
import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from screening import services
from screening.metrics import METRIC_NAMES
from screening.models import Check, CheckRevision, ZeroReport
from screening.selectors import local_today
from tests.factories import make_household, make_user
from tests.test_checks_services import COUNTS, make_worker, state

CHECKS = "/api/v1/checks/"
BATCH = "/api/v1/checks/batch/"


def body(household="HH-A", **extra):
    return {"uuid": str(uuid.uuid4()), "household": household, **COUNTS, **extra}


@pytest.fixture
def homes(tree):
    return {
        "a": make_household(tree.h11, code="HH-A", size=4),
        "b": make_household(tree.h11, code="HH-B"),
        "d": make_household(tree.h12, code="HH-D"),
        "n": make_household(tree.nh1, code="HH-N"),
    }


@pytest.fixture
def worker(tree):
    return make_worker(tree.h11, username="worker_h11", jurisdiction=tree.v1)


@pytest.fixture
def client(worker, api_client_for):
    return api_client_for(worker)


# --- One check -------------------------------------------------------------------------------


def test_post_creates_then_returns_the_stored_check(client, homes, worker):
    data = body(note="门口测温", method="phone")
    response = client.post(CHECKS, data, format="json")
    assert response.status_code == 201, response.content
    stored = response.json()
    assert stored["uuid"] == data["uuid"]
    assert stored["household"] == "HH-A" and stored["grid"] == "451024100001001"
    assert stored["worker"] == "worker_h11" and stored["method"] == "phone"
    assert stored["checked_on"] == local_today().isoformat()
    assert {name: stored[name] for name in METRIC_NAMES} == COUNTS
    assert stored["voided_at"] is None

    # The same uuid again, with another payload: 200 and the stored check, unchanged.
    before = state()
    again = client.post(CHECKS, {**data, "household": "HH-B", "fever": 1}, format="json")
    assert again.status_code == 200
    assert again.json() == stored
    assert state() == before
    assert Check.objects.get().household.code == "HH-A"


def test_post_field_errors_are_bilingual_400s(client, homes):
    before = state()
    cases = [
        ({"household": "HH-A"}, {"uuid"}),
        ({"uuid": "not-a-uuid", "household": "HH-A"}, {"uuid"}),
        ({"uuid": str(uuid.uuid4())}, {"household"}),
        (body(persons_present=-1), {"persons_present"}),
        (body(fever="3"), {"fever"}),
        (body(persons_present=101), {"persons_present"}),
        (body(returnees_risk_area=3), {"returnees_risk_area"}),
        (body(method="pigeon"), {"method"}),
        (body(checked_at="yesterday"), {"checked_at"}),
        (
            body(checked_at=(timezone.now() + datetime.timedelta(hours=2)).isoformat()),
            {"checked_at"},
        ),
        (body(fevers=1), {"fevers"}),
        (body("NO-SUCH-HOUSE"), {"household"}),
        (body("HH-D"), {"household"}),  # visible, not assigned
        (body("HH-N"), {"household"}),  # outside the jurisdiction: as if unknown
    ]
    for data, fields in cases:
        response = client.post(CHECKS, data, format="json")
        assert response.status_code == 400, (data, response.content)
        assert set(response.json()) == fields, (data, response.json())
    assert client.post(CHECKS, [1, 2], format="json").status_code == 400
    assert state() == before
    # Messages are bilingual: "中文 / English" once the catalogue has the Chinese.
    message = client.post(CHECKS, body("HH-D"), format="json").json()["household"][0]
    assert "assigned" in message


def test_not_assigned_users_write_nothing(homes, api_client_for, county_commander, tree):
    before = state()
    commander = api_client_for(county_commander)
    assert commander.post(CHECKS, body(), format="json").status_code == 400
    assert (
        commander.post(BATCH, {"checks": [body()]}, format="json").json()["results"][0]["status"]
        == "error"
    )
    assert APIClient().post(CHECKS, body(), format="json").status_code == 401
    assert state() == before


def test_one_check_query_count(client, homes, django_assert_num_queries):
    # token+user, savepoint, households (locked for the ledger), writable grids, the
    # households' counted checks, release; on PostgreSQL one statement inserts the check and
    # its queued change, and the insert finds a known uuid itself; on SQLite the known uuids
    # are looked up first, and the two inserts are separate. No revision: the row is its own
    # creation record. The answer is built from what was written, not read back.
    with django_assert_num_queries(7 if connection.vendor == "postgresql" else 9):
        assert client.post(CHECKS, body(), format="json").status_code == 201


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's in-memory test database cannot hold two writers; the embedded SQLite "
    "file serialises them (BEGIN IMMEDIATE), so this race cannot happen there",
)
def test_same_uuid_posted_concurrently_is_stored_once(transactional_db, monkeypatch):
    """Two requests with one uuid, both past their permission query before either inserts:
    the loser's insert finds the uuid stored (its first attempt looks none up) and it
    starts again, answering with the stored check."""
    from tests.factories import Tree

    tree = Tree()
    make_household(tree.h11, code="HH-A", size=4)
    worker = make_worker(tree.h11, username="racer")
    barrier = threading.Barrier(2, timeout=3)
    real = services.worker_grids

    def worker_grids_after_both_looked(user, on=None):
        try:
            barrier.wait()  # on SQLite the second request waits for the first's lock instead
        except threading.BrokenBarrierError:
            pass
        return real(user, on=on)

    monkeypatch.setattr(services, "worker_grids", worker_grids_after_both_looked)
    attempts = []
    real_submit = services._submit_batch

    def counting_submit(user, items, **options):
        attempts.append(user)
        return real_submit(user, items, **options)

    monkeypatch.setattr(services, "_submit_batch", counting_submit)
    data = body()
    answers = []

    def post():
        client = APIClient()
        client.force_authenticate(worker)
        try:
            answers.append(client.post(CHECKS, data, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 201]
    assert len(attempts) == 3  # the race was real: the loser's insert skipped it and it retried
    assert Check.objects.filter(uuid=data["uuid"]).count() == 1
    assert not CheckRevision.objects.exists()


# --- Batches ---------------------------------------------------------------------------------


def test_batch_one_bad_item_does_not_sink_the_others(client, homes):
    known = body("HH-B")
    assert client.post(CHECKS, known, format="json").status_code == 201
    items = [
        body(),
        known,
        body(fever=9),
        "not an object",
        {"household": "HH-A"},
        body("HH-D"),
    ]
    response = client.post(BATCH, {"checks": items}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert [r["status"] for r in results] == [
        "created",
        "exists",
        "error",
        "error",
        "error",
        "error",
    ]
    assert results[0]["uuid"] == items[0]["uuid"] and isinstance(results[0]["id"], int)
    assert results[1]["id"] == Check.objects.get(uuid=known["uuid"]).pk
    assert set(results[2]["errors"]) == {"fever"}
    assert results[3]["uuid"] is None and set(results[3]["errors"]) == {"non_field_errors"}
    assert set(results[4]["errors"]) == {"uuid"}
    assert set(results[5]["errors"]) == {"household"}
    assert Check.objects.count() == 2


def test_batch_limits(client, homes):
    before = state()
    for payload in ({}, {"checks": []}, {"checks": "x"}, {"checks": [body()] * 1001}):
        assert client.post(BATCH, payload, format="json").status_code == 400
    assert state() == before


def _batch_queries(client, n, homes_codes, captured):
    from django.test.utils import CaptureQueriesContext

    items = [body(homes_codes[i % len(homes_codes)]) for i in range(n)]
    with CaptureQueriesContext(connection) as queries:
        response = client.post(BATCH, {"checks": items}, format="json")
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"created"}
    captured[n] = len(queries)


def test_batch_of_1000_runs_a_bounded_number_of_queries(client, tree):
    codes = [make_household(tree.h11, code=f"HH-{i:03d}").code for i in range(50)]
    captured = {}
    _batch_queries(client, 10, codes, captured)
    _batch_queries(client, 1000, codes, captured)
    assert Check.objects.count() == 1010
    assert not CheckRevision.objects.exists()
    # token+user, savepoint, households, writable grids, the households' counted checks,
    # release; on PostgreSQL one statement for the checks and their queued changes;
    # elsewhere the known uuids first, then two inserts.
    if connection.vendor == "postgresql":
        assert captured == {10: 7, 1000: 7}
    else:
        fixed = 9

        # SQLite binds at most 999 parameters a statement, so Django splits the bulk insert
        # of the checks into chunks; the rest stays constant.
        def chunks(model, n):
            fields = [f for f in model._meta.concrete_fields if not f.primary_key]
            size = connection.ops.bulk_batch_size(fields, [None] * n)
            return -(-n // size)

        extra = chunks(Check, 1000) - 1
        assert captured == {10: fixed, 1000: fixed + extra}


# --- Reading ---------------------------------------------------------------------------------


@pytest.fixture
def history(client, homes, tree, worker):
    """Checks on three days in 那温屯, and one in 百都屯 by a Napo worker."""
    today = local_today()
    now = timezone.now()
    for days, code in ((0, "HH-A"), (0, "HH-B"), (1, "HH-A"), (3, "HH-B")):
        moment = now - datetime.timedelta(days=days)
        data = body(code, checked_at=moment.isoformat())
        assert client.post(CHECKS, data, format="json").status_code == 201
    napo_worker = make_worker(tree.nh1, username="napo_worker")
    from rest_framework.authtoken.models import Token

    napo = APIClient()
    napo.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=napo_worker).key}")
    assert napo.post(CHECKS, body("HH-N"), format="json").status_code == 201
    return today


def codes_days(response):
    assert response.status_code == 200, response.content
    return sorted((r["household"], r["checked_on"]) for r in response.json()["results"])


def test_list_filters_and_scoping(history, api_client_for, county_commander, superuser, tree):
    today = history
    d = [(today - datetime.timedelta(days=n)).isoformat() for n in range(4)]
    debao = api_client_for(county_commander)
    assert debao.get(CHECKS).json()["count"] == 4  # Napo's check is outside Debao
    assert api_client_for(superuser).get(CHECKS).json()["count"] == 5
    assert codes_days(debao.get(CHECKS, {"date": d[0]})) == [("HH-A", d[0]), ("HH-B", d[0])]
    assert codes_days(debao.get(CHECKS, {"from": d[1], "to": d[0]})) == [
        ("HH-A", d[1]),
        ("HH-A", d[0]),
        ("HH-B", d[0]),
    ]
    assert codes_days(debao.get(CHECKS, {"to": d[2]})) == [("HH-B", d[3])]
    assert debao.get(CHECKS, {"grid": tree.h12.code}).json()["count"] == 0
    assert debao.get(CHECKS, {"grid": tree.v1.code}).json()["count"] == 4
    # A grid outside the jurisdiction is not found; bad filters are 400s.
    assert debao.get(CHECKS, {"grid": tree.napo.code}).status_code == 404
    assert debao.get(CHECKS, {"date": "2022-13-01"}).status_code == 400
    assert debao.get(CHECKS, {"from": d[0], "to": d[1]}).status_code == 400


def test_the_list_covers_the_last_14_days_unless_dates_are_given(
    history, api_client_for, county_commander
):
    today = history
    old = Check.objects.get(household__code="HH-B", checked_on=today - datetime.timedelta(3))
    Check.objects.filter(pk=old.pk).update(checked_on=today - datetime.timedelta(days=14))
    debao = api_client_for(county_commander)
    assert debao.get(CHECKS).json()["count"] == 3  # 14 days ago is one day too old
    day = (today - datetime.timedelta(days=14)).isoformat()
    assert codes_days(debao.get(CHECKS, {"date": day})) == [("HH-B", day)]
    assert debao.get(CHECKS, {"from": day}).json()["count"] == 4
    assert codes_days(debao.get(CHECKS, {"to": day})) == [("HH-B", day)]


def test_a_span_longer_than_366_days_is_refused(history, api_client_for, county_commander):
    today = history
    debao = api_client_for(county_commander)
    response = debao.get(CHECKS, {"from": (today - datetime.timedelta(days=366)).isoformat()})
    assert response.status_code == 400
    assert "366" in response.json()["from"][0]
    first = today - datetime.timedelta(days=365)
    assert debao.get(CHECKS, {"from": first.isoformat()}).status_code == 200


def test_a_worker_reads_their_own_checks(history, api_client_for, tree):
    # A worker whose jurisdiction was never set still sees what they wrote.
    floating = make_user(roles=["grid_worker"], username="floating")
    from tests.personnel_factories import assign, make_person

    assign(make_person(grid=tree.h11, user=floating), tree.h11, "volunteer")
    client = api_client_for(floating)
    assert client.get(CHECKS).json()["count"] == 0
    assert client.post(CHECKS, body("HH-A"), format="json").status_code == 201
    assert client.get(CHECKS).json()["count"] == 1


def test_list_is_newest_first_across_days(history, api_client_for, county_commander):
    results = api_client_for(county_commander).get(CHECKS).json()["results"]
    moments = [datetime.datetime.fromisoformat(r["checked_at"]) for r in results]
    assert len(moments) == 4 and moments == sorted(moments, reverse=True)
    assert [r["checked_on"] for r in results] == sorted(
        (r["checked_on"] for r in results), reverse=True
    )


def test_list_query_count_does_not_grow(
    history, api_client_for, county_commander, django_assert_num_queries
):
    client = api_client_for(county_commander)
    # token+user, jurisdiction, count, page
    with django_assert_num_queries(4):
        assert client.get(CHECKS).json()["count"] == 4
    with django_assert_num_queries(5):  # + the grid
        assert client.get(CHECKS, {"grid": "451024100001"}).json()["count"] == 4


# --- Corrections and voids -------------------------------------------------------------------


def test_patch_corrects_and_is_audited(client, homes, api_client_for, county_commander, tree):
    data = body()
    client.post(CHECKS, data, format="json")
    url = f"{CHECKS}{data['uuid']}/"
    response = client.patch(url, {"fever": 1, "note": "低烧"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["fever"] == 1 and response.json()["note"] == "低烧"
    assert CheckRevision.objects.filter(action="correct").count() == 1

    before = state()
    assert client.patch(url, {"returnees_risk_area": 9}, format="json").status_code == 400
    assert client.patch(url, {"household": "HH-B"}, format="json").status_code == 400
    assert (
        api_client_for(county_commander).patch(url, {"fever": 0}, format="json").status_code == 403
    )
    napo = api_client_for(make_user(roles=["commander"], jurisdiction=tree.napo))
    assert napo.patch(url, {"fever": 0}, format="json").status_code == 404
    assert client.patch(f"{CHECKS}{uuid.uuid4()}/", {"fever": 0}, format="json").status_code == 404
    assert client.patch(f"{CHECKS}nonsense/", {"fever": 0}, format="json").status_code == 404
    assert state() == before


def test_patch_on_a_later_day_is_refused(client, homes):
    data = body(checked_at=(timezone.now() - datetime.timedelta(days=1)).isoformat())
    client.post(CHECKS, data, format="json")
    before = state()
    response = client.patch(f"{CHECKS}{data['uuid']}/", {"fever": 1}, format="json")
    assert response.status_code == 400 and "checked_on" in response.json()
    assert state() == before


def test_void_by_author_and_by_commander(client, homes, api_client_for, county_commander, tree):
    data = body()
    client.post(CHECKS, data, format="json")
    url = f"{CHECKS}{data['uuid']}/void/"
    before = state()
    assert client.post(url, {}, format="json").status_code == 400  # a reason is required
    peer = api_client_for(make_worker(tree.h11, username="peer"))
    assert peer.post(url, {"reason": "x"}, format="json").status_code == 403
    napo = api_client_for(make_user(roles=["commander"], jurisdiction=tree.napo))
    assert napo.post(url, {"reason": "x"}, format="json").status_code == 404
    assert state() == before

    response = client.post(url, {"reason": "重复录入"}, format="json")
    assert response.status_code == 200
    assert response.json()["voided_at"] is not None and response.json()["void_reason"] == "重复录入"
    assert Check.objects.counted().count() == 0 and Check.objects.count() == 1
    # Voiding twice is harmless; the commander may too (nothing changes now).
    assert (
        api_client_for(county_commander).post(url, {"reason": "x"}, format="json").status_code
        == 200
    )
    assert CheckRevision.objects.filter(action="void").count() == 1


# --- Zero reports ----------------------------------------------------------------------------


def test_zero_report_201_then_200(client, tree, worker):
    url = f"/api/v1/grids/{tree.h11.code}/zero-report/"
    first = client.post(url, {}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["grid"] == tree.h11.code
    assert first.json()["date"] == local_today().isoformat()
    assert client.post(url, {"note": "again"}, format="json").status_code == 200
    assert ZeroReport.objects.count() == 1
    yesterday = (local_today() - datetime.timedelta(days=1)).isoformat()
    assert client.post(url, {"date": yesterday}, format="json").status_code == 201


def test_zero_report_refused(client, tree, api_client_for, worker):
    before = state()
    assert (
        client.post(f"/api/v1/grids/{tree.h12.code}/zero-report/", {}, format="json").status_code
        == 403
    )
    assert (
        client.post(f"/api/v1/grids/{tree.nh1.code}/zero-report/", {}, format="json").status_code
        == 404
    )
    assert client.post("/api/v1/grids/NOPE/zero-report/", {}, format="json").status_code == 404
    future = (local_today() + datetime.timedelta(days=1)).isoformat()
    url = f"/api/v1/grids/{tree.h11.code}/zero-report/"
    assert client.post(url, {"date": future}, format="json").status_code == 400
    village = api_client_for(make_worker(tree.v1, username="v1w"))
    assert (
        village.post(f"/api/v1/grids/{tree.v1.code}/zero-report/", {}, format="json").status_code
        == 400
    )
    assert state() == before


# --- Schema ----------------------------------------------------------------------------------


def test_schema_input_fields_match_the_parser():
    from screening.api import (
        CORRECT_FIELDS,
        CREATE_FIELDS,
        CheckCorrectionSerializer,
        CheckInputSerializer,
    )

    assert set(CheckInputSerializer().fields) == CREATE_FIELDS
    assert set(CheckCorrectionSerializer().fields) == CORRECT_FIELDS


@pytest.mark.django_db
def test_schema_lists_the_check_endpoints():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    assert {
        "/api/v1/checks/",
        "/api/v1/checks/batch/",
        "/api/v1/checks/{uuid}/",
        "/api/v1/checks/{uuid}/void/",
        "/api/v1/grids/{code}/zero-report/",
    } <= set(schema["paths"])
    assert {p["name"] for p in schema["paths"]["/api/v1/checks/"]["get"]["parameters"]} >= {
        "grid",
        "date",
        "from",
        "to",
    }
    assert (
        services.MAX_COUNT
        == schema["components"]["schemas"]["CheckInput"]["properties"]["fever"]["maximum"]
    )
