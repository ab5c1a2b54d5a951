"""Measure the grid tree's subtree, ancestor, children and rollup queries on the full-size
demo data (`seed_demo --scale baise`), on PostgreSQL, for the materialized path we use and
for the alternatives of docs/adr/0002-tree-storage.md. Prints a Markdown table of medians.

The alternatives are built as temporary tables (a closure table, ancestor columns) from the
paths, so nothing in the schema changes and they vanish with the session.
"""

import statistics
import time
from collections import defaultdict
from dataclasses import dataclass

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext

from grids.demo import CITY_CODE
from grids.models import GridNode, Household, Level

MIN_HOUSEHOLDS = 500_000  # below this it is not the baise scale and the figures mean little

LEAF_SUMS_SQL = "SELECT grid_id, count(*), sum(size) FROM grids_household GROUP BY grid_id"
# The fold in SQL: per-grid sums, then each grid's sums added to every code on its path.
SQL_FOLD = f"""
    SELECT ancestor.code, sum(n), sum(pop)
    FROM ({LEAF_SUMS_SQL}) AS leaf(grid_id, n, pop)
    JOIN grids_gridnode g ON g.id = leaf.grid_id
    CROSS JOIN LATERAL unnest(string_to_array(trim(both '/' from g.path), '/')) AS ancestor(code)
    GROUP BY ancestor.code
"""
CTE_DOWN = """
    WITH RECURSIVE t(id) AS (
        SELECT id FROM grids_gridnode WHERE id = %s
        UNION ALL SELECT g.id FROM grids_gridnode g JOIN t ON g.parent_id = t.id
    )
"""
# What django-tree-queries generates: the whole tree from its roots with an array of
# ancestor ids per node, then filtered.
CTE_WHOLE_TREE = """
    WITH RECURSIVE t(id, tree_path) AS (
        SELECT id, ARRAY[id] FROM grids_gridnode WHERE parent_id IS NULL
        UNION ALL SELECT g.id, t.tree_path || g.id FROM grids_gridnode g JOIN t ON g.parent_id = t.id
    )
"""
CTE_UP = """
    WITH RECURSIVE a(id, parent_id) AS (
        SELECT id, parent_id FROM grids_gridnode WHERE id = %s
        UNION ALL SELECT g.id, g.parent_id FROM grids_gridnode g JOIN a ON g.id = a.parent_id
    )
    SELECT * FROM grids_gridnode WHERE id IN (SELECT id FROM a) AND id <> %s
"""
BUILD_CLOSURE = [
    "DROP TABLE IF EXISTS bench_closure",
    """CREATE TEMP TABLE bench_closure AS
       SELECT a.id AS ancestor_id, d.id AS descendant_id
       FROM grids_gridnode d
       CROSS JOIN LATERAL unnest(string_to_array(trim(both '/' from d.path), '/')) AS c(code)
       JOIN grids_gridnode a ON a.code = c.code""",
    "CREATE INDEX ON bench_closure (ancestor_id, descendant_id)",
    "CREATE INDEX ON bench_closure (descendant_id, ancestor_id)",
    "ANALYZE bench_closure",
]
BUILD_ANCESTOR_COLUMNS = [
    "DROP TABLE IF EXISTS bench_ancestors",
    """CREATE TEMP TABLE bench_ancestors AS
       SELECT id, split_part(path, '/', 2) AS city, split_part(path, '/', 3) AS county,
              split_part(path, '/', 4) AS township, split_part(path, '/', 5) AS village,
              split_part(path, '/', 6) AS hamlet
       FROM grids_gridnode""",
    "CREATE UNIQUE INDEX ON bench_ancestors (id)",
    "CREATE INDEX ON bench_ancestors (county)",
    "ANALYZE bench_ancestors",
]


@dataclass
class Figure:
    storage: str
    query: str
    median_ms: float
    min_ms: float
    max_ms: float
    queries: int
    result: str


