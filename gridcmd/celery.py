"""The Celery app. With REDIS_URL set it talks to Redis; without, settings make every task
run eagerly in-process (the embedded default)."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcmd.settings")

app = Celery("gridcmd")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _settle(**kwargs) -> None:
    """Each pool process, once it has loaded the project (gridcmd.process)."""
    from gridcmd.process import settle

    settle()
