"""Pioneer posts (先锋岗): only party members claim; counts by type roll up the subtree and
per child; through the services and the API."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from personnel.models import PostClaim, PostType
from personnel.selectors import post_counts
from personnel.services import post_claim, post_release
from tests.factories import make_user
from tests.personnel_factories import make_person

pytestmark = pytest.mark.django_db
D = datetime.date
ON = D(2022, 2, 10)


def post_type(code):
    return PostType.objects.get(code=code)


CLAIMED = D(2022, 2, 1)


def claim(person, grid, code, on=CLAIMED):
    return post_claim(person=person, grid=grid, post_type=post_type(code), claimed_on=on)


def test_only_party_members_claim_posts(tree):
    citizen = make_person(grid=tree.h11)
    with pytest.raises(ValidationError) as excinfo:
        claim(citizen, tree.h11, "medical_aid")
    assert "person" in excinfo.value.message_dict
    assert not PostClaim.objects.exists()
    probationary = make_person(grid=tree.h11, political_status="probationary")
    claim(probationary, tree.h11, "medical_aid")
    assert PostClaim.objects.count() == 1


def test_a_post_is_held_once_until_released(tree):
    member = make_person(grid=tree.h11, party=True)
    held = claim(member, tree.h11, "order_maintenance")
    with pytest.raises(ValidationError):
        claim(member, tree.h11, "order_maintenance")
    post_release(claim=held, released_on=D(2022, 2, 20))
    with pytest.raises(ValidationError):
        post_release(claim=held)
    claim(member, tree.h11, "order_maintenance", on=D(2022, 3, 1))
    assert PostClaim.objects.count() == 2


def test_counts_roll_up_by_type_over_the_subtree_and_per_child(
    tree, superuser, django_assert_num_queries
):
    for grid, code in [
        (tree.h11, "order_maintenance"),
        (tree.h11, "medical_aid"),
        (tree.h12, "medical_aid"),
        (tree.v2, "convenience_services"),
        (tree.dongling, "psychological_counselling"),
        (tree.nv1, "medical_aid"),  # another county: outside the Dongling subtree
    ]:
        claim(make_person(grid=grid, party=True), grid, code)
    released = claim(make_person(grid=tree.h21, party=True), tree.h21, "medical_aid")
    post_release(claim=released, released_on=D(2022, 2, 5))

    with django_assert_num_queries(3):  # post types, children, one GROUP BY
        rollup = post_counts(user=superuser, node=tree.dongling, on=ON)
    assert rollup.node.counts == {
        "convenience_services": 1,
        "medical_aid": 2,
        "order_maintenance": 1,
        "psychological_counselling": 1,
    }
    assert rollup.own.total == 1
    children = {c.grid.code: c.counts for c in rollup.children}
    assert (
        children[tree.v1.code]["medical_aid"] == 2
        and children[tree.v1.code]["order_maintenance"] == 1
    )
    assert children[tree.v2.code]["convenience_services"] == 1
    # before the release date the released claim still counted
    assert (
        post_counts(user=superuser, node=tree.v2, on=D(2022, 2, 4)).node.counts["medical_aid"] == 1
    )

    for _ in range(3):
        claim(make_person(grid=tree.h12, party=True), tree.h12, "order_maintenance")
    with django_assert_num_queries(3):
        assert post_counts(user=superuser, node=tree.dongling, on=ON).node.total == 8


# --- API ----------------------------------------------------------------------------------------


def test_api_posts_counts_and_404_outside(
    tree, county_commander, api_client_for, django_assert_num_queries
):
    claim(make_person(grid=tree.h11, party=True), tree.h11, "medical_aid")
    client = api_client_for(county_commander)
    client.get(f"/api/v1/grids/{tree.debao.code}/posts/")
    with django_assert_num_queries(6):  # token, jurisdiction, grid, post types, children, GROUP BY
        response = client.get(f"/api/v1/grids/{tree.debao.code}/posts/", {"on": "2022-02-10"})
    assert response.status_code == 200
    body = response.json()
    assert body["subtree"]["total"] == 1
    assert {c["post_type"]: c["count"] for c in body["subtree"]["counts"]}["medical_aid"] == 1
    dongling = next(c for c in body["children"] if c["grid"]["code"] == tree.dongling.code)
    assert dongling["total"] == 1
    assert client.get(f"/api/v1/grids/{tree.napo.code}/posts/").status_code == 404


def test_api_claim_refuses_a_non_party_member_with_a_bilingual_400(tree, api_client_for):
    admin = make_user(roles=["administrator"], jurisdiction=tree.debao)
    citizen = make_person(grid=tree.h11)
    response = api_client_for(admin).post(
        "/api/v1/post-claims/",
        {"person": citizen.pk, "grid": tree.h11.code, "post_type": "medical_aid"},
        format="json",
    )
    assert response.status_code == 400
    assert "Only party members can claim a pioneer post." in response.json()["person"][0]
    assert not PostClaim.objects.exists()


def test_api_claim_by_the_member_themselves_or_an_administrator(tree, api_client_for):
    member_user = make_user(roles=["grid_worker"], jurisdiction=tree.v1)
    member = make_person(grid=tree.h11, party=True, user=member_user)
    other_member = make_person(grid=tree.h11, party=True)
    client = api_client_for(member_user)
    body = {"person": other_member.pk, "grid": tree.h11.code, "post_type": "medical_aid"}
    assert client.post("/api/v1/post-claims/", body, format="json").status_code == 403
    assert not PostClaim.objects.exists()
    response = client.post("/api/v1/post-claims/", {**body, "person": member.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["person"]["mobile"] == member.mobile[:3] + "****" + member.mobile[-4:]
    released = client.post(f"/api/v1/post-claims/{response.json()['id']}/release/")
    assert released.status_code == 200 and released.json()["released_on"] is not None

    napo_admin = make_user(roles=["administrator"], jurisdiction=tree.napo)
    napo = api_client_for(napo_admin)
    assert (
        napo.post("/api/v1/post-claims/", {**body, "person": member.pk}, format="json").status_code
        == 400
    )
    assert napo.post(f"/api/v1/post-claims/{response.json()['id']}/release/").status_code == 404
    assert PostClaim.objects.count() == 1