def sql(query: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def fold_paths(leaf_rows, paths: dict[int, str]) -> dict[str, list[int]]:
    """Add each leaf's (households, population) to every code on its path."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for grid_id, households, population in leaf_rows:
        for code in paths[grid_id].strip("/").split("/"):
            total = totals[code]
            total[0] += households
            total[1] += population
    return totals


class Command(BaseCommand):
    help = "Measure subtree, ancestor, children and rollup queries on the baise demo data (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--repeat", type=int, default=7, help="timed runs per query, after one warm-up"
        )
        parser.add_argument(
            "--county", default="451081000000", help="the county measured (default 靖西市)"
        )
        parser.add_argument(
            "--min-households",
            type=int,
            default=MIN_HOUSEHOLDS,
            help="refuse smaller data (the tests lower it to run the queries on the small demo)",
        )

    def handle(self, *args, repeat, county, min_households, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                "bench_tree measures PostgreSQL; set DATABASE_URL to a PostgreSQL database."
            )
        city = GridNode.objects.filter(code=CITY_CODE).first()
        households = Household.objects.count()
        if city is None or households < min_households:
            raise CommandError(
                f"bench_tree needs the full-size demo data ({households:,} households found): "
                "run `manage.py seed_demo --scale baise` on this database first."
            )
        self.repeat = max(1, repeat)
        self.figures: list[Figure] = []
        county = GridNode.objects.filter(code=county, level=Level.COUNTY).first()
        if county is None:
            raise CommandError("--county must be the code of a county grid.")
        township = (
            GridNode.objects.filter(parent=county, level=Level.TOWNSHIP).order_by("code").first()
        )
        hamlet = (
            GridNode.objects.filter(path__startswith=township.path, level=Level.HAMLET)
            .order_by("code")
            .first()
        )
        nodes = GridNode.objects.count()
        self.stdout.write(
            f"Data: {nodes:,} grids, {households:,} households. {sql('SHOW server_version')[0][0]}. "
            f"Median of {self.repeat} runs after a warm-up.\n"
            f"County {county} ({county.expected_households:,} households), township {township}, hamlet {hamlet}.\n"
        )
        self.materialized_path(city, county, township, hamlet)
        self.recursive_cte(county, hamlet)
        self.closure_table(county)
        self.ancestor_columns(county)
        self.print_table()

    # --- measuring ---------------------------------------------------------------------

    def measure(self, storage: str, query: str, fn, describe=str) -> object:
        result = fn()  # warm-up: caches, plans
        times = []
        for _ in range(self.repeat):
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                result = fn()
                times.append((time.perf_counter() - start) * 1000)
        self.figures.append(
            Figure(
                storage,
                query,
                statistics.median(times),
                min(times),
                max(times),
                len(captured),
                describe(result),
            )
        )
        self.stdout.write(f"  {storage}: {query}: {statistics.median(times):.1f} ms")
        return result

    def once(self, storage: str, what: str, statements: list[str]) -> None:
        start = time.perf_counter()
        for statement in statements:
            sql_exec(statement)
        elapsed = (time.perf_counter() - start) * 1000
        rows = sql(f"SELECT count(*) FROM {statements[0].split()[-1]}")[0][0]
        self.figures.append(
            Figure(
                storage, what, elapsed, elapsed, elapsed, len(statements), f"{rows:,} rows (once)"
            )
        )

    # --- the chosen storage: materialized path of codes --------------------------------------

    def materialized_path(self, city, county, township, hamlet):
        mp = "materialized path"
        count = lambda n: f"{n:,} rows"  # noqa: E731
        agg = lambda r: f"{r['n']:,} households, {r['pop']:,} people"  # noqa: E731
        self.measure(
            mp,
            "subtree of a county: count grids",
            lambda: GridNode.objects.subtree_of(county).count(),
            count,
        )
        self.measure(
            mp,
            "subtree of a township: count grids",
            lambda: GridNode.objects.subtree_of(township).count(),
            count,
        )
        for node, label in ((county, "county"), (township, "township")):
            self.measure(
                mp,
                f"households in a {label}'s subtree (join on path prefix)",
                lambda node=node: Household.objects.filter(
                    grid__path__startswith=node.path
                ).aggregate(n=Count("id"), pop=Sum("size")),
                agg,
            )
        self.measure(
            mp,
            "ancestors of a hamlet (codes from its path, 1 query)",
            lambda: list(GridNode.objects.filter(code__in=hamlet.ancestor_codes)),
            lambda rows: f"{len(rows)} rows",
        )
        for node, label in ((city, "the city"), (township, "a township")):
            self.measure(
                mp,
                f"children of {label}, with their child counts",
                lambda node=node: list(
                    GridNode.objects.filter(parent=node).annotate(child_count=Count("children"))
                ),
                lambda rows: f"{len(rows)} rows",
            )

        leaf_rows = self.measure(
            "rollup",
            "bare GROUP BY of all households by grid",
            lambda: sql(LEAF_SUMS_SQL),
            lambda r: f"{len(r):,} leaves",
        )
        paths = dict(GridNode.objects.values_list("id", "path"))
        self.measure(
            "rollup",
            "fold the per-grid sums into every ancestor (Python, from paths)",
            lambda: fold_paths(leaf_rows, paths),
            lambda t: f"{len(t):,} grids",
        )
        python_totals = self.measure(
            "rollup",
            "GROUP BY + read the paths + fold in Python (all in)",
            lambda: fold_paths(
                sql(LEAF_SUMS_SQL), dict(GridNode.objects.values_list("id", "path"))
            ),
            lambda t: f"{len(t):,} grids",
        )
        sql_totals = self.measure(
            "rollup",
            "GROUP BY + fold in SQL (unnest the path), one query",
            lambda: sql(SQL_FOLD),
            lambda r: f"{len(r):,} grids",
        )
        self.check_rollup(python_totals, {code: [n, pop] for code, n, pop in sql_totals})

    def check_rollup(self, python_totals, sql_totals):
        """Both folds must agree with each other and with the expected figures the seed stored."""
        expected = {
            code: [n, pop]
            for code, n, pop in GridNode.objects.values_list(
                "code", "expected_households", "expected_population"
            )
            if n
        }
        if dict(python_totals) != sql_totals or sql_totals != expected:
            raise CommandError(
                "The rollups disagree with each other or with the stored expected figures."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"  Rollups checked: {len(expected):,} grids match their expected figures."
            )
        )

    # --- alternatives ------------------------------------------------------------------

    def recursive_cte(self, county, hamlet):
        cte = "adjacency list + recursive CTE"
        self.measure(
            cte,
            "subtree of a county: count grids (CTE from the node)",
            lambda: sql(CTE_DOWN + "SELECT count(*) FROM t", [county.pk]),
            lambda r: f"{r[0][0]:,} rows",
        )
        self.measure(
            cte,
            "households in a county's subtree (CTE from the node)",
            lambda: sql(
                CTE_DOWN
                + "SELECT count(*), sum(h.size) FROM grids_household h JOIN t ON h.grid_id = t.id",
                [county.pk],
            ),
            lambda r: f"{r[0][0]:,} households",
        )
        self.measure(
            cte,
            "subtree of a county: count grids (whole-tree CTE, as django-tree-queries)",
            lambda: sql(
                CTE_WHOLE_TREE + "SELECT count(*) FROM t WHERE %s = ANY(tree_path)", [county.pk]
            ),
            lambda r: f"{r[0][0]:,} rows",
        )
        self.measure(
            cte,
            "ancestors of a hamlet (CTE upward)",
            lambda: sql(CTE_UP, [hamlet.pk, hamlet.pk]),
            lambda r: f"{len(r)} rows",
        )
        self.measure(
            cte,
            "rollup: GROUP BY + fold through the whole-tree CTE",
            lambda: sql(
                CTE_WHOLE_TREE
                + """
                SELECT a, sum(n), sum(pop) FROM (
                    SELECT grid_id, count(*) AS n, sum(size) AS pop FROM grids_household GROUP BY grid_id
                ) AS leaf JOIN t ON t.id = leaf.grid_id CROSS JOIN LATERAL unnest(t.tree_path) AS a GROUP BY a"""
            ),
            lambda r: f"{len(r):,} grids",
        )

    def closure_table(self, county):
        ct = "closure table"
        self.once(ct, "build it from the paths (temporary table, 2 indexes)", BUILD_CLOSURE)
        self.measure(
            ct,
            "subtree of a county: count grids",
            lambda: sql("SELECT count(*) FROM bench_closure WHERE ancestor_id = %s", [county.pk]),
            lambda r: f"{r[0][0]:,} rows",
        )
        self.measure(
            ct,
            "households in a county's subtree",
            lambda: sql(
                "SELECT count(*), sum(h.size) FROM grids_household h JOIN bench_closure c "
                "ON c.descendant_id = h.grid_id WHERE c.ancestor_id = %s",
                [county.pk],
            ),
            lambda r: f"{r[0][0]:,} households",
        )
        self.measure(
            ct,
            "rollup: join every household to its ancestors, GROUP BY ancestor",
            lambda: sql(
                "SELECT c.ancestor_id, count(*), sum(h.size) FROM grids_household h "
                "JOIN bench_closure c ON c.descendant_id = h.grid_id GROUP BY c.ancestor_id"
            ),
            lambda r: f"{len(r):,} grids",
        )
        self.measure(
            ct,
            "rollup: GROUP BY grid first, then fold through the closure",
            lambda: sql(
                "SELECT c.ancestor_id, sum(n), sum(pop) FROM ("
                + LEAF_SUMS_SQL
                + ") AS leaf(grid_id, n, pop) "
                "JOIN bench_closure c ON c.descendant_id = leaf.grid_id GROUP BY c.ancestor_id"
            ),
            lambda r: f"{len(r):,} grids",
        )
        sql_exec("DROP TABLE bench_closure")

    def ancestor_columns(self, county):
        ac = "ancestor columns"
        self.once(
            ac, "build them from the paths (temporary table, 2 indexes)", BUILD_ANCESTOR_COLUMNS
        )
        self.measure(
            ac,
            "households in a county's subtree",
            lambda: sql(
                "SELECT count(*), sum(h.size) FROM grids_household h JOIN bench_ancestors a "
                "ON a.id = h.grid_id WHERE a.county = %s",
                [county.code],
            ),
            lambda r: f"{r[0][0]:,} households",
        )
        self.measure(
            ac,
            "rollup: GROUP BY ROLLUP(city, county, township, village, hamlet)",
            lambda: sql(
                "SELECT a.city, a.county, a.township, a.village, a.hamlet, count(*), sum(h.size) "
                "FROM grids_household h JOIN bench_ancestors a ON a.id = h.grid_id "
                "GROUP BY ROLLUP (a.city, a.county, a.township, a.village, a.hamlet)"
            ),
            lambda r: f"{len(r):,} groups",
        )
        sql_exec("DROP TABLE bench_ancestors")

    def print_table(self):
        self.stdout.write("\n| Storage | Query | Median ms | Min ms | Max ms | Queries | Result |")
        self.stdout.write("|---|---|---:|---:|---:|---:|---|")
        for f in self.figures:
            self.stdout.write(
                f"| {f.storage} | {f.query} | {f.median_ms:.1f} | {f.min_ms:.1f} | {f.max_ms:.1f} | {f.queries} | {f.result} |"
            )


def sql_exec(statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)
