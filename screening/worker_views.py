"""The grid worker's pages (phone first, /work/): their grids, a grid's households with
today's status, and the one-screen check form. Thin adapters over screening.selectors:
every page shows only what worker_grids() lets the user write for (404 otherwise).

The pages never post a form: checks and zero reports go through the browser's queue
(static/js/checkqueue.js) to the API, so a check made offline is kept and sent later.
A service worker (static/js/worker-sw.js, served at /work/sw.js) keeps the last copy of
each page and the static files, so a page reopened without network still shows the queue
(docs/adr/0013-worker-pages-offline.md).
"""

import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from .metrics import METRICS
from .models import Method
from .selectors import (
    WORKER_GRID_LIMIT,
    households_with_status,
    local_today,
    worker_grid_get,
    worker_leaf_grids,
)
from .services import MAX_COUNT, NOTE_MAX

_CODE = "__CODE__"  # the queue builds the zero-report URL of any grid from this template

#: The service worker's source; the view serves it with its configuration in front.
SERVICE_WORKER_SOURCE = "js/worker-sw.js"
#: Every static file the worker pages load (base.html's and the worker templates'): the
#: service worker caches them on install. A test keeps this list in step with the pages.
WORKER_STATIC_FILES = ("css/app.css", "css/worker.css", "js/checkqueue.js")


def _queue_context(request) -> dict:
    """What every worker page gives the queue script: where to send, and its strings."""
    return {
        "queue_config": {
            "user": request.user.pk,
            "checksUrl": reverse("checks-api:check-list"),
            "zeroUrl": reverse("checks-api:zero-report", args=[_CODE]),
            "codePlaceholder": _CODE,
            "timeZone": settings.TIME_ZONE,
            "maxCount": MAX_COUNT,
            "serviceWorker": reverse("work:service-worker"),
        },
        "queue_strings": {
            "waiting": _("Waiting to send"),
            "sending": _("Sending…"),
            "allSent": _("Everything has been sent."),
            "offline": _("No network: saved on this phone, will be sent when the network is back."),
            "retry": _("The server did not answer; trying again in %(s)s s."),
            "login": _("You have been logged out: log in again to send what is waiting."),
            "saved": _("Saved on this phone; sending…"),
            "sent": _("Sent."),
            "error": _("Refused — please check and enter it again"),
            "discard": _("Discard"),
            "check": _("Check"),
            "zeroReport": _("Zero report"),
            "noStorage": _("This browser cannot keep checks offline (storage is off)."),
            "range": _("Each count must be a whole number from 0 to %(max)s."),
            "offlineCopy": _("Offline: showing the page as last loaded."),
        },
    }


@login_required
def worker_home(request):
    today = local_today()
    grids = list(worker_leaf_grids(user=request.user, on=today))
    return render(
        request,
        "screening/worker_home.html",
        {
            "grids": grids,
            "today": today,
            "truncated": len(grids) >= WORKER_GRID_LIMIT,
            "limit": WORKER_GRID_LIMIT,
            **_queue_context(request),
        },
    )


@login_required
def worker_grid(request, code: str):
    today = local_today()
    node = worker_grid_get(user=request.user, code=code, on=today)
    households = list(households_with_status(user=request.user, grid=node, day=today))
    checked = sum(1 for h in households if h.checked)
    return render(
        request,
        "screening/worker_grid.html",
        {
            "node": node,
            "households": households,
            "checked": checked,
            "today": today,
            **_queue_context(request),
        },
    )


@login_required
def worker_check(request, code: str):
    today = local_today()
    household = (
        households_with_status(user=request.user, grid=None, day=today)
        .select_related("grid")
        .filter(code=code)
        .first()
    )
    if household is None:
        raise Http404
    return render(
        request,
        "screening/worker_check.html",
        {
            "household": household,
            # Persons present starts at the household's size: one tap fewer in most homes.
            "steppers": [
                (m, min(household.size, MAX_COUNT) if m.name == "persons_present" else 0)
                for m in METRICS
            ],
            "methods": Method.choices,
            "note_max": NOTE_MAX,
            "max_count": MAX_COUNT,
            "today": today,
            **_queue_context(request),
        },
    )


@require_safe
def worker_service_worker(request):
    """The service worker script, at /work/ so that its scope covers the worker pages. No
    login: it holds no data, and the browser fetches it again on its own. No database.

    The cache version is a hash of the script and of every static file it caches, so any
    change to one of them installs a new worker, whose new cache replaces the old one, even
    with DEBUG on, where the static file names carry no hash."""
    source = Path(finders.find(SERVICE_WORKER_SOURCE)).read_bytes()
    assets = [static(name) for name in WORKER_STATIC_FILES]
    digest = hashlib.sha256(source)
    for name, url in zip(WORKER_STATIC_FILES, assets, strict=True):
        digest.update(url.encode())
        digest.update(Path(finders.find(name)).read_bytes())
    config = {
        "version": digest.hexdigest()[:12],
        "staticUrl": settings.STATIC_URL,
        "assets": assets,
    }
    body = f'"use strict";\nvar CONFIG = {json.dumps(config)};\n\n'.encode() + source
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    # The browser checks for a new worker on each visit; it must ask the server each time.
    response["Cache-Control"] = "no-cache"
    return response
