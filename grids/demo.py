"""Demo data: Baise city (百色市) with its 12 real county-level divisions, generated
townships, villages, hamlets and households, and one demo user per role.

Two scales: `small` (a few hundred nodes, for tests and `make run`) and `baise` (the real
size: ~135 townships, ~1,800 villages, ~20,000 hamlets, ~1,000,000 households, for the
benchmarks). Everything below the counties is generated from a fixed random seed, so a
scale always produces the same tree.

The tree is written with bulk inserts rather than through grids.services: the services
validate one row at a time, which is far too slow for 22,000 nodes. The generator builds
codes, levels, paths and boundaries that obey grids.rules by construction, and
tests/test_seed_demo.py runs every rule over the small scale to keep it honest.
Boundaries are rectangles that tile their parent exactly (siblings share edges and never
overlap); a rectangle's representative point is its centre, which is what shapely's
representative_point() returns for it, so no per-node shapely call is needed.
"""

from __future__ import annotations

import io
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from accounts.services import user_create

from .models import Category, GridNode, Household, Kind, Level, TenHouseholdGroup
from .services import node_path

SEED = 2020
CITY_CODE = "451000000000"
CITY_NAME = "百色市"
# Baise's real extent (WGS 84): the city rectangle the counties subdivide.
CITY_RECT = (104.5, 22.8, 107.9, 25.1)
DEMO_PASSWORD = "gridcmd-demo"
NODE_BATCH = 2000
HOUSEHOLD_BATCH = 100_000  # rows per COPY chunk (PostgreSQL)
HOUSEHOLD_BULK_BATCH = 2_000  # rows per INSERT (the SQLite fallback)


@dataclass(frozen=True)
class County:
    code6: str
    name: str
    townships: int  # township-level divisions at the baise scale (total 135)
    urban: bool  # a district or county-level city: its first townships are 街道
    row: int  # position in a 3 x 4 layout of the city rectangle, north to south
    col: int  # west to east
    border: str  # "all": the whole county is border; "south": its southern townships


# The 12 real county-level divisions, laid out roughly where they lie: Napo, Jingxi and
# Debao along the Vietnam border in the south.
COUNTIES = [
    County("451002", "右江区", 9, True, 1, 1, ""),
    County("451003", "田阳区", 10, True, 1, 2, ""),
    County("451022", "田东县", 10, False, 1, 3, ""),
    County("451024", "德保县", 12, False, 2, 2, "south"),
    County("451026", "那坡县", 9, False, 2, 0, "all"),
    County("451027", "凌云县", 8, False, 0, 3, ""),
    County("451028", "乐业县", 8, False, 0, 2, ""),
    County("451029", "田林县", 14, False, 1, 0, ""),
    County("451030", "西林县", 8, False, 0, 0, ""),
    County("451031", "隆林各族自治县", 16, False, 0, 1, ""),
    County("451081", "靖西市", 19, True, 2, 1, "all"),
    County("451082", "平果市", 12, True, 2, 3, ""),
]


@dataclass(frozen=True)
class Scale:
    name: str
    townships: Callable[[County], int]
    villages: tuple[int, int]  # per township, inclusive range
    hamlets: tuple[int, int]  # per village
    households: tuple[int, int]  # per hamlet
    park_households: int  # staff dormitories in each county's industrial park (a unit grid)
    group_every: int  # every n-th hamlet of a village (from the first) has ten-household groups


SCALES = {
    "small": Scale("small", lambda county: 2, (3, 3), (3, 3), (10, 10), 6, 3),
    "baise": Scale("baise", lambda county: county.townships, (10, 17), (8, 14), (35, 65), 150, 10),
}

# Syllables of Zhuang place names as written in Chinese (那 = rice field, 弄 = valley, ...).
SYLLABLES = (
    "那百弄坡龙平定古板都巴六安德果念者央足马伏甘江东南新上下中大仁和福兴隆清凤云林洞岩峒排伦"
    "驮渠陇塘桥坤敬孟吞朔化荣逻旺达陇禄岜拉怀鉴渌湖城壮乐利"
)
SIZE_WEIGHTS = [10, 18, 22, 22, 14, 8, 4, 2]  # household sizes 1..8, mean about 3.6
MOBILE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 155 156 157 158 159 "
    "166 177 180 181 182 183 185 186 187 188 189 191 198 199"
).split()

Rect = tuple[float, float, float, float]


