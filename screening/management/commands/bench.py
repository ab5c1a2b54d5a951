"""`manage.py bench`: the screening benchmark of issue 4, on PostgreSQL with the baise demo
(`seed_demo --scale baise`: ~22,000 grids, ~1,000,000 households). Prints, in one run:

  (a) a bare SQL GROUP BY of the day's checks by leaf: the floor;
  (b) the full rollup of the day (rebuilding every row, and re-checking correct rows);
  (c) the incremental rollup after 10,000 new or corrected checks (from 200 grids, as 200
      workers flushing their queues, and scattered over the whole city);
  (d) stats API latency, p50 and p95, over 200 random nodes;
  (e) checks per second through the batch API;
  (f) with --gunicorn, single checks per second through POST /api/v1/checks/ on gunicorn;
  and the ratio b/a, with the issue's target next to each figure.

Data: 1,000,000 checks for the day and for each of the 13 days before it (--earlier-checks
to make those smaller), generated inside PostgreSQL by INSERT ... SELECT over the households
(no rows cross the wire, faster than COPY) in random order, as a day's checks arrive. Days
already present are reused, so only the first run pays for them (several minutes a day).
Every row the bench writes carries the note "bench..." and the bench only ever deletes such
rows; still, run it on a copy of the demo database, never on real data:

    createdb -h 127.0.0.1 -U postgres -T gridcmd_seed gridcmd_bench
    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/gridcmd_bench \\
        .venv/bin/python manage.py migrate
    ... manage.py bench
"""

import http.client
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from gridcmd.process import settle
from grids.demo import CITY_CODE
from grids.models import GridNode, Household
from screening import ledger, rollup
from screening.metrics import METRIC_NAMES
from screening.models import Check, CheckRevision, DailyStat, RollupDelta

MIN_HOUSEHOLDS = 500_000
CHECKS_PER_DAY = 1_000_000
DAYS = 14
CHANGES = 10_000  # new or corrected checks before the incremental run
CORRECTED_SHARE = 0.2  # of CHANGES, corrections of checks already stored
CHANGE_TRANSACTION = 100  # checks per write transaction, as the batch API commits them
CONCENTRATED_GRIDS = 200
STATS_NODES = 200
API_BATCH = 1_000
API_BATCHES = 10
NOTE = "bench"
NOTE_CHANGE = "bench-change"
NOTE_API = "bench-api"

# One day of checks: every household once and 1.25% twice, in random order, cut at `limit`;
# 20% by phone, 0.2% voided; rare risk findings; samples taken in 30% of households.
GENERATE_DAY = f"""
INSERT INTO screening_check (uuid, checked_on, checked_at, method, note, void_reason,
    created_at, updated_at, {", ".join(METRIC_NAMES)}, grid_id, household_id, worker_id, voided_at,
    counts_household)
SELECT gen_random_uuid(), %(day)s, at, CASE WHEN random() < 0.8 THEN 'visit' ELSE 'phone' END,
    '{NOTE}', '', at, at,
    size, (random() < 0.05)::int, (random() < 0.005)::int, (random() < 0.01)::int,
    (random() < 0.001)::int, (random() < 0.002)::int, CASE WHEN random() < 0.3 THEN size ELSE 0 END,
    grid_id, id, %(worker)s, voided_at,
    -- The household's first counted check counts it (screening.ledger's rule).
    voided_at IS NULL AND row_number() OVER (
        PARTITION BY id, voided_at IS NULL ORDER BY at) = 1
FROM (
    SELECT h.id, h.grid_id, h.size, at, CASE WHEN random() < 0.002 THEN at END AS voided_at
    FROM (
        SELECT h.id, h.grid_id, h.size,
            (%(day)s::date + time '08:00') AT TIME ZONE 'Asia/Shanghai'
                + random() * interval '12 hours' AS at
        FROM grids_household h
        -- h.id > 0 ties the call to the row, so random() is drawn per household, not once.
        CROSS JOIN LATERAL generate_series(1, 1 + (random() < 0.0125 AND h.id > 0)::int)
        ORDER BY random()
        LIMIT %(limit)s
    ) AS h
) AS s
ORDER BY random()
"""
# The leaves without households say "nothing to report" every day.
ZERO_REPORTS = """
INSERT INTO screening_zeroreport (grid_id, reported_on, reporter_id, note, created_at)
SELECT g.id, %(day)s, %(worker)s, 'bench', now()
FROM grids_gridnode g
WHERE NOT EXISTS (SELECT 1 FROM grids_gridnode c WHERE c.parent_id = g.id)
  AND NOT EXISTS (SELECT 1 FROM grids_household h WHERE h.grid_id = g.id)
ON CONFLICT DO NOTHING
"""
FLOOR_SQL = f"""
SELECT grid_id, count(*), {", ".join(f"sum({m})" for m in METRIC_NAMES)}
FROM screening_check WHERE checked_on = %s AND voided_at IS NULL GROUP BY grid_id
"""


