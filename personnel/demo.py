"""Demo people: organisations, people and assignments over the demo tree (grids.demo), so
the chain, team, staffing and pioneer-post sections have something real to show.

What it builds, level by level (every team meets the seeded templates unless noted):

- City, counties, townships: a grid chief (the party secretary), a full-time grid worker
  (command staff), a doctor and a police officer (department axis), a part-time worker
  from a work unit (unit axis), a volunteer (individual axis). Each county's 包保 leader
  is the city's grid chief, each township's the county's chief: personnel.rules lets only
  a grid chief or 包保 leader of the grid one level up lead a grid, and the city, the top
  of the tree, has no 包保 leader, so no other city leader qualifies.
- Villages ("1+1+N+K" and "五级网格长+专职+兼职+N"): the village party secretary as chief,
  the township's chief (or, in every fifth village, the county's chief, who 包保s the
  township) as 包保 leader, three full-time workers of whom one is a cadre sent down (下沉)
  from a county organ, a village doctor, a police officer shared by two villages, a
  part-time worker from the village's cooperative or property company, a volunteer, a
  local gentleman in some. A few villages are deliberately short: no doctor (one left a
  few days ago: an ended assignment) or no police officer.
- Hamlets ("1+1+1+N" too): the hamlet group leader as chief (a party member in most),
  the village's chief as 包保 leader (a few hamlets lack one: a chain gap), one of the
  village's full-time workers, a part-time worker, a volunteer (a sent-down cadre in some,
  none in a few), a party member, the household representative (the head of a real
  household) and a 联户长 per ten-household group; the village doctor serves every hamlet.
- Work-unit and dedicated grids (hospitals, parks, schools, markets, border checkpoints,
  the quarantine hotel): the unit's head as chief, staff, a police officer, a volunteer.
- Some party members claim pioneer posts (先锋岗).
- The demo user `gridworker` is the part-time worker of its hamlet; one full-time worker of
  each village, township, county and of the city gets an account (gw-<grid code>, no
  usable password) so the demo checks (screening.demo) are written by someone assigned.
- At the baise scale only Debao's hamlets get teams (see seed_people); everything above
  the hamlets is staffed everywhere.

Identity numbers are valid 18-digit resident numbers (the county's region code, a birth
date, a sequence number and the GB 11643 check digit) and all distinct. Mobiles are
distinct too, in the 173/175/176/178 segments the demo households never use, except the
household representatives', which are their households' phones.

Written with bulk inserts (the services validate one row at a time, far too slow for the
baise scale), after checking every assignment with personnel.rules.check_assignments
against what is stored, and in one transaction. Everything is drawn from a fixed random
seed, so a scale always gives the same people; when they are present (matched by identity
number) a second run writes nothing.
"""

from __future__ import annotations

import datetime
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import Min
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role as UserRole
from grids.demo import CITY_CODE
from grids.models import Category, GridNode, Household, Kind, Level, TenHouseholdGroup

from .models import (
    PARTY_STATUSES,
    Assignment,
    Axis,
    Organisation,
    Person,
    PoliticalStatus,
    PostClaim,
    PostType,
    Role,
)
from .models import OrganisationType as Org
from .rules import AssignmentFacts, check_assignments
from .selectors import assignment_facts_for, local_today
from .validators import id_check_digit

SEED = 2020
# The command structure was set up about four months before the demo's today; the
# sent-down cadres came later, as the outbreak grew. Both are well before the 14 days of
# demo checks, so every check's author was assigned on its day.
ASSIGNED_DAYS_AGO = 120
SENT_DOWN_DAYS_AGO = 45
LEFT_DAYS_AGO = 5  # the doctor who left a short-staffed village
GRIDWORKER = "gridworker"
# Where hamlets get their teams, per scale (a path prefix; "" everywhere): see seed_people.
HAMLET_TEAMS_UNDER = {"small": "", "baise": f"/{CITY_CODE}/451024000000/"}
WORKER_ACCOUNT_PREFIX = "gw-"
BATCH = 2000
# Field types whose values need converting for the database (the rest pass as they are).
CONVERTED = (models.UUIDField, models.DateField, models.JSONField)

SURNAMES = "黄黄黄韦韦农农陆陆覃覃蓝罗梁李李莫赵王陈周卢潘廖杨何凌梁滕班"
GIVEN = "志文明华建国秀英春兰海军丽芳红玉金凤桂林德成忠永平安光辉宏伟勇强学良美珍日月云仁福"
STAFF_PREFIXES = ("173", "175", "176", "178")  # never used by the demo households
CITY_REGION = "451002"  # 右江区, the city seat: the region code of city-level people