@dataclass(eq=False)
class PlanNode:
    code: str
    name: str
    level: int
    parent: PlanNode | None
    category: str = Category.NON_BORDER
    kind: str = Kind.CELL
    rect: Rect | None = None
    address: str = ""  # prefix of household addresses under this node
    sizes: list[int] = field(default_factory=list)  # household sizes, for household-bearing leaves
    groups: int = 0  # ten-household groups (hamlets only)
    expected_households: int = 0
    expected_population: int = 0
    path: str = ""
    pk: int | None = None

    @property
    def depth(self) -> int:
        return self.path.count("/") - 1


@dataclass
class Plan:
    scale: str
    nodes: list[PlanNode]  # parents before children

    def node(self, code: str) -> PlanNode:
        return next(n for n in self.nodes if n.code == code)

    @property
    def household_count(self) -> int:
        return sum(len(n.sizes) for n in self.nodes)


# --- Geometry ----------------------------------------------------------------------------


def edges(lo: float, hi: float, k: int) -> list[float]:
    """k + 1 rounded edges from lo to hi; the ends are kept exactly."""
    return [lo] + [round(lo + (hi - lo) * i / k, 6) for i in range(1, k)] + [hi]


def split_rect(rect: Rect, n: int) -> list[Rect]:
    """Tile a rectangle with n near-square cells, north-west first; the last row's cells
    widen to fill it. Edges are computed once per row and rounded, so neighbours share
    them exactly and every cell lies inside the parent."""
    minx, miny, maxx, maxy = rect
    w, h = maxx - minx, maxy - miny
    cols = min(n, max(1, round(math.sqrt(n * w / h))))
    rows = math.ceil(n / cols)
    ys = edges(maxy, miny, rows)  # north to south
    cells = []
    for r in range(rows):
        in_row = cols if r < rows - 1 else n - cols * (rows - 1)
        xs = edges(minx, maxx, in_row)
        cells += [(xs[c], ys[r + 1], xs[c + 1], ys[r]) for c in range(in_row)]
    return cells


def small_square(rect: Rect, fx: float, fy: float) -> Rect:
    """A facility's footprint: a small square at a fraction (fx, fy) of the parent."""
    minx, miny, maxx, maxy = rect
    side = min(maxx - minx, maxy - miny) * 0.06
    x, y = minx + (maxx - minx) * fx, miny + (maxy - miny) * fy
    return (round(x, 6), round(y, 6), round(x + side, 6), round(y + side, 6))


