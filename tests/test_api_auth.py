"""Token auth: POST /api/v1/auth/token/ with username and password, then
"Authorization: Token <key>" on every API call."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import make_user

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
PASSWORD = "pass-Word-123"


@pytest.mark.parametrize("format", ["json", "multipart"])
def test_good_credentials_give_a_token_that_opens_the_api(tree, county_commander, format):
    response = APIClient().post(
        TOKEN_URL, {"username": "debao_commander", "password": PASSWORD}, format=format
    )
    assert response.status_code == 200
    key = response.json()["token"]
    assert key == Token.objects.get(user=county_commander).key

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    listed = client.get("/api/v1/grids/")
    assert listed.status_code == 200
    assert {row["code"] for row in listed.json()["results"]} >= {"451024000000"}
    assert "451026000000" not in {row["code"] for row in listed.json()["results"]}


def test_asking_twice_gives_the_same_token(tree, county_commander):
    credentials = {"username": "debao_commander", "password": PASSWORD}
    first = APIClient().post(TOKEN_URL, credentials, format="json").json()["token"]
    second = APIClient().post(TOKEN_URL, credentials, format="json").json()["token"]
    assert first == second
    assert Token.objects.count() == 1


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "debao_commander", "password": "wrong"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "DEBAO_COMMANDER", "password": PASSWORD},
    ],
)
def test_bad_credentials_are_400_and_give_no_token(tree, county_commander, credentials):
    response = APIClient().post(TOKEN_URL, credentials, format="json")
    assert response.status_code == 400
    assert response.json()["non_field_errors"]
    assert "token" not in response.json()
    assert not Token.objects.exists()


def test_missing_fields_are_400_per_field(db):
    response = APIClient().post(TOKEN_URL, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}
    assert not Token.objects.exists()


def test_an_inactive_user_gets_no_token(tree):
    make_user(jurisdiction=tree.debao, username="retired", is_active=False)
    response = APIClient().post(
        TOKEN_URL, {"username": "retired", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 400
    assert not Token.objects.exists()


def test_a_token_stops_working_when_its_user_is_deactivated(tree, county_commander, api_client_for):
    client = api_client_for(county_commander)
    assert client.get("/api/v1/grids/").status_code == 200
    county_commander.is_active = False
    county_commander.save(update_fields=["is_active"])
    assert client.get("/api/v1/grids/").status_code == 401


@pytest.mark.parametrize(
    "header", ["Token not-a-real-key", "Token", "Token a b", "Bearer abc", "Basic Zm9vOmJhcg=="]
)
def test_a_bad_authorization_header_is_401_never_500(tree, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/grids/451024000000/")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_the_token_endpoint_only_accepts_post(db):
    assert APIClient().get(TOKEN_URL).status_code == 405