class DemoPeopleConflict(Exception):
    """Stored assignments would break a rule together with the demo's."""


# --- The plan -----------------------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    id: int
    code: str
    name: str
    level: int
    category: str
    kind: str
    parent_id: int | None
    path: str
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    @property
    def territorial(self) -> bool:
        return self.category != Category.UNIT and self.kind == Kind.CELL

    @property
    def codes(self) -> list[str]:
        return self.path.strip("/").split("/")

    @property
    def region(self) -> str:
        """The region code of identity numbers issued here: the county's."""
        codes = self.codes
        return codes[1][:6] if len(codes) > 1 else CITY_REGION


@dataclass(eq=False)
class PlanOrg:
    name: str
    type: str
    registered: Node
    parent: PlanOrg | None = None
    home: Node | None = None
    pk: int | None = None

    @property
    def tier(self) -> int:
        return 0 if self.parent is None else self.parent.tier + 1


@dataclass(eq=False)
class PlanPerson:
    index: int
    name: str
    mobile: str
    id_number: str
    political_status: str
    registered: Node
    organisation: PlanOrg | None
    username: str | None = None  # GRIDWORKER, or a worker account to create
    pk: int | None = None

    @property
    def is_party_member(self) -> bool:
        return self.political_status in PARTY_STATUSES


@dataclass(frozen=True, eq=False)
class PlanAssignment:
    person: PlanPerson
    grid: Node
    role: str
    axis: str
    start: datetime.date
    end: datetime.date | None = None
    sent_down: bool = False


@dataclass(frozen=True, eq=False)
class PlanClaim:
    person: PlanPerson
    grid: Node
    post_type: str
    claimed_on: datetime.date


@dataclass
class Plan:
    orgs: list[PlanOrg] = field(default_factory=list)
    people: list[PlanPerson] = field(default_factory=list)
    assignments: list[PlanAssignment] = field(default_factory=list)
    claims: list[PlanClaim] = field(default_factory=list)
    group_leaders: list[tuple[int, PlanPerson]] = field(default_factory=list)  # (group id, 联户长)


def load_nodes() -> list[Node]:
    """The demo tree, parents before children (a path sorts before its extensions)."""
    rows = (
        GridNode.objects.filter(path__startswith=f"/{CITY_CODE}/")
        .order_by("path")
        .values_list("id", "code", "name", "level", "category", "kind", "parent_id", "path")
    )
    nodes = [Node(*row) for row in rows]
    by_id = {n.id: n for n in nodes}
    for node in nodes:
        node.parent = by_id.get(node.parent_id)
        if node.parent is not None:
            node.parent.children.append(node)
    return nodes


