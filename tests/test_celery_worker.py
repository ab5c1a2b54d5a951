"""The rollup tasks through a real Celery worker: a `celery -A gridcmd worker` subprocess on
Redis, pointed at this test run's PostgreSQL database, folds what the test writes."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from screening import tasks
from screening.models import DailyStat, RollupDelta
from tests.factories import Tree, make_household, make_user
from tests.test_rollup import assert_rollup_correct, counts, void_check, write_check

BASE_DIR = Path(__file__).resolve().parent.parent
WAIT = 60  # seconds for the worker to start and answer

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"),
        reason="REDIS_URL is not set: the embedded default has no broker for a worker",
    ),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the worker process needs a database it can share with the test (PostgreSQL)",
    ),
]


def database_url() -> str:
    """The URL of the test database pytest-django created (test_<name>)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker_queue(transactional_db):
    """Start a worker consuming a queue of its own (so no other worker on this Redis takes
    the test's tasks, and this worker takes no one else's); stop it afterwards."""
    queue = f"rollup-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "gridcmd.settings",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "gridcmd",
            "worker",
            "--pool=solo",
            "--queues",
            queue,
            "--hostname",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield queue
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        # The worker's log helps when the test fails; pytest shows it then.
        print(output[-5000:])
        connection.close()  # fresh connection for the flush that follows


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_real_worker_runs_the_rollup_tasks(worker_queue):
    tree = Tree()
    worker = make_user(roles=["grid_worker"])
    day = timezone.localdate()
    homes = [make_household(tree.h11), make_household(tree.h12), make_household(tree.nh1)]
    first = write_check(homes[0], day, worker=worker, counts=counts(persons_present=3, fever=1))
    write_check(homes[2], day, worker=worker, counts=counts(persons_present=2))
    assert not settings.CELERY_TASK_ALWAYS_EAGER  # the writes queued work, nothing ran yet
    assert RollupDelta.objects.count() == 2 and not DailyStat.objects.exists()

    # The beat's task: the day's first run builds it.
    tasks.rollup_incremental.apply_async(queue=worker_queue)
    wait_until(lambda: not RollupDelta.objects.exists(), "the incremental rollup")
    assert_rollup_correct(day)
    assert DailyStat.objects.get(node=tree.baise, day=day).persons_present == 5

    # Then a void and a new check fold in incrementally.
    void_check(first)
    write_check(homes[1], day, worker=worker, counts=counts(persons_present=4))
    tasks.rollup_incremental.apply_async(queue=worker_queue)
    wait_until(lambda: not RollupDelta.objects.exists(), "the second incremental rollup")
    assert_rollup_correct(day)
    baise = DailyStat.objects.get(node=tree.baise, day=day)
    assert (baise.persons_present, baise.fever, baise.leaves_reported) == (6, 0, 2)

    # The nightly full recompute and the hourly cross-check find nothing to change.
    result = tasks.rollup_full.apply_async(args=[day.isoformat()], queue=worker_queue).get(
        timeout=WAIT
    )
    assert result == {
        "day": day.isoformat(),
        "nodes": 13,
        "inserted": 0,
        "updated": 0,
        "deltas_consumed": 0,
        "differences": 0,
    }
    DailyStat.objects.filter(node=tree.v1, day=day).update(persons_present=0)
    result = tasks.rollup_crosscheck_today.apply_async(queue=worker_queue).get(timeout=WAIT)
    assert result["differences"] == 1
    assert_rollup_correct(day)
