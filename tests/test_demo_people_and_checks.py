"""seed_demo's people and checks (personnel.demo, screening.demo): every assignment keeps
the personnel rules, the teams meet the templates except where the demo leaves gaps on
purpose, the demo grid worker can work, the 14 days of checks are valid and rolled up
exactly, and a second run changes nothing.

The small demo is seeded once for the class (it takes seconds), inside a transaction that
is rolled back after it; each test runs in its own savepoint inside that transaction."""

import datetime
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count, Sum
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.roles import Role as UserRole
from accounts.roles import user_has_role
from grids.demo import seed_demo
from grids.models import GridNode, Household, Level, TenHouseholdGroup
from personnel import services
from personnel.compliance import grid_compliance, staffing_rollup
from personnel.demo import GRIDWORKER, WORKER_ACCOUNT_PREFIX
from personnel.models import (
    PARTY_STATUSES,
    Assignment,
    Organisation,
    Person,
    PostClaim,
    PostType,
    Role,
)
from personnel.rules import check_assignments
from personnel.selectors import assignment_facts, grid_chain
from personnel.validators import validate_id_number, validate_mobile
from screening.demo import DAYS, check_uuid, seed_checks
from screening.metrics import METRIC_NAMES
from screening.models import Check, CheckRevision, DailyStat, RollupDelta, ZeroReport
from screening.rollup import FIELDS
from screening.selectors import worker_grids, worker_leaf_grids
from screening.services import count_problems

DEBAO = "451024000000"
CITY = "451000000000"


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--scale", "small", stdout=out)
    return out.getvalue()


@pytest.fixture(scope="class")
def demo(django_db_setup, django_db_blocker):
    # The same fast hasher as the autouse fixture of conftest.py, which runs per test.
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast, transaction.atomic():
        yield seed()
        transaction.set_rollback(True)


def demo_today() -> datetime.date:
    """The demo's today: the newest day it rolled up (not the clock's, should a test run
    cross midnight)."""
    return DailyStat.objects.latest("day").day


def counts() -> dict:
    models = (
        User,
        Person,
        Organisation,
        Assignment,
        PostClaim,
        Check,
        CheckRevision,
        ZeroReport,
        DailyStat,
        RollupDelta,
        GridNode,
        Household,
    )
    return {model.__name__: model.objects.count() for model in models}


def direct_numbers(node: GridNode, day: datetime.date) -> dict:
    """A node's numbers for a day straight from the raw rows, without the rollup."""
    subtree = GridNode.objects.filter(path__startswith=node.path)
    checks = Check.objects.filter(grid__path__startswith=node.path, checked_on=day).filter(
        voided_at__isnull=True
    )
    sums = checks.aggregate(**{name: Sum(name) for name in METRIC_NAMES})
    numbers = {name: sums[name] or 0 for name in METRIC_NAMES}
    leaves = set(
        subtree.annotate(kids=Count("children")).filter(kids=0).values_list("pk", flat=True)
    )
    reported = set(checks.values_list("grid_id", flat=True)) | set(
        ZeroReport.objects.filter(reported_on=day, grid_id__in=leaves).values_list(
            "grid_id", flat=True
        )
    )
    numbers["households_checked"] = checks.values("household_id").distinct().count()
    numbers["leaves_reported"] = len(reported & leaves)
    numbers["households_total"] = Household.objects.filter(grid__path__startswith=node.path).count()
    numbers["leaves_expected"] = len(leaves)
    return numbers