class Builder:
    """Draws the demo people from one random stream, in tree order (parents first)."""

    def __init__(
        self,
        nodes: list[Node],
        today: datetime.date,
        *,
        heads: dict[int, Head],
        groups: dict[int, list[tuple[int, Head | None]]],
        gridworker_hamlet: str | None,
        hamlets_under: str = "",
    ):
        self.rng = random.Random(f"{SEED}-people")
        self.nodes = nodes
        self.today = today
        self.assigned = today - datetime.timedelta(days=ASSIGNED_DAYS_AGO)
        self.sent_down_on = today - datetime.timedelta(days=SENT_DOWN_DAYS_AGO)
        self.heads = heads  # hamlet id -> the head of its first household
        self.groups = groups  # hamlet id -> [(group id, head of its first household)]
        self.gridworker_hamlet = gridworker_hamlet
        self.hamlets_under = hamlets_under  # a path prefix: hamlet teams only there
        self.plan = Plan()
        self.used_ids: set[str] = set()
        self.by_code = {n.code: n for n in nodes}
        self.chief: dict[int, PlanPerson] = {}  # grid id -> its grid chief
        self.leader: dict[int, PlanPerson] = {}  # grid id -> its 包保 leader
        self.orgs: dict[int, dict[str, PlanOrg]] = {}  # grid id -> key -> org registered there
        self.township_index = 0
        self.village_index = 0  # over the whole tree: picks the short-staffed villages
        self.hamlet_index = 0
        # Per township and per village, while their children are built.
        self.police_officers: list[PlanPerson] = []
        self.villages_in_township = 0
        self.village_workers: list[PlanPerson] = []
        self.village_doctor: PlanPerson | None = None

    # -- primitives --

    def org(
        self,
        node: Node,
        key: str,
        name: str,
        type: str,
        parent: PlanOrg | None = None,
        home: Node | None = None,
    ) -> PlanOrg:
        org = PlanOrg(name=name, type=type, registered=node, parent=parent, home=home)
        self.plan.orgs.append(org)
        self.orgs.setdefault(node.id, {})[key] = org
        return org

    def person(
        self,
        registered: Node,
        organisation: PlanOrg | None,
        *,
        party: bool | None = None,
        name: str | None = None,
        mobile: str | None = None,
        username: str | None = None,
    ) -> PlanPerson:
        rng = self.rng
        index = len(self.plan.people)
        if party is None:
            party = rng.random() < 0.3
        if party:
            status = (
                PoliticalStatus.PROBATIONARY
                if rng.random() < 0.05
                else PoliticalStatus.PARTY_MEMBER
            )
        else:
            status = rng.choices(
                [
                    PoliticalStatus.MASSES,
                    PoliticalStatus.LEAGUE_MEMBER,
                    PoliticalStatus.NON_PARTISAN,
                ],
                [80, 15, 5],
            )[0]
        drawn = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2, 2))))
        # A staff mobile from the person's index: 48271 is prime to 10**8, so no two
        # indexes give the same last eight digits.
        staff_mobile = f"{rng.choice(STAFF_PREFIXES)}{(index * 48271 + 1_000_003) % 10**8:08d}"
        person = PlanPerson(
            index=index,
            name=name or drawn,
            mobile=mobile or staff_mobile,
            id_number=self.id_number(registered.region),
            political_status=status,
            registered=registered,
            organisation=organisation,
            username=username,
        )
        self.plan.people.append(person)
        return person

    def id_number(self, region: str) -> str:
        """A valid resident identity number: region, birth date, sequence, check digit."""
        rng = self.rng
        while True:
            birth = datetime.date(1962, 1, 1) + datetime.timedelta(days=rng.randrange(40 * 365))
            first17 = f"{region}{birth:%Y%m%d}{rng.randrange(1000):03d}"
            number = first17 + id_check_digit(first17)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def assign(
        self,
        person: PlanPerson,
        grid: Node,
        role: str,
        axis: str = Axis.TERRITORIAL,
        *,
        start: datetime.date | None = None,
        end: datetime.date | None = None,
        sent_down: bool = False,
    ) -> None:
        self.plan.assignments.append(
            PlanAssignment(person, grid, role, axis, start or self.assigned, end, sent_down)
        )

    def claim(self, person: PlanPerson, grid: Node, post_type: str, after: datetime.date) -> None:
        """A pioneer post claimed a few days after the person started (party members only)."""
        if person.is_party_member:
            day = min(after + datetime.timedelta(days=self.rng.randrange(1, 10)), self.today)
            self.plan.claims.append(PlanClaim(person, grid, post_type, day))

    def lead(
        self,
        grid: Node,
        chief: PlanPerson,
        leader: PlanPerson | None,
        axis: str = Axis.TERRITORIAL,
    ) -> None:
        """The grid's chief and its 包保 leader."""
        self.assign(chief, grid, "grid_chief", axis)
        self.chief[grid.id] = chief
        if leader is not None:
            self.assign(leader, grid, "baobao_leader")
            self.leader[grid.id] = leader

    def upper_chief(self, grid: Node) -> PlanPerson | None:
        """The chief of the grid's ancestor at its level minus one: who may 包保 it
        (personnel.rules; for a work unit, at its parent's level, that is its grandparent)."""
        level = grid.level - 1
        if level < 1:
            return None
        return self.chief.get(self.by_code[grid.codes[level - 1]].id)

    def county_of(self, node: Node) -> Node | None:
        """The county a grid lies in; None for the city and the city's own work units."""
        codes = node.codes
        county = self.by_code[codes[1]] if len(codes) > 1 else None
        return county if county is not None and county.territorial else None

    # -- levels --

    def build(self) -> Plan:
        builders = {
            Level.CITY: self.city,
            Level.COUNTY: self.county,
            Level.TOWNSHIP: self.township,
            Level.VILLAGE: self.village,
            Level.HAMLET: self.hamlet,
        }
        for node in self.nodes:
            if not node.territorial:
                continue
            if node.level == Level.HAMLET and not node.path.startswith(self.hamlets_under):
                continue
            builders[node.level](node)
        # Work units once the territory is built: their 包保 leaders come from it.
        for node in self.nodes:
            if not node.territorial:
                self.unit(node)
        return self.plan

    def upper_team(self, node: Node, *, chief_org, staff_org, health, police, unit, volunteers):
        """The team of a city, county or township grid."""
        self.lead(node, self.person(node, chief_org, party=True), self.upper_chief(node))
        staff = self.person(node, staff_org, party=True, username=WORKER_ACCOUNT_PREFIX + node.code)
        self.assign(staff, node, "full_time_worker")
        self.assign(self.person(node, health), node, "doctor", Axis.DEPARTMENT)
        self.assign(self.person(node, police), node, "police", Axis.DEPARTMENT)
        self.assign(self.person(node, unit), node, "part_time_worker", Axis.UNIT)
        self.assign(self.person(node, volunteers), node, "volunteer", Axis.INDIVIDUAL)

    def city(self, node: Node) -> None:
        name = node.name
        party = self.org(node, "party", f"中共{name}委员会", Org.ORGAN)
        gov = self.org(node, "gov", f"{name}人民政府", Org.ORGAN)
        hq = self.org(node, "hq", f"{name}新冠肺炎疫情防控指挥部", Org.ORGAN, gov)
        health = self.org(node, "health", f"{name}卫生健康委员会", Org.HEALTH, gov)
        police = self.org(node, "police", f"{name}公安局", Org.PUBLIC_SECURITY, gov)
        self.org(node, "market", f"{name}市场监督管理局", Org.MARKET_SUPERVISION, gov)
        self.org(node, "transport", f"{name}交通运输局", Org.TRANSPORT, gov)
        volunteers = self.org(node, "volunteers", f"{name}志愿者协会", Org.VOLUNTEER)
        company = self.org(node, "company", f"{name}城市建设投资集团有限公司", Org.ENTERPRISE)
        self.upper_team(
            node,
            chief_org=party,
            staff_org=hq,
            health=health,
            police=police,
            unit=company,
            volunteers=volunteers,
        )

    def county(self, node: Node) -> None:
        up = self.orgs[node.parent.id]
        name = node.name
        party = self.org(node, "party", f"中共{name}委员会", Org.ORGAN, up["party"])
        gov = self.org(node, "gov", f"{name}人民政府", Org.ORGAN, up["gov"])
        health = self.org(node, "health", f"{name}卫生健康局", Org.HEALTH, up["health"])
        police = self.org(node, "police", f"{name}公安局", Org.PUBLIC_SECURITY, up["police"])
        self.org(node, "transport", f"{name}交通运输局", Org.TRANSPORT, up["transport"])
        market_bureau = f"{name}市场监督管理局"
        self.org(node, "market", market_bureau, Org.MARKET_SUPERVISION, up["market"])
        volunteers = self.org(
            node, "volunteers", f"{name}志愿者协会", Org.VOLUNTEER, up["volunteers"]
        )
        unit = gov
        for child in node.children:  # the county's own work units
            if child.code.endswith("-PARK"):
                unit = self.org(node, "park", f"{child.name}管理委员会", Org.ORGAN, gov, child)
            elif child.code.endswith("-HOSP"):
                self.org(node, "hospital", child.name, Org.HEALTH, health, child)
        self.upper_team(
            node,
            chief_org=party,
            staff_org=gov,
            health=health,
            police=police,
            unit=unit,
            volunteers=volunteers,
        )

    def township(self, node: Node) -> None:
        up = self.orgs[node.parent.id]
        name = node.name
        street = name.endswith("街道")
        party_name = f"中共{name}工作委员会" if street else f"中共{name}委员会"
        party = self.org(node, "party", party_name, Org.ORGAN, up["party"])
        gov = self.org(
            node, "gov", f"{name}办事处" if street else f"{name}人民政府", Org.ORGAN, up["gov"]
        )
        clinic = f"{name}社区卫生服务中心" if street else f"{name}卫生院"
        health = self.org(node, "health", clinic, Org.HEALTH, up["health"])
        police = self.org(node, "police", f"{name}派出所", Org.PUBLIC_SECURITY, up["police"])
        coop = self.org(node, "coop", f"{name}供销合作社", Org.ENTERPRISE)
        for child in node.children:
            if child.code.endswith("-SCH"):
                self.org(node, f"unit-{child.code}", child.name, Org.SCHOOL, None, child)
            elif child.code.endswith("-MKT"):
                self.org(node, f"unit-{child.code}", child.name, Org.ENTERPRISE, None, child)
        self.upper_team(
            node,
            chief_org=party,
            staff_org=gov,
            health=health,
            police=police,
            unit=coop,
            volunteers=up["volunteers"],
        )
        # Every other township has a county cadre sent down to its command staff.
        if self.township_index % 2 == 1:
            cadre = self.person(node.parent, up["gov"], party=True)
            self.assign(
                cadre,
                node,
                "full_time_worker",
                Axis.DEPARTMENT,
                start=self.sent_down_on,
                sent_down=True,
            )
        self.township_index += 1
        self.police_officers = []
        self.villages_in_township = 0

    def village(self, node: Node) -> None:
        rng = self.rng
        index = self.village_index
        self.village_index += 1
        in_township = self.villages_in_township
        self.villages_in_township += 1
        town = node.parent
        town_orgs = self.orgs[town.id]
        county = self.county_of(node)
        county_orgs = self.orgs[county.id]
        name = node.name
        community = name.endswith("社区")
        committee_name = f"{name}居民委员会" if community else f"{name}民委员会"
        committee = self.org(node, "committee", committee_name, Org.COMMUNITY)
        unit_name = f"{name}物业服务中心" if community else f"{name}农民专业合作社"
        unit = self.org(node, "unit", unit_name, Org.ENTERPRISE)

        # The village party secretary; every fifth village is 包保'd by the county's chief
        # in person (挂点), who 包保s the township; the others by the township's chief.
        secretary = self.person(node, committee, party=True)
        leader = self.leader.get(town.id) if index % 5 == 2 else self.chief.get(town.id)
        self.lead(node, secretary, leader)

        # Three full-time workers: two of the village committee (the first with an account
        # that writes the demo checks) and a cadre sent down from a county organ.
        workers = [
            self.person(node, committee, username=WORKER_ACCOUNT_PREFIX + node.code),
            self.person(node, committee),
        ]
        for worker in workers:
            self.assign(worker, node, "full_time_worker")
        organ = county_orgs[rng.choice(("gov", "health", "transport", "market", "party"))]
        cadre = self.person(county, organ, party=rng.random() < 0.8)
        self.assign(
            cadre,
            node,
            "full_time_worker",
            Axis.DEPARTMENT,
            start=self.sent_down_on,
            sent_down=True,
        )
        self.claim(cadre, node, "order_maintenance", self.sent_down_on)

        # The village doctor, missing in a few villages (in half of them the doctor left a
        # few days ago: the staffing counts only assignments active today).
        doctor = self.person(town, town_orgs["health"])
        if index % 9 == 4:
            if index % 2 == 0:
                left = self.today - datetime.timedelta(days=LEFT_DAYS_AGO)
                self.assign(doctor, node, "doctor", Axis.DEPARTMENT, end=left)
            doctor = None
        else:
            self.assign(doctor, node, "doctor", Axis.DEPARTMENT)
            self.claim(doctor, node, "medical_aid", self.assigned)
        self.village_doctor = doctor

        # A community police officer serves two neighbouring villages; a few have none.
        slot = in_township // 2
        while len(self.police_officers) <= slot:
            self.police_officers.append(self.person(town, town_orgs["police"]))
        if index % 13 != 7:
            self.assign(self.police_officers[slot], node, "police", Axis.DEPARTMENT)

        self.assign(self.person(node, unit), node, "part_time_worker", Axis.UNIT)
        volunteer = self.person(node, county_orgs["volunteers"])
        self.assign(volunteer, node, "volunteer", Axis.INDIVIDUAL)
        if rng.random() < 0.4:
            self.assign(self.person(node, None), node, "gentry", Axis.INDIVIDUAL)
        self.village_workers = workers

    def hamlet(self, node: Node) -> None:
        rng = self.rng
        index = self.hamlet_index
        self.hamlet_index += 1
        village = node.parent
        committee = self.orgs[village.id]["committee"]
        county_orgs = self.orgs[self.county_of(node).id]

        # The hamlet group leader (屯长/组长) is its chief; a few hamlets have no 包保 leader.
        party = rng.random() < 0.7
        head = self.person(node, committee, party=party)
        self.lead(node, head, None if index % 16 == 9 else self.chief.get(village.id))
        member = head if party else self.person(node, committee, party=True)
        self.assign(member, node, "party_member", Axis.INDIVIDUAL)
        if rng.random() < 0.4:
            post = rng.choice(
                ("order_maintenance", "convenience_services", "psychological_counselling")
            )
            self.claim(member, node, post, self.assigned)

        workers = self.village_workers
        self.assign(workers[index % len(workers)], node, "full_time_worker")
        username = GRIDWORKER if node.code == self.gridworker_hamlet else None
        self.assign(self.person(node, None, username=username), node, "part_time_worker")

        if index % 19 != 11:  # a few hamlets have no volunteer
            if rng.random() < 0.25:
                organ = county_orgs[rng.choice(("gov", "health", "transport", "market"))]
                cadre = self.person(self.county_of(node), organ, party=rng.random() < 0.8)
                self.assign(
                    cadre,
                    node,
                    "volunteer",
                    Axis.DEPARTMENT,
                    start=self.sent_down_on,
                    sent_down=True,
                )
                self.claim(cadre, node, "order_maintenance", self.sent_down_on)
            else:
                volunteer = self.person(node, county_orgs["volunteers"])
                self.assign(volunteer, node, "volunteer", Axis.UNIT)

        # Household heads as people: the first household's represents the hamlet, and the
        # first household's of each ten-household group leads it (联户长), one person
        # when that is the same household.
        heads: dict[str, PlanPerson] = {}

        def head_person(head: Head | None) -> PlanPerson:
            if head is None:
                return self.person(node, None)
            if head.code not in heads:
                heads[head.code] = self.person(node, None, name=head.name, mobile=head.phone)
            return heads[head.code]

        head = self.heads.get(node.id)
        if head is not None:
            representative = head_person(head)
            self.assign(representative, node, "household_representative", Axis.INDIVIDUAL)
        for group_id, group_head in self.groups.get(node.id, []):
            leader = head_person(group_head)
            self.assign(leader, node, "household_group_leader", Axis.INDIVIDUAL)
            self.plan.group_leaders.append((group_id, leader))
        if self.village_doctor is not None:  # the village doctor serves every hamlet
            self.assign(self.village_doctor, node, "doctor", Axis.DEPARTMENT)

    def unit(self, node: Node) -> None:
        """A work-unit or dedicated grid: its head, staff, a police officer, a volunteer."""
        parent = node.parent
        up = self.orgs[parent.id]
        county = self.county_of(node)
        volunteers = (self.orgs[county.id] if county else up)["volunteers"]
        own = next((o for o in up.values() if o.home is node), None)
        if own is None and node.code.endswith("-QH"):
            own = self.org(parent, f"unit-{node.code}", node.name, Org.OTHER, up["health"], node)
        if own is None:  # a border checkpoint: run by the police station
            own = up["police"]
        self.lead(node, self.person(parent, own, party=True), self.upper_chief(node), Axis.UNIT)
        self.assign(self.person(parent, own), node, "full_time_worker", Axis.UNIT)
        if node.code.endswith("-BCP"):
            transport = self.orgs[county.id]["transport"]
            self.assign(self.person(county, transport), node, "part_time_worker", Axis.DEPARTMENT)
        else:
            self.assign(self.person(parent, own), node, "part_time_worker", Axis.UNIT)
        self.assign(self.person(parent, up["police"]), node, "police", Axis.DEPARTMENT)
        self.assign(self.person(parent, volunteers), node, "volunteer", Axis.INDIVIDUAL)


