import time

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from grids.demo import DEMO_PASSWORD, SCALES, DemoDataConflict, seed_demo
from personnel.demo import DemoPeopleConflict, seed_people
from screening.demo import seed_checks

# Where each role starts, one line each (the home page sends a commander to the dashboard).
STARTS = {
    "commander": "the dashboard /dashboard/<code>/: today's checks, coverage, 未报告, a 14-day trend",
    "grid_worker": "/work/: the hamlet's households, today's checks and what is left to check",
    "administrator": "the imports /imports/grids/ and /imports/personnel/: grids, households, rosters",
    "superuser": "everything, and /admin/",
}


class Command(BaseCommand):
    help = (
        "Load the Baise demo: the grid tree, households, one user per role, people with "
        "their assignments and pioneer posts, and (small scale) 14 days of checks rolled "
        "up. Idempotent: a second run leaves existing data as it is. --scale baise is the "
        "full size used by the benchmarks."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(SCALES), default="small")

    def handle(self, *args, scale, **options):
        verbose = options["verbosity"] >= 1
        log = (lambda message: self.stdout.write(message)) if verbose else (lambda message: None)
        started = time.perf_counter()
        try:
            summary = seed_demo(scale=scale, log=log)
            seed_people(scale=scale, log=log)
        except (DemoDataConflict, DemoPeopleConflict) as exc:
            raise CommandError(str(exc)) from exc
        seed_checks(scale=scale, log=log)
        if not verbose:
            return
        self.stdout.write(f"Demo data ready in {time.perf_counter() - started:.1f}s")
        self.stdout.write(
            self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD}; demo use only):")
        )
        for user in summary["users"]:
            self.stdout.write(f"  {user['role']:<14} {user['username']:<16} {user['jurisdiction']}")
        self.stdout.write("Where each role starts:")
        for user in summary["users"]:
            start = STARTS.get(user["role"], "")
            if "<code>" in start:
                jurisdiction = User.objects.get(username=user["username"]).jurisdiction
                start = start.replace("<code>", jurisdiction.code if jurisdiction else "")
            self.stdout.write(f"  {user['username']:<16} {start}")