@pytest.mark.usefixtures("demo", "db")
class TestTheSmallDemo:
    def test_every_stored_assignment_obeys_the_personnel_rules(self):
        assignments = list(Assignment.objects.select_related("grid", "role"))
        assert len(assignments) > 2000
        facts = [assignment_facts(a) for a in assignments]
        assert check_assignments(facts, []) == {}
        # Each level's 包保 leader is the chief one level up (the rules allow nothing else
        # at the county, whose level above is the city, the root).
        city_chief = Assignment.objects.get(grid__code=CITY, role__code="grid_chief").person
        county_leaders = Assignment.objects.filter(
            grid__level=Level.COUNTY, grid__category__in=["border", "non_border"]
        ).filter(role__code="baobao_leader")
        assert county_leaders.count() == 12
        assert {a.person_id for a in county_leaders} == {city_chief.pk}

    def test_people_have_valid_identifiers_and_posts_go_to_party_members(self):
        people = list(Person.objects.all())
        assert len(people) > 1500
        for person in people:
            validate_id_number(person.id_number)
            validate_mobile(person.mobile)
        assert len({p.id_number for p in people}) == len(people)
        claims = list(PostClaim.objects.select_related("person", "post_type"))
        assert len(claims) > 20
        assert all(c.person.political_status in PARTY_STATUSES for c in claims)
        assert {c.post_type.code for c in claims} == set(
            PostType.objects.values_list("code", flat=True)
        )
        sent_down = Assignment.objects.filter(sent_down=True)
        assert sent_down.count() > 50
        assert sent_down.filter(grid__level=Level.VILLAGE).exists()
        types = set(Organisation.objects.values_list("type", flat=True))
        assert {"health", "public_security", "organ", "school", "volunteer", "community"} <= types
        assert Organisation.objects.filter(name__endswith="卫生健康局").count() == 12
        assert Organisation.objects.filter(name__endswith="派出所").count() == 24

    def test_household_heads_represent_hamlets_and_lead_their_groups(self):
        groups = list(TenHouseholdGroup.objects.select_related("leader", "hamlet"))
        assert groups
        for group in groups:
            leader = group.leader
            assert leader is not None, group
            assert group.households.filter(head_name=leader.name, phone=leader.mobile).exists()
            assert leader.assignments.filter(
                grid=group.hamlet, role__code="household_group_leader"
            ).exists()
        representatives = Assignment.objects.filter(role__code="household_representative")
        assert representatives.count() == GridNode.objects.filter(level=Level.HAMLET).count()
        for assignment in representatives.select_related("person", "grid")[:20]:
            person = assignment.person
            assert assignment.grid.households.filter(
                head_name=person.name, phone=person.mobile
            ).exists()

    def test_the_demo_grid_worker_works_its_hamlet(self):
        worker = User.objects.get(username=GRIDWORKER)
        hamlet = worker.jurisdiction
        person = Person.objects.get(user=worker)
        today = demo_today()
        mine = Assignment.objects.active_on(today).filter(person=person)
        assert [(a.grid_id, a.role.code) for a in mine] == [(hamlet.pk, "part_time_worker")]
        assert worker_grids(worker, on=today).filter(pk=hamlet.pk).exists()
        (leaf,) = worker_leaf_grids(user=worker, on=today)
        assert leaf.pk == hamlet.pk
        # Part of today's round is done, the rest is left for the demo.
        assert 0 < leaf.households_checked < leaf.households_total
        client = APIClient()
        client.force_login(worker)
        response = client.get("/work/")
        assert response.status_code == 200
        assert hamlet.name in response.content.decode()

    def test_demo_check_writers_are_assigned_and_cannot_log_in(self):
        accounts = User.objects.filter(username__startswith=WORKER_ACCOUNT_PREFIX)
        assert accounts.count() > 100
        for account in accounts:
            assert not account.has_usable_password()
            assert user_has_role(account, UserRole.GRID_WORKER)
            assert account.person.assignments.filter(grid=account.jurisdiction).exists()
        # Every check was written by someone who may write it on its day.
        first = demo_today() - datetime.timedelta(days=DAYS - 1)
        for worker_id, grid_ids in _grids_by_worker().items():
            writable = set(
                worker_grids(User.objects.get(pk=worker_id), on=first)
                .filter(pk__in=grid_ids)
                .values_list("pk", flat=True)
            )
            assert writable == grid_ids

    def test_most_villages_are_fully_staffed_and_a_few_are_short(self):
        admin = User.objects.get(username="admin")
        city = GridNode.objects.get(code=CITY)
        rollup = staffing_rollup(user=admin, node=city, on=demo_today())
        by_level = {level.level: level.tally for level in rollup.levels}
        villages = by_level[Level.VILLAGE]
        assert villages.grids == 72
        assert 0.75 * villages.grids <= villages.fully_staffed < villages.grids
        assert villages.shortages["doctor"] > 0 and villages.shortages["police"] > 0
        hamlets = by_level[Level.HAMLET]
        assert 0.85 * hamlets.grids <= hamlets.fully_staffed < hamlets.grids
        assert by_level[Level.COUNTY].fully_staffed == by_level[Level.COUNTY].grids
        assert rollup.node.fully_staffed
        # The Debao commander has a gap to look at too.
        debao = GridNode.objects.get(code=DEBAO)
        commander = User.objects.get(username="debao_commander")
        debao_villages = {
            level.level: level.tally for level in staffing_rollup(user=commander, node=debao).levels
        }[Level.VILLAGE]
        assert debao_villages.fully_staffed < debao_villages.grids
        # A doctor who left: the ended assignment no longer counts.
        ended = Assignment.objects.filter(role__code="doctor", end_date__isnull=False).first()
        assert ended is not None
        assert grid_compliance(grid=ended.grid).shortages.get("doctor") == 1

    def test_the_chain_runs_from_the_worker_s_hamlet_to_the_city(self):
        worker = User.objects.get(username=GRIDWORKER)
        commander = User.objects.get(username="debao_commander")
        chain = grid_chain(user=commander, node=worker.jurisdiction)
        assert [level.grid.level for level in chain.levels] == [5, 4, 3, 2, 1]
        for level in chain.levels:
            roles = {a.role.code for a in level.assignments}
            assert "grid_chief" in roles, level.grid
            if level.grid.level > Level.CITY:
                assert "baobao_leader" in roles, level.grid
        assert not [gap for gap in chain.gaps if gap.kind != "axis_uncovered"]

    def test_fourteen_days_of_statistics_equal_the_raw_checks(self):
        today = demo_today()
        days = [today - datetime.timedelta(days=k) for k in range(DAYS)]
        nodes = GridNode.objects.count()
        per_day = dict(
            DailyStat.objects.values("day").annotate(n=Count("id")).values_list("day", "n")
        )
        assert per_day == {day: nodes for day in days}
        assert not RollupDelta.objects.exists()
        debao = GridNode.objects.get(code=DEBAO)
        hamlet = User.objects.get(username=GRIDWORKER).jurisdiction
        for node in (GridNode.objects.get(code=CITY), debao, hamlet):
            for day in (today, today - datetime.timedelta(days=1), days[-1]):
                stat = DailyStat.objects.get(node=node, day=day)
                assert {f: getattr(stat, f) for f in FIELDS} == direct_numbers(node, day), (
                    node.code,
                    day,
                )
        # Debao checks most of its households; some leaves have not reported today.
        trend = DailyStat.objects.filter(node=debao).order_by("day")
        assert all(0.5 <= s.households_checked / s.households_total <= 0.95 for s in trend)
        assert all(s.persons_present > 0 for s in trend)
        today_stat = trend.get(day=today)
        assert 0 < today_stat.leaves_reported < today_stat.leaves_expected
        city = DailyStat.objects.filter(node__code=CITY)
        totals = city.aggregate(*(Sum(name) for name in METRIC_NAMES))
        assert all(value > 0 for value in totals.values()), totals
        # Each county samples everybody one day in three, and only returnees otherwise.
        samples = [s.samples_taken for s in trend]
        assert max(samples) > 3 * min(samples)

    def test_the_checks_are_valid_audited_and_deterministic(self):
        now = timezone.now()
        checks = list(Check.objects.select_related("household"))
        assert len(checks) > 5000
        for check in checks:
            assert count_problems({name: getattr(check, name) for name in METRIC_NAMES}) == []
            assert check.uuid == check_uuid(check.household.code, check.checked_on)
            assert check.grid_id == check.household.grid_id
            assert timezone.localtime(check.checked_at).date() == check.checked_on
            assert check.checked_at <= now
        actions = Counter(CheckRevision.objects.values_list("action", flat=True))
        voided = Check.objects.filter(voided_at__isnull=False).count()
        assert voided > 0
        assert actions == {"void": voided}  # a check's row is its own creation record
        assert ZeroReport.objects.exists()

    def test_the_stats_api_serves_the_trend_and_the_unreported(self):
        commander = User.objects.get(username="debao_commander")
        client = APIClient()
        client.force_login(commander)
        today = demo_today()
        response = client.get(f"/api/v1/grids/{DEBAO}/stats/", {"date": today.isoformat()})
        assert response.status_code == 200
        node = response.json()["node"]
        assert 0 < node["leaves_reported"] < node["leaves_expected"]
        start = today - datetime.timedelta(days=DAYS - 1)
        response = client.get(
            f"/api/v1/grids/{DEBAO}/stats/", {"from": start.isoformat(), "to": today.isoformat()}
        )
        assert response.status_code == 200
        series = response.json()["series"]
        assert len(series) == DAYS and all(point["persons_present"] > 0 for point in series)
        assert client.get(f"/dashboard/{DEBAO}/").status_code == 200

    def test_a_second_run_changes_nothing(self, demo):
        assert "gridworker" in demo and "/work/" in demo and "/dashboard/451024000000/" in demo
        before = counts()
        stamps = list(DailyStat.objects.order_by("pk").values_list("pk", "updated_at"))
        out = seed()
        assert "already present" in out
        assert counts() == before
        assert list(DailyStat.objects.order_by("pk").values_list("pk", "updated_at")) == stamps