@dataclass(frozen=True)
class Head:
    """The head of a household, who becomes a person on the hamlet's team."""

    code: str  # the household's
    name: str
    phone: str


def first_household_heads(hamlets: list[Node]) -> dict[int, Head]:
    """The head of each hamlet's first household (its code is the hamlet's plus 0001), who
    becomes the hamlet's household representative."""
    codes = {f"{h.code}0001": h.id for h in hamlets}
    heads = {}
    keys = sorted(codes)
    for start in range(0, len(keys), BATCH):
        rows = Household.objects.filter(code__in=keys[start : start + BATCH]).values_list(
            "code", "head_name", "phone"
        )
        for code, name, phone in rows:
            if name and phone:
                heads[codes[code]] = Head(code, name, phone)
    return heads


def group_heads(hamlets: list[Node]) -> dict[int, list[tuple[int, Head | None]]]:
    """The ten-household groups of the hamlets, in code order, each with the head of its
    first household (who leads it), or None for a group without households."""
    hamlet_ids = [h.id for h in hamlets]
    groups: dict[int, list[tuple[int, Head | None]]] = {}
    firsts: dict[int, str] = {}
    for start in range(0, len(hamlet_ids), BATCH):
        chunk = hamlet_ids[start : start + BATCH]
        rows = (
            TenHouseholdGroup.objects.filter(hamlet_id__in=chunk, leader__isnull=True)
            .order_by("code")
            .values_list("id", "hamlet_id")
        )
        for group_id, hamlet_id in rows:
            groups.setdefault(hamlet_id, []).append((group_id, None))
        firsts.update(
            Household.objects.filter(group__hamlet_id__in=chunk)
            .order_by()
            .values("group_id")
            .annotate(first=Min("code"))
            .values_list("group_id", "first")
        )
    heads: dict[str, Head] = {}
    codes = sorted(firsts.values())
    for start in range(0, len(codes), BATCH):
        for code, name, phone in Household.objects.filter(
            code__in=codes[start : start + BATCH]
        ).values_list("code", "head_name", "phone"):
            if name and phone:
                heads[code] = Head(code, name, phone)
    return {
        hamlet_id: [(group_id, heads.get(firsts.get(group_id, ""))) for group_id, _ in rows]
        for hamlet_id, rows in groups.items()
    }