def rect_polygon(rect: Rect) -> dict:
    minx, miny, maxx, maxy = rect
    return {
        "type": "Polygon",
        "coordinates": [[[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]],
    }


def rect_point(rect: Rect) -> tuple[float, float]:
    """shapely's representative_point() of a rectangle is its centre."""
    minx, miny, maxx, maxy = rect
    return ((minx + maxx) / 2, (miny + maxy) / 2)


# --- The plan ----------------------------------------------------------------------------


class Names:
    """Place names unique among siblings, from two Zhuang syllables."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def unique(self, count: int, suffix: str, taken: set[str] | None = None) -> list[str]:
        taken = set(taken or ())
        names = []
        while len(names) < count:
            name = self.rng.choice(SYLLABLES) + self.rng.choice(SYLLABLES)
            if name[0] != name[1] and name not in taken:
                taken.add(name)
                names.append(name + suffix)
        return names


def build_plan(scale_name: str) -> Plan:
    scale = SCALES[scale_name]
    rng = random.Random(f"{SEED}-{scale_name}")
    names = Names(rng)
    city = PlanNode(CITY_CODE, CITY_NAME, Level.CITY, None, rect=CITY_RECT, address=CITY_NAME)
    nodes = [city]
    county_xs = edges(CITY_RECT[0], CITY_RECT[2], 4)  # west to east
    county_ys = edges(CITY_RECT[3], CITY_RECT[1], 3)  # north to south

    def add(node: PlanNode) -> PlanNode:
        nodes.append(node)
        return node

    def unit(
        parent: PlanNode,
        suffix: str,
        name: str,
        *,
        kind=Kind.DEDICATED,
        category=Category.UNIT,
        at=(0.45, 0.45),
    ):
        return add(
            PlanNode(
                f"{parent.code}-{suffix}",
                name,
                parent.level,
                parent,
                category,
                kind,
                small_square(parent.rect, *at),
            )
        )

    unit(city, "QH", "百色市集中隔离酒店")
    for county in COUNTIES:
        rect = (
            county_xs[county.col],
            county_ys[county.row + 1],
            county_xs[county.col + 1],
            county_ys[county.row],
        )
        category = Category.BORDER if county.border == "all" else Category.NON_BORDER
        cnode = add(
            PlanNode(
                f"{county.code6}000000",
                county.name,
                Level.COUNTY,
                city,
                category,
                rect=rect,
                address=county.name,
            )
        )
        short = county.name[:2]
        unit(
            cnode,
            "HOSP",
            f"{short}县人民医院" if county.name.endswith("县") else f"{county.name}人民医院",
            at=(0.3, 0.6),
        )
        park = unit(cnode, "PARK", f"{short}工业园区", kind=Kind.CELL, at=(0.6, 0.3))
        park.sizes = rng.choices(range(1, 9), SIZE_WEIGHTS, k=scale.park_households)
        park.address = f"{county.name}{park.name}职工宿舍"

        n_town = scale.townships(county)
        streets = (2 if n_town > 4 else 1) if county.urban else 0
        n_xiang = n_town // 5 if not county.urban else 0
        t_names = (
            names.unique(streets, "街道")
            + names.unique(n_town - streets - n_xiang, "镇")
            + names.unique(n_xiang, "乡")
        )
        t_suffixes = [f"{i + 1:03d}" for i in range(streets)]
        t_suffixes += [f"{100 + i:03d}" for i in range(n_town - streets - n_xiang)]
        t_suffixes += [f"{200 + i:03d}" for i in range(n_xiang)]
        for t_index, (t_suffix, t_name, t_rect) in enumerate(
            zip(t_suffixes, t_names, split_rect(rect, n_town), strict=True)
        ):
            on_border = county.border == "all" or (
                county.border == "south" and t_rect[1] == rect[1]
            )
            t_category = Category.BORDER if on_border else Category.NON_BORDER
            town = add(
                PlanNode(
                    f"{county.code6}{t_suffix}000",
                    t_name,
                    Level.TOWNSHIP,
                    cnode,
                    t_category,
                    rect=t_rect,
                    address=f"{county.name}{t_name}",
                )
            )
            if t_index == 0:
                unit(
                    town,
                    "SCH",
                    f"{t_name[:-1] if t_name.endswith(('镇', '乡')) else t_name}中心小学",
                    at=(0.2, 0.7),
                )
                unit(town, "MKT", f"{t_name}农贸市场", at=(0.7, 0.2))
            if on_border and t_rect[1] == rect[1] == CITY_RECT[1]:
                unit(town, "BCP", f"{t_name}边境卡点", category=Category.BORDER, at=(0.47, 0.02))
            n_vil = rng.randint(*scale.villages)
            # Under a 街道 the villages are communities (居委会, 0xx); elsewhere the seat is a
            # community and the rest are villages (村委会, 2xx), as in the real codes.
            communities = n_vil if t_suffix < "100" else 1
            v_names = names.unique(communities, "社区") + names.unique(n_vil - communities, "村")
            v_suffixes = [f"{i + 1:03d}" for i in range(communities)] + [
                f"{200 + i:03d}" for i in range(n_vil - communities)
            ]
            for v_suffix, v_name, v_rect in zip(
                v_suffixes, v_names, split_rect(t_rect, n_vil), strict=True
            ):
                village = add(
                    PlanNode(
                        f"{town.code[:9]}{v_suffix}",
                        v_name,
                        Level.VILLAGE,
                        town,
                        t_category,
                        rect=v_rect,
                        address=f"{town.address}{v_name}",
                    )
                )
                n_ham = rng.randint(*scale.hamlets)
                h_names = names.unique(n_ham, "屯" if v_name.endswith("村") else "组")
                for h_index, (h_name, h_rect) in enumerate(
                    zip(h_names, split_rect(v_rect, n_ham), strict=True)
                ):
                    hamlet = add(
                        PlanNode(
                            f"{village.code}{h_index + 1:03d}",
                            h_name,
                            Level.HAMLET,
                            village,
                            t_category,
                            rect=h_rect,
                            address=f"{village.address}{h_name}",
                        )
                    )
                    hamlet.sizes = rng.choices(
                        range(1, 9), SIZE_WEIGHTS, k=rng.randint(*scale.households)
                    )
                    if h_index % scale.group_every == 0:
                        hamlet.groups = max(1, round(len(hamlet.sizes) / 10))

    # Paths, then the expected figures summed upward (children come after their parents).
    for node in nodes:
        node.path = f"{node.parent.path if node.parent else '/'}{node.code}/"
    for node in reversed(nodes):
        node.expected_households += len(node.sizes)
        node.expected_population += sum(node.sizes)
        if node.parent is not None:
            node.parent.expected_households += node.expected_households
            node.parent.expected_population += node.expected_population
    return Plan(scale_name, nodes)


# --- Writing -----------------------------------------------------------------------------


class DemoDataConflict(Exception):
    """The city exists but is not this scale's demo tree."""


def seed_demo(*, scale: str = "small", log: Callable[[str], None] = lambda message: None) -> dict:
    """Write the demo tree, households and users; a second run changes nothing.

    Returns a summary: whether the tree was written, counts and timings."""
    started = time.perf_counter()
    plan = build_plan(scale)
    log(
        f"Planned {len(plan.nodes):,} grids and {plan.household_count:,} households ({time.perf_counter() - started:.1f}s)"
    )
    existing = set(
        GridNode.objects.filter(path__startswith=f"/{CITY_CODE}/").values_list("code", flat=True)
    )
    summary = {
        "scale": scale,
        "written": False,
        "grids": len(plan.nodes),
        "households": plan.household_count,
    }
    if existing:
        missing = [n.code for n in plan.nodes if n.code not in existing]
        if missing:
            raise DemoDataConflict(
                f"{CITY_NAME} ({CITY_CODE}) already exists but lacks {len(missing):,} grids of the '{scale}' demo "
                f"(e.g. {missing[0]}): it holds another scale or other data. Seed into a fresh database."
            )
        log(f"The '{scale}' demo tree is already present; grids and households left as they are.")
    else:
        with transaction.atomic():
            write_nodes(plan, log)
            groups = write_groups(plan, log)
            write_households(plan, groups, log)
            t0 = time.perf_counter()
        # PostgreSQL checks the (deferred) foreign keys of every inserted row at commit.
        log(f"Committed in {time.perf_counter() - t0:.1f}s")
        if connection.vendor == "postgresql":
            t0 = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE grids_gridnode, grids_household, grids_tenhouseholdgroup")
            log(f"Analyzed in {time.perf_counter() - t0:.1f}s")
        summary["written"] = True
    t0 = time.perf_counter()
    summary["users"] = ensure_demo_users(plan)
    log(f"Demo users in {time.perf_counter() - t0:.1f}s")
    summary["seconds"] = time.perf_counter() - started
    log(f"Done in {summary['seconds']:.1f}s")
    return summary


def write_nodes(plan: Plan, log) -> None:
    t0 = time.perf_counter()
    by_depth: dict[int, list[PlanNode]] = {}
    for node in plan.nodes:
        by_depth.setdefault(node.depth, []).append(node)
    for depth in sorted(by_depth):
        batch = by_depth[depth]
        rows = []
        for node in batch:
            point = rect_point(node.rect) if node.rect else (None, None)
            rows.append(
                GridNode(
                    code=node.code,
                    name=node.name,
                    level=node.level,
                    parent_id=node.parent.pk if node.parent else None,
                    category=node.category,
                    kind=node.kind,
                    expected_households=node.expected_households,
                    expected_population=node.expected_population,
                    boundary=rect_polygon(node.rect) if node.rect else None,
                    point_lng=point[0],
                    point_lat=point[1],
                    path=node_path(node.parent, node.code),  # the services' own path rule
                    depth=node.depth,
                )
            )
        created = GridNode.objects.bulk_create(rows, batch_size=NODE_BATCH)
        for node, row in zip(batch, created, strict=True):
            node.pk = row.pk
    log(f"Grids: {len(plan.nodes):,} in {time.perf_counter() - t0:.1f}s")


def group_code(hamlet: PlanNode, index: int) -> str:
    return f"{hamlet.code}-G{index + 1:02d}"


def write_groups(plan: Plan, log) -> dict[str, int]:
    t0 = time.perf_counter()
    rows = [
        TenHouseholdGroup(
            code=group_code(n, i), name=f"{n.name}十户联防第{i + 1}组", hamlet_id=n.pk
        )
        for n in plan.nodes
        for i in range(n.groups)
    ]
    created = TenHouseholdGroup.objects.bulk_create(rows, batch_size=NODE_BATCH)
    log(f"Ten-household groups: {len(created):,} in {time.perf_counter() - t0:.1f}s")
    return {g.code: g.pk for g in created}


def household_rows(plan: Plan, groups: dict[str, int], names: list[str]) -> Iterator[tuple]:
    """(code, grid_id, group_id, address, head_name, phone, size) for every household."""
    rng = random.Random(f"{SEED}-{plan.scale}-households")
    choice, randrange = rng.choice, rng.randrange
    for node in plan.nodes:
        if not node.sizes:
            continue
        per_group = len(node.sizes) // node.groups if node.groups else 0
        for i, size in enumerate(node.sizes):
            group_id = (
                groups[group_code(node, min(i // per_group, node.groups - 1))]
                if node.groups
                else None
            )
            # A hamlet's households extend its digits; a unit grid's code already has letters.
            code = f"{node.code}{i + 1:04d}" if node.code.isdigit() else f"{node.code}-{i + 1:04d}"
            phone = f"{choice(MOBILE_PREFIXES)}{randrange(100_000_000):08d}"
            yield code, node.pk, group_id, f"{node.address}{i + 1}号", choice(names), phone, size


def name_pool(size: int = 5000) -> list[str]:
    from faker import Faker

    faker = Faker("zh_CN")
    faker.seed_instance(SEED)
    return [faker.name() for _ in range(size)]


def write_households(plan: Plan, groups: dict[str, int], log) -> None:
    t0 = time.perf_counter()
    total = plan.household_count
    rows = household_rows(plan, groups, name_pool(min(5000, max(500, total // 4))))
    now = timezone.now()
    done = 0
    if connection.vendor == "postgresql":
        stamp = now.isoformat()
        null = r"\N"  # COPY's text format
        columns = "code, grid_id, group_id, address, head_name, phone, size, created_at, updated_at"
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg2's own cursor, for COPY
            while chunk := list(islice(rows, HOUSEHOLD_BATCH)):
                # No generated value holds a tab, newline or backslash: nothing to escape.
                text = "".join(
                    f"{code}\t{grid_id}\t{null if group_id is None else group_id}\t{address}\t{head}\t{phone}\t{size}\t{stamp}\t{stamp}\n"
                    for code, grid_id, group_id, address, head, phone, size in chunk
                )
                raw.copy_expert(f"COPY grids_household ({columns}) FROM STDIN", io.StringIO(text))
                done += len(chunk)
                log(f"Households: {done:,}/{total:,} ({time.perf_counter() - t0:.1f}s)")
    else:
        while chunk := list(islice(rows, HOUSEHOLD_BULK_BATCH)):
            Household.objects.bulk_create(
                Household(
                    code=code,
                    grid_id=grid_id,
                    group_id=group_id,
                    address=address,
                    head_name=head,
                    phone=phone,
                    size=size,
                    created_at=now,
                    updated_at=now,
                )
                for code, grid_id, group_id, address, head, phone, size in chunk
            )
            done += len(chunk)
            if done % 100_000 < HOUSEHOLD_BULK_BATCH:
                log(f"Households: {done:,}/{total:,} ({time.perf_counter() - t0:.1f}s)")
    log(f"Households: {done:,} in {time.perf_counter() - t0:.1f}s")


# --- Users -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str  # a Role value, or "superuser"
    jurisdiction: str | None  # a grid code


def demo_users(plan: Plan) -> list[DemoUser]:
    debao = plan.node("451024000000")
    first_hamlet = next(
        n
        for n in plan.nodes
        if n.level == Level.HAMLET and n.path.startswith(debao.path) and n.groups
    )
    return [
        DemoUser("admin", "superuser", None),
        DemoUser("baise_admin", Role.ADMINISTRATOR, CITY_CODE),
        DemoUser("baise_commander", Role.COMMANDER, CITY_CODE),
        DemoUser("debao_commander", Role.COMMANDER, debao.code),
        DemoUser("gridworker", Role.GRID_WORKER, first_hamlet.code),
    ]


def ensure_demo_users(plan: Plan) -> list[dict]:
    """Create the demo users that are missing; existing ones are left as they are."""
    users = []
    for demo in demo_users(plan):
        user = User.objects.filter(username=demo.username).select_related("jurisdiction").first()
        if user is None:
            jurisdiction = (
                GridNode.objects.get(code=demo.jurisdiction) if demo.jurisdiction else None
            )
            user = user_create(
                username=demo.username,
                password=DEMO_PASSWORD,
                jurisdiction=jurisdiction,
                roles=[] if demo.role == "superuser" else [demo.role],
                is_superuser=demo.role == "superuser",
            )
        jurisdiction = user.jurisdiction
        users.append(
            {
                "username": demo.username,
                "role": demo.role,
                "jurisdiction": f"{jurisdiction.name} ({jurisdiction.code})"
                if jurisdiction
                else "-",
            }
        )
    return users
