"""Time the roster import on generated data: `bench_roster_import --rows 100000` writes a
roster of that many rows against the demo grids (`seed_demo --scale baise`), then times a
dry run (validate only), the import (validate + commit) and a re-import of the same file
(validate, nothing to write). Prints the figures; removes what it created unless --keep."""

import datetime
import random
import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from grids.models import GridNode, Level
from personnel.importing import roster_import
from personnel.models import Assignment, Organisation, Person
from personnel.validators import id_check_digit

HEADER = [
    "姓名",
    "手机号",
    "身份证号",
    "单位",
    "政治面貌",
    "网格编码",
    "角色",
    "责任类型",
    "是否下沉",
    "开始日期",
]
# A region code that no demo data uses, so the generated people are easy to remove.
BENCH_REGION = "451099"
ORG_PREFIX = "压测单位"
WORKER_ROLES = ["专职网格员", "兼职网格员", "志愿者", "医生", "民警", "党员", "联户长", "乡贤"]
POLITICAL = ["中共党员", "群众", "共青团员", "中共预备党员", "无党派人士"]
AXES = ["属地", "部门", "单位", "个人"]
SURNAMES = "黄农李王陆韦梁罗莫覃蓝唐周赵陈"
GIVEN = "大山秀英明芳强刚丽华军红平林海云"


def bench_id_number(i: int) -> str:
    birth = datetime.date(1960, 1, 1) + datetime.timedelta(days=i // 1000)
    first17 = f"{BENCH_REGION}{birth:%Y%m%d}{i % 1000:03d}"
    return first17 + id_check_digit(first17)


class Command(BaseCommand):
    help = "Time the roster import (validate, commit, re-import) on a generated file."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument(
            "--encoding", default="gb18030", help="for CSV (default GB18030, as WPS writes)"
        )
        parser.add_argument("--keep", action="store_true", help="keep the imported people")

    def handle(self, *args, rows, format, encoding, keep, **options):
        hamlets = list(
            GridNode.objects.filter(level=Level.HAMLET)
            .order_by("code")
            .values_list("code", flat=True)
        )
        if not hamlets:
            raise CommandError("No hamlet grids: run `manage.py seed_demo --scale baise` first.")
        if Person.objects.filter(id_number__startswith=BENCH_REGION).exists():
            raise CommandError(
                "Bench people are already present (an earlier --keep); remove them first."
            )
        path = self.generate(rows, hamlets, format, encoding)
        self.stdout.write(
            f"{rows:,} rows ({path.stat().st_size / 1e6:.1f} MB {format}) over {len(hamlets):,} hamlets; "
            f"database {connection.vendor}."
        )
        try:
            figures = []
            for label, dry_run in (
                ("validate (dry run)", True),
                ("validate + commit", False),
                ("re-import, unchanged", False),
            ):
                marks = {}

                def progress(percent, marks=marks):
                    # When each phase ended: read 30, load 40, check 50, write 99.
                    for phase, bound in (("read", 30), ("load", 40), ("check", 50), ("write", 99)):
                        if percent >= bound and phase not in marks:
                            marks[phase] = time.perf_counter()

                with path.open("rb") as file:
                    start = time.perf_counter()
                    result = roster_import(
                        file=file, filename=path.name, dry_run=dry_run, progress=progress
                    )
                    elapsed = time.perf_counter() - start
                phases, previous = [], start
                for phase in ("read", "load", "check", "write"):
                    if phase in marks:
                        phases.append(f"{phase} {marks[phase] - previous:.1f} s")
                        previous = marks[phase]
                phases.append(f"commit {start + elapsed - previous:.1f} s")
                if result.errors:
                    raise CommandError(
                        f"{label}: {len(result.errors)} errors, first: {result.errors[0]}"
                    )
                figures.append((label, elapsed, result))
                self.stdout.write(
                    f"  {label}: {elapsed:.1f} s — people {result.people.as_dict()}, "
                    f"assignments {result.assignments.as_dict()}\n    ({', '.join(phases)})"
                )
            self.stdout.write("\n| Step | Rows | Seconds | Rows/s |\n|---|---:|---:|---:|")
            for label, elapsed, _result in figures:
                self.stdout.write(f"| {label} | {rows:,} | {elapsed:.1f} | {rows / elapsed:,.0f} |")
        finally:
            path.unlink(missing_ok=True)
            if not keep:
                self.clean()

    def generate(self, rows: int, hamlets: list[str], format: str, encoding: str) -> Path:
        rng = random.Random(2020)
        organisations = [f"{ORG_PREFIX}{n:03d}" for n in range(200)]
        chiefs = set()

        def row(i: int) -> list[str]:
            grid = hamlets[i % len(hamlets)]
            # The first person on each hamlet is its grid chief; the others are workers.
            role = "网格长" if grid not in chiefs else rng.choice(WORKER_ROLES)
            chiefs.add(grid)
            start = datetime.date(2022, 1, 1) + datetime.timedelta(days=rng.randrange(60))
            return [
                rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                f"139{i:08d}",
                bench_id_number(i),
                rng.choice(organisations),
                rng.choice(POLITICAL),
                grid,
                role,
                rng.choice(AXES),
                rng.choice(["是", "否"]),
                start.isoformat() if i % 2 else f"{start.year}年{start.month}月{start.day}日",
            ]

        if format == "xlsx":
            from openpyxl import Workbook

            workbook = Workbook(write_only=True)
            sheet = workbook.create_sheet()
            sheet.append(HEADER)
            for i in range(rows):
                sheet.append(row(i))
            handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)
            handle.close()
            workbook.save(handle.name)
            return Path(handle.name)
        import csv

        handle = tempfile.NamedTemporaryFile(
            "w", suffix=".csv", delete=False, encoding=encoding, newline=""
        )
        with handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for i in range(rows):
                writer.writerow(row(i))
        return Path(handle.name)

    def clean(self) -> None:
        people = Person.objects.filter(id_number__startswith=BENCH_REGION)
        Assignment.objects.filter(person__in=people).delete()
        people.delete()
        Organisation.objects.filter(name__startswith=ORG_PREFIX, people__isnull=True).delete()