def build_people(
    nodes: list[Node],
    today: datetime.date,
    gridworker_hamlet: str | None,
    hamlets_under: str = "",
) -> Plan:
    hamlets = [
        n
        for n in nodes
        if n.level == Level.HAMLET and n.territorial and n.path.startswith(hamlets_under)
    ]
    return Builder(
        nodes,
        today,
        heads=first_household_heads(hamlets),
        groups=group_heads(hamlets),
        gridworker_hamlet=gridworker_hamlet,
        hamlets_under=hamlets_under,
    ).build()


# --- Checking and writing -----------------------------------------------------------------------


def plan_facts(plan: Plan, roles: dict[str, Role]) -> list[AssignmentFacts]:
    return [
        AssignmentFacts(
            person_key=f"demo-{a.person.index}",
            grid_code=a.grid.code,
            grid_path=a.grid.path,
            grid_level=a.grid.level,
            role_code=a.role,
            is_grid_chief=roles[a.role].is_grid_chief,
            is_baobao_leader=roles[a.role].is_baobao_leader,
            start_date=a.start,
            end_date=a.end,
        )
        for a in plan.assignments
    ]


def check_rules(plan: Plan, nodes: list[Node], roles: dict[str, Role]) -> None:
    """Every planned assignment against the others and against what is stored on the demo
    grids (normally nothing): the rules the services and the importer keep."""
    new = plan_facts(plan, roles)
    stored = assignment_facts_for(grid_ids=[n.id for n in nodes])
    problems = check_assignments(new, stored)
    if problems:
        first = [
            f"{new[i].grid_code} {new[i].role_code}: {p.text}"
            for i, found in list(problems.items())[:3]
            for p in found[:1]
        ]
        raise DemoPeopleConflict(
            f"{len(problems):,} demo assignments break the assignment rules together with what "
            f"is stored, e.g. {'; '.join(first)}. Seed into a fresh database."
        )