def _grids_by_worker() -> dict[int, set[int]]:
    grids: dict[int, set[int]] = {}
    for worker_id, grid_id in Check.objects.values_list("worker_id", "grid_id").distinct():
        grids.setdefault(worker_id, set()).add(grid_id)
    for worker_id, grid_id in ZeroReport.objects.values_list("reporter_id", "grid_id").distinct():
        grids.setdefault(worker_id, set()).add(grid_id)
    return grids


def test_stored_assignments_that_clash_with_the_demo_stop_it_and_nothing_is_written(db):
    seed_demo(scale="small")
    city = GridNode.objects.get(code=CITY)
    person, _ = services.person_upsert(name="王市长", registered_grid=city, mobile="13900000000")
    services.assignment_create(
        person=person,
        grid=city,
        role=Role.objects.get(code="grid_chief"),
        start_date=datetime.date(2020, 1, 1),
    )
    before = counts()
    with pytest.raises(CommandError, match="assignment rules"):
        seed()
    assert counts() == before


def test_the_baise_scale_gets_no_demo_checks(db):
    before = counts()
    assert seed_checks(scale="baise") == {"checks": 0, "zero_reports": 0, "days": 0}
    assert counts() == before


def test_checks_need_assigned_workers(db):
    """Without demo people nobody may write a check, so none is written."""
    seed_demo(scale="small")
    assert seed_checks(scale="small")["checks"] == 0
    assert not Check.objects.exists() and not DailyStat.objects.exists()
