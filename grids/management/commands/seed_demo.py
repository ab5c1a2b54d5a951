from django.core.management.base import BaseCommand, CommandError

from grids.demo import DEMO_PASSWORD, SCALES, DemoDataConflict, seed_demo


class Command(BaseCommand):
    help = (
        "Load the Baise demo grid tree, households and one user per role. Idempotent: a second "
        "run leaves existing data as it is. --scale baise is the full size used by bench_tree."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(SCALES), default="small")

    def handle(self, *args, scale, **options):
        verbose = options["verbosity"] >= 1
        log = (lambda message: self.stdout.write(message)) if verbose else (lambda message: None)
        try:
            summary = seed_demo(scale=scale, log=log)
        except DemoDataConflict as exc:
            raise CommandError(str(exc)) from exc
        if not verbose:
            return
        self.stdout.write(
            self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD}; demo use only):")
        )
        for user in summary["users"]:
            self.stdout.write(f"  {user['role']:<14} {user['username']:<16} {user['jurisdiction']}")