def seed_people(
    *,
    scale: str = "small",
    log: Callable[[str], None] = lambda message: None,
    today: datetime.date | None = None,
) -> dict:
    """Write the demo people over the demo tree; a second run writes nothing.

    At the baise scale only Debao's hamlets get teams (everything above the hamlets gets
    its people everywhere): all 20,000 hamlet teams would add about 150,000 people and
    assignments, most of a minute to write, for pages nobody browses at that scale."""
    started = time.perf_counter()
    today = today or local_today()
    nodes = load_nodes()
    summary = {"written": False, "people": 0, "assignments": 0}
    if not nodes:
        log("No demo tree: no demo people.")
        return summary
    gridworker = User.objects.filter(username=GRIDWORKER).select_related("jurisdiction").first()
    hamlet = gridworker.jurisdiction.code if gridworker and gridworker.jurisdiction else None
    plan = build_people(nodes, today, hamlet, HAMLET_TEAMS_UNDER[scale])
    summary.update(people=len(plan.people), assignments=len(plan.assignments))
    sample = [p.id_number for p in plan.people[:100]]
    if Person.objects.filter(id_number__in=sample).exists():
        log("The demo people are already present; left as they are.")
        return summary
    roles = {r.code: r for r in Role.objects.all()}
    check_rules(plan, nodes, roles)
    with transaction.atomic():
        write_organisations(plan)
        users = write_accounts(plan)
        write_people(plan, users)
        write_assignments(plan, roles)
        write_claims(plan)
        write_group_leaders(plan)
    summary["written"] = True
    log(
        f"People: {len(plan.people):,}, {len(plan.orgs):,} organisations, "
        f"{len(plan.assignments):,} assignments, {len(plan.claims):,} pioneer posts "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return summary


def write_organisations(plan: Plan) -> None:
    by_tier: dict[int, list[PlanOrg]] = {}
    for org in plan.orgs:
        by_tier.setdefault(org.tier, []).append(org)
    for tier in sorted(by_tier):
        batch = by_tier[tier]
        created = Organisation.objects.bulk_create(
            [
                Organisation(
                    name=org.name,
                    type=org.type,
                    parent_id=org.parent.pk if org.parent else None,
                    home_grid_id=org.home.id if org.home else None,
                    registered_grid_id=org.registered.id,
                )
                for org in batch
            ],
            batch_size=BATCH,
        )
        for org, row in zip(batch, created, strict=True):
            org.pk = row.pk


def write_accounts(plan: Plan) -> dict[str, int]:
    """Accounts for the people who write the demo checks: {username: user id}. Existing
    accounts are reused; new ones have no usable password (nobody logs in as them)."""
    wanted = {p.username: p for p in plan.people if p.username}
    users = dict(User.objects.filter(username__in=wanted).values_list("username", "pk"))
    missing = [p for name, p in wanted.items() if name not in users]
    created = User.objects.bulk_create(
        [
            User(username=p.username, password=make_password(None), jurisdiction_id=p.registered.id)
            for p in missing
        ],
        batch_size=BATCH,
    )
    group, _ = Group.objects.get_or_create(name=UserRole.GRID_WORKER.value)
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=u.pk, group_id=group.pk) for u in created],
        batch_size=BATCH,
    )
    users.update((u.username, u.pk) for u in created)
    # An account already linked to a person (linked by hand) keeps that person.
    taken = set(Person.objects.filter(user_id__in=users.values()).values_list("user_id", flat=True))
    return {name: pk for name, pk in users.items() if pk not in taken}


