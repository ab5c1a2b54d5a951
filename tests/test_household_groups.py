import pytest

from grids.models import Household, TenHouseholdGroup
from tests.factories import make_household
from tests.personnel_factories import make_person

pytestmark = pytest.mark.django_db


def test_a_ten_household_group_has_a_leader_who_is_a_person(tree):
    leader = make_person(name="韦联户", grid=tree.h11)
    group = TenHouseholdGroup.objects.create(
        code="G-1", name="第一联防组", hamlet=tree.h11, leader=leader
    )
    household = make_household(tree.h11)
    Household.objects.filter(pk=household.pk).update(group=group)
    assert leader.household_groups_led.get() == group
    assert group.households.get() == household


def test_groups_are_scoped_like_their_hamlet(tree, county_commander):
    TenHouseholdGroup.objects.create(code="G-DB", name="德保组", hamlet=tree.h11)
    TenHouseholdGroup.objects.create(code="G-NP", name="那坡组", hamlet=tree.nh1)
    visible = TenHouseholdGroup.objects.visible_to(county_commander)
    assert list(visible.values_list("code", flat=True)) == ["G-DB"]
