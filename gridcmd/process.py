"""What a long-running process (a gunicorn worker, a Celery worker) does once the project
is loaded: import every view, then move every object that exists by then out of the
garbage collector's reach (`gc.freeze()`, as the Python documentation advises for servers).

Django, DRF and the project make about 80,000 long-lived objects. Without this, each full
collection walks all of them: on the bench it took 40–50 ms in the middle of an
incremental rollup, and a request that triggers one pays the same (docs/performance.md).
"""

import gc

from django.urls import get_resolver


def settle() -> None:
    get_resolver().url_patterns  # noqa: B018 - imports the URL conf, and so every view
    gc.collect()
    gc.freeze()