def write_people(plan: Plan, users: dict[str, int]) -> None:
    now = timezone.now()
    ids = insert_rows(
        Person,
        [
            {
                "name": p.name,
                "mobile": p.mobile,
                "id_number": p.id_number,
                "political_status": p.political_status,
                "organisation_id": p.organisation.pk if p.organisation else None,
                "user_id": users.get(p.username) if p.username else None,
                "registered_grid_id": p.registered.id,
                "created_at": now,
                "updated_at": now,
            }
            for p in plan.people
        ],
        returning=True,
    )
    for person, pk in zip(plan.people, ids, strict=True):
        person.pk = pk


def write_assignments(plan: Plan, roles: dict[str, Role]) -> None:
    now = timezone.now()
    insert_rows(
        Assignment,
        [
            {
                "person_id": a.person.pk,
                "grid_id": a.grid.id,
                "role_id": roles[a.role].pk,
                "axis": a.axis,
                "start_date": a.start,
                "end_date": a.end,
                "sent_down": a.sent_down,
                "created_at": now,
                "updated_at": now,
            }
            for a in plan.assignments
        ],
    )


def write_claims(plan: Plan) -> None:
    post_types = dict(PostType.objects.values_list("code", "pk"))
    insert_rows(
        PostClaim,
        [
            {
                "person_id": c.person.pk,
                "grid_id": c.grid.id,
                "post_type_id": post_types[c.post_type],
                "claimed_on": c.claimed_on,
                "released_on": None,
            }
            for c in plan.claims
            if c.post_type in post_types
        ],
    )