def sql(query, params=None):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def timed(fn) -> tuple[float, object]:
    # As in a worker process (gridcmd.process): what exists before the timed call is frozen,
    # so a collection in it does not walk the bench's own data.
    settle()
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def percentile(values, p) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "Benchmark the checks, the rollup and the stats API on the baise demo data (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--day", help="the day measured, YYYY-MM-DD (default today)")
        parser.add_argument("--repeat", type=int, default=5, help="timed runs of (a) to (c)")
        parser.add_argument(
            "--earlier-checks",
            type=int,
            default=CHECKS_PER_DAY,
            help="checks on each of the 13 days before (generated once)",
        )
        parser.add_argument("--min-households", type=int, default=MIN_HOUSEHOLDS)
        parser.add_argument(
            "--gunicorn",
            action="store_true",
            help="also measure single POSTs on gunicorn at 127.0.0.1 (f)",
        )
        parser.add_argument("--gunicorn-requests", type=int, default=4_000)
        parser.add_argument("--gunicorn-port", type=int, default=8765)

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                "bench measures PostgreSQL; set DATABASE_URL to a PostgreSQL database."
            )
        households = Household.objects.count()
        if (
            not GridNode.objects.filter(code=CITY_CODE).exists()
            or households < options["min_households"]
        ):
            raise CommandError(
                f"bench needs the full-size demo ({households:,} households found): run "
                "`manage.py seed_demo --scale baise` on a copy of the database first."
            )
        self.day = date.fromisoformat(options["day"]) if options["day"] else timezone.localdate()
        self.repeat = max(1, options["repeat"])
        self.rng = random.Random(4)
        self.admin = self.superuser()
        self.rows: list[tuple[str, str, str]] = []
        self.out(
            f"Data: {GridNode.objects.count():,} grids, {households:,} households; "
            f"{sql('SHOW server_version')[0][0]}; {os.cpu_count()} CPUs; day {self.day}."
        )
        self.prepare(options["earlier_checks"])
        # Each part is measured as production runs it: writes queue the rollup for a worker
        # instead of running it in-process (the embedded default). The test client's host
        # is "testserver".
        hosts = [*settings.ALLOWED_HOSTS, "testserver"]
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False, ALLOWED_HOSTS=hosts):
            a = self.floor()
            self.full(a)
            self.incremental()
            self.stats_api()
            self.batch_api()
            if options["gunicorn"]:
                self.gunicorn(options["gunicorn_requests"], options["gunicorn_port"])
        self.out("\n| Measure | Result | Target |\n|---|---:|---|")
        for row in self.rows:
            self.out(f"| {' | '.join(row)} |")

    def out(self, text):
        self.stdout.write(text)
        self.stdout.flush()

    def superuser(self):
        from django.contrib.auth import get_user_model

        user = (
            get_user_model()
            .objects.filter(is_superuser=True, is_active=True)
            .order_by("pk")
            .first()
        )
        if user is None:
            raise CommandError("bench needs a superuser (seed_demo makes `admin`).")
        return user

    # --- data --------------------------------------------------------------------------

    def prepare(self, earlier_checks: int) -> None:
        worker = self.admin.pk
        households = Household.objects.count()
        for k in range(DAYS - 1, -1, -1):
            day = self.day - timedelta(days=k)
            wanted = CHECKS_PER_DAY if k == 0 else earlier_checks
            wanted = min(wanted, households)  # a smaller demo (the command's own test run)
            present = Check.objects.filter(checked_on=day, note=NOTE).count()
            if present < wanted * 0.99:
                self.out(f"  generating {wanted - present:,} checks for {day} ...")
                ms, _ = timed(
                    lambda day=day, n=wanted - present: sql(
                        GENERATE_DAY, {"day": day, "worker": worker, "limit": n}
                    )
                )
                self.out(f"    {ms / 1000:.0f} s")
            sql(ZERO_REPORTS, {"day": day, "worker": worker})
        # Leftovers of an interrupted run.
        Check.objects.filter(checked_on=self.day, note__in=[NOTE_CHANGE, NOTE_API]).delete()
        sql("VACUUM ANALYZE screening_check")
        sql("VACUUM ANALYZE screening_checkrevision")
        sql("VACUUM ANALYZE grids_household")
        for k in range(DAYS):
            day = self.day - timedelta(days=k)
            if (
                not DailyStat.objects.filter(day=day).exists()
                or RollupDelta.objects.filter(day=day).exists()
            ):
                rollup.full_recompute(day)
        total = Check.objects.filter(checked_on__gt=self.day - timedelta(days=DAYS)).count()
        today = Check.objects.filter(checked_on=self.day).count()
        self.out(f"Checks: {today:,} on {self.day}, {total:,} over {DAYS} days.")

    # --- (a) and (b) ---------------------------------------------------------------------

    def median(self, label, fn, *, setup=None):
        times = []
        for run in range(self.repeat + 1):
            if setup:
                setup()
            ms, result = timed(fn)
            if run:  # the first run warms the caches
                times.append(ms)
        median = statistics.median(times)
        self.out(f"  {label}: median {median:.0f} ms (min {min(times):.0f}, max {max(times):.0f})")
        return median, result

    def floor(self) -> float:
        """(a) as the planner runs the bare query, and through the bitmap of the
        (checked_on, grid) index that the rollup asks for: with the planner's parallel
        workers, and with the rollup's (settings.ROLLUP_PARALLEL_WORKERS). The fastest is
        the floor the ratio is taken against."""

        def run(*options):
            def query():
                with transaction.atomic():
                    for option in ("jit = off", *options):
                        sql(f"SET LOCAL {option}")
                    return sql(FLOOR_SQL, [self.day])

            return query

        bitmap = ("enable_seqscan = off", "enable_indexscan = off")
        workers = int(settings.ROLLUP_PARALLEL_WORKERS)
        planned, rows = self.median("(a) GROUP BY of the day's checks by leaf", run())
        indexed, _ = self.median("(a) the same through the index bitmap", run(*bitmap))
        fewer, _ = self.median(
            f"(a) the same with {workers} parallel worker(s)",
            run(*bitmap, f"max_parallel_workers_per_gather = {workers}"),
        )
        self.rows.append(
            (
                f"(a) bare GROUP BY of the day's checks by leaf ({len(rows):,} leaves), as planned",
                f"{planned:.0f} ms",
                "~500 ms (the floor)",
            )
        )
        self.rows.append(
            (
                "(a) the same GROUP BY through the (checked_on, grid) index bitmap",
                f"{indexed:.0f} ms",
                "",
            )
        )
        self.rows.append(
            (
                f"(a) the same bitmap with the rollup's {workers} parallel worker(s)",
                f"{fewer:.0f} ms",
                "",
            )
        )
        floor = min(planned, indexed, fewer)
        self.rows.append(
            ("(a) the floor b is held to: the fastest of these", f"{floor:.0f} ms", "")
        )
        return floor

    def full(self, a: float) -> None:
        def drop_day():
            DailyStat.objects.filter(day=self.day).delete()
            # A day is first built when it has never had rows: no dead ones in the way.
            sql("VACUUM ANALYZE screening_dailystat")

        build, result = self.median(
            "(b) full rollup, rebuilding every row",
            lambda: rollup.full_recompute(self.day),
            setup=drop_day,
        )
        assert result.inserted == result.nodes, result.as_dict()
        check, result = self.median(
            "(b) full rollup over correct rows", lambda: rollup.full_recompute(self.day)
        )
        assert not result.differences, result.as_dict()
        self.rows.append(
            (
                f"(b) full rollup of the day, every row rebuilt ({result.nodes:,} nodes)",
                f"{build:.0f} ms",
                "≤ 1.5 × a",
            )
        )
        self.rows.append(
            (
                "(b) full rollup of the day over correct rows (nightly, hourly)",
                f"{check:.0f} ms",
                "≤ 1.5 × a",
            )
        )
        self.rows.append(("b/a, every row rebuilt", f"{build / a:.2f}", "≤ 1.5"))
        self.rows.append(("b/a, over correct rows", f"{check / a:.2f}", "≤ 1.5"))

    # --- (c) ---------------------------------------------------------------------------

    def write_changes(self, household_rows, corrections) -> None:
        """CHANGES checks, new and corrected, the way the services write them: each
        transaction its rows and their changes in the rollup's ledger."""
        now = timezone.now()
        new = [
            {
                "uuid": uuid.uuid4(),
                "household_id": hid,
                "grid_id": gid,
                "worker_id": self.admin.pk,
                "checked_on": self.day,
                "checked_at": now,
                "note": NOTE_CHANGE,
                "voided_at": None,
                **dict.fromkeys(METRIC_NAMES, 0),
                "persons_present": size,
                "returnees": int(self.rng.random() < 0.1),
                "fever": int(self.rng.random() < 0.01),
            }
            for hid, gid, size in household_rows
        ]
        for start in range(0, len(new), CHANGE_TRANSACTION):
            with transaction.atomic():
                chunk = new[start : start + CHANGE_TRANSACTION]
                ledger.prepare_created(chunk)
                Check.objects.bulk_create(Check(**row) for row in chunk)
                ledger.record_created(chunk)
        for start in range(0, len(corrections), CHANGE_TRANSACTION):
            with transaction.atomic():
                ids = corrections[start : start + CHANGE_TRANSACTION]
                before = list(Check.objects.select_for_update().filter(id__in=ids, voided_at=None))
                sql(
                    "UPDATE screening_check SET fever = 1 - fever, returnees = returnees + 1, "
                    "updated_at = now() WHERE id = ANY(%s)",
                    [[c.id for c in before]],
                )
                after = {c.id: c for c in Check.objects.filter(id__in=ids)}
                ledger.record_checks(
                    ledger.CheckChange(
                        c.grid_id, c.checked_on, ledger.metrics(c), ledger.metrics(after[c.id])
                    )
                    for c in before
                )

    def incremental(self) -> None:
        corrected = int(CHANGES * CORRECTED_SHARE)
        leaves = list(Household.objects.order_by().values_list("grid_id", flat=True).distinct())
        for label, scattered in (
            (f"{CONCENTRATED_GRIDS} grids (workers flushing their queues)", False),
            ("scattered over the city", True),
        ):

            def setup(scattered=scattered):
                # What autovacuum does between two runs in production (the queue table is
                # vacuumed every 10,000 dead rows: migration 0005); this loop is faster.
                sql("VACUUM ANALYZE screening_rollupdelta")
                sql("VACUUM ANALYZE screening_dailystat")
                if scattered:
                    grid_filter = {}
                else:
                    grid_filter = {"grid_id__in": self.rng.sample(leaves, CONCENTRATED_GRIDS)}
                homes = list(
                    Household.objects.filter(**grid_filter)
                    .order_by("?" if scattered else "pk")
                    .values_list("id", "grid_id", "size")[: 20 * CHANGES if scattered else None]
                )
                homes = self.rng.sample(homes, min(len(homes), CHANGES - corrected))
                checks = list(
                    Check.objects.filter(checked_on=self.day, note=NOTE, **grid_filter)
                    .order_by()
                    .values_list("id", flat=True)[: 20 * corrected]
                )
                self.write_changes(homes, self.rng.sample(checks, min(len(checks), corrected)))
                self.queued = RollupDelta.objects.count()

            c, result = self.median(
                f"(c) incremental after {CHANGES:,} changes, {label}",
                lambda: rollup.run_incremental(wait=True),
                setup=setup,
            )
            assert result.deltas_consumed == self.queued and not result.full_days, result.as_dict()
            self.rows.append(
                (
                    f"(c) incremental rollup after {CHANGES:,} new or corrected checks, {label} "
                    f"({self.queued:,} queue rows, {result.grids:,} grids)",
                    f"{c:.0f} ms",
                    "< 200 ms",
                )
            )
        # Leave the day as it was: the bench's own checks go, and the day is rolled up again.
        self.cleanup(NOTE_CHANGE)

    def cleanup(self, note) -> None:
        Check.objects.filter(checked_on=self.day, note=note).delete()
        RollupDelta.objects.all().delete()
        # What autovacuum does after such deletes in production; PostgreSQL on the bench
        # machine runs with autovacuum off, and each run would leave the next its dead rows.
        for table in (CheckRevision, Check, RollupDelta):
            sql(f"VACUUM ANALYZE {table._meta.db_table}")
        result = rollup.full_recompute(self.day)
        self.out(f"  (the bench's checks removed; the day recomputed: {result.updated:,} rows)")

    # --- (d) and (e) ---------------------------------------------------------------------

    def stats_api(self) -> None:
        codes = list(GridNode.objects.values_list("code", flat=True))
        sample = self.rng.sample(codes, STATS_NODES)
        client = Client()
        client.force_login(self.admin)
        for code in sample[:10]:  # warm-up
            client.get(f"/api/v1/grids/{code}/stats/", {"date": self.day.isoformat()})
        times = []
        for code in sample:
            ms, response = timed(
                lambda code=code: client.get(
                    f"/api/v1/grids/{code}/stats/", {"date": self.day.isoformat()}
                )
            )
            if response.status_code != 200:
                raise CommandError(f"stats API answered {response.status_code} for {code}")
            times.append(ms)
        p50, p95 = percentile(times, 50), percentile(times, 95)
        self.out(f"  (d) stats API: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(times):.1f} ms")
        self.rows.append(
            (
                f"(d) GET /api/v1/grids/{{code}}/stats/?date= over {STATS_NODES} random nodes, p50",
                f"{p50:.1f} ms",
                "–",
            )
        )
        self.rows.append(("(d) same, p95", f"{p95:.1f} ms", "< 50 ms"))

    def batch_api(self) -> None:
        # One more batch than is timed: like (a) to (c), (e) is measured after a warm-up.
        homes = list(
            Household.objects.order_by("?").values_list("code", flat=True)[
                : API_BATCH * (API_BATCHES + 1)
            ]
        )
        client = Client()
        client.force_login(self.admin)
        at = timezone.localtime().replace(microsecond=0).isoformat()
        bodies = [
            json.dumps(
                {
                    "checks": [
                        {
                            "uuid": str(uuid.uuid4()),
                            "household": code,
                            "checked_at": at,
                            "note": NOTE_API,
                            "persons_present": 3,
                            "returnees": 1,
                        }
                        for code in homes[start : start + API_BATCH]
                    ]
                }
            )
            for start in range(0, len(homes), API_BATCH)
        ]

        def post(body):
            response = client.post("/api/v1/checks/batch/", body, content_type="application/json")
            results = response.json().get("results", [])
            if response.status_code != 200 or any(r["status"] != "created" for r in results):
                raise CommandError(
                    f"batch API: {response.status_code} {str(response.content[:300])}"
                )

        warm_up, *bodies = bodies
        post(warm_up)
        rollup.run_incremental(wait=True)  # (e') then folds the timed batches' changes only
        homes = homes[API_BATCH:]
        total = 0.0
        for body in bodies:
            ms, _ = timed(lambda body=body: post(body))
            total += ms
        rate = len(homes) / (total / 1000)
        self.out(f"  (e) batch API: {len(homes):,} checks in {total:.0f} ms")
        self.rows.append(
            (
                f"(e) checks through POST /api/v1/checks/batch/ ({API_BATCHES} × {API_BATCH:,})",
                f"{rate:,.0f} checks/s",
                "≥ 5,000 checks/s",
            )
        )
        ms, result = timed(lambda: rollup.run_incremental(wait=True))
        self.rows.append(
            (
                f"(e') incremental rollup of those {len(homes):,} checks ({result.grids:,} grids)",
                f"{ms:.0f} ms",
                "< 200 ms",
            )
        )
        self.cleanup(NOTE_API)

    # --- (f) ------------------------------------------------------------------------------

    def gunicorn(self, requests: int, port: int) -> None:
        """Single checks on gunicorn at 127.0.0.1 only, with a bounded number of requests."""
        from rest_framework.authtoken.models import Token

        token, _ = Token.objects.get_or_create(user=self.admin)
        homes = list(Household.objects.order_by("?").values_list("code", flat=True)[:requests])
        # As production runs (DEBUG off), but plain HTTP on the loopback: TLS ends at the
        # proxy in front of gunicorn.
        env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            "STATIC_MANIFEST": "0",  # no collectstatic needed: the bench posts JSON
        }
        if not env.get("REDIS_URL"):
            # Without a broker every request would also run the rollup in-process (the
            # embedded default); production folds it in a worker, which is what we measure.
            env["REDIS_URL"] = "redis://127.0.0.1:6379/5"
            self.out(
                "  (f) REDIS_URL not set: gunicorn gets redis://127.0.0.1:6379/5 (production mode)"
            )
        workers = (os.cpu_count() or 1) * 2 + 1
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "gridcmd.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ],
            cwd=Path(settings.BASE_DIR),
            env=env,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise CommandError("gunicorn did not start") from None
                    time.sleep(0.3)
            statuses: list[int] = []
            lock = threading.Lock()
            # The load generator shares the two CPUs with the server: the bodies are made
            # before the clock starts, and each request is a bare http.client exchange.
            at = timezone.localtime().replace(microsecond=0).isoformat()
            queue = [
                json.dumps(
                    {
                        "uuid": str(uuid.uuid4()),
                        "household": code,
                        "checked_at": at,
                        "note": NOTE_API,
                        "persons_present": 2,
                    }
                ).encode()
                for code in homes
            ]
            headers = {"Content-Type": "application/json", "Authorization": f"Token {token.key}"}

            def client():
                while True:
                    with lock:
                        if not queue:
                            return
                        body = queue.pop()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    try:
                        connection.request("POST", "/api/v1/checks/", body, headers)
                        response = connection.getresponse()
                        response.read()
                        status = response.status
                    finally:
                        connection.close()
                    with lock:
                        statuses.append(status)

            threads = [threading.Thread(target=client) for _ in range(workers * 2)]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - start
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        created = statuses.count(201)
        rate = len(statuses) / elapsed
        self.out(
            f"  (f) gunicorn: {len(statuses):,} requests in {elapsed:.1f} s, {created:,} created"
        )
        if created != len(statuses):
            self.out(f"      statuses: { {s: statuses.count(s) for s in set(statuses)} }")
        self.rows.append(
            (
                f"(f) POST /api/v1/checks/ on gunicorn ({workers} sync workers, {len(statuses):,} requests)",
                f"{rate:,.0f} req/s",
                "≥ 200 req/s",
            )
        )
        self.cleanup(NOTE_API)