def write_group_leaders(plan: Plan) -> None:
    """Name each group's 联户长 (only groups that had none: see group_heads)."""
    TenHouseholdGroup.objects.bulk_update(
        [TenHouseholdGroup(pk=group_id, leader_id=p.pk) for group_id, p in plan.group_leaders],
        ["leader"],
        batch_size=500,
    )


# --- Plain inserts -------------------------------------------------------------------------------


def converter(f: models.Field, conn):
    """The field's own conversion of a value for the database, remembered per value (the
    rows share their dates and times of writing); None when values pass as they are."""
    if not isinstance(f, CONVERTED):
        return None
    if isinstance(f, models.JSONField):
        return lambda value: f.get_db_prep_save(value, conn)
    seen = {}

    def convert(value):
        if value not in seen:
            seen[value] = f.get_db_prep_save(value, conn)
        return seen[value]

    return convert


def insert_rows(model, rows: list[dict], *, returning: bool = False) -> list[int]:
    """Insert rows given as {attname: value} with plain multi-row INSERTs; with returning,
    the new ids in the order of the rows. bulk_create builds a model instance and compiles
    every value of every row, which made the baise scale's people take most of a minute;
    here only the values that need it (uuids, dates, JSON) go through their field's own
    conversion. Auto-now fields get no value here: the rows must carry them. The ids come
    back in row order, as bulk_create also relies on (PostgreSQL, SQLite >= 3.35)."""
    if not rows:
        return []
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    conn = connections[DEFAULT_DB_ALIAS]  # the connection itself: the proxy costs a lookup a call
    convert = [(f.attname, converter(f, conn)) for f in fields]
    values = [
        [row[name] if prep is None else prep(row[name]) for name, prep in convert] for row in rows
    ]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    table = qn(model._meta.db_table)
    suffix = f" RETURNING {qn(model._meta.pk.column)}" if returning else ""
    ids: list[int] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            from psycopg2.extras import execute_values

            found = execute_values(
                cursor.cursor,
                f"INSERT INTO {table} ({columns}) VALUES %s{suffix}",
                values,
                page_size=BATCH,
                fetch=returning,
            )
            return [row[0] for row in found or []]
        # SQLite: as many rows a statement as its 32,766 parameters allow.
        per = max(1, 32_000 // len(fields))
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for start in range(0, len(values), per):
            chunk = values[start : start + per]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))}{suffix}",
                [value for row in chunk for value in row],
            )
            if returning:
                ids.extend(row[0] for row in cursor.fetchall())
    return ids
