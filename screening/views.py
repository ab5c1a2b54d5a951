"""The commander's dashboard (指挥看板) and its daily report download: thin adapters from a
request to screening.stats and a template.

Scoping is grid_get's (404 outside the jurisdiction). The page costs a fixed number of
queries whatever the number of children or days: the node, its breadcrumbs, its children,
the DailyStat rows of the trend and of the children, and at most one more for nodes
without a row (screening.stats).
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from grids.selectors import grid_breadcrumbs, grid_children, grid_feature, grid_get

from .metrics import METRICS
from .reports import daily_report_response
from .stats import TREND_DAYS, parse_day, stats_snapshot, stats_today

# The page builds each child's dashboard URL from this one, so the script needs no routes.
_CODE_PLACEHOLDER = "__CODE__"
#: Figures counted in hundreds or thousands; the trend draws them against their own axis.
TREND_VOLUMES = ("households_checked", "persons_present", "samples_taken")


def _day_or_error(request):
    """The ?date= asked for, or today and the reason the one given was refused."""
    today = stats_today()
    try:
        return parse_day(request.GET.get("date"), param="date", default=today), None
    except ValidationError as exc:
        return today, " ".join(exc.message_dict["date"])


def _ratio(value):
    return None if value is None else round(value * 100, 1)


@login_required
def dashboard(request, code: str):
    user = request.user
    node = grid_get(user=user, code=code)
    day, date_error = _day_or_error(request)
    today = stats_today()
    children = list(grid_children(user=user, node=node))
    snapshot = stats_snapshot(
        user=user, node=node, day=day, trend_days=TREND_DAYS, children=children
    )
    current, previous = snapshot.node, snapshot.previous

    metrics = [
        {
            "name": m.name,
            "label": capfirst(str(m.label)),
            "risk": m.risk,
            "value": current[m.name],
            "previous": previous[m.name],
            "delta": current[m.name] - previous[m.name],
            "change": abs(current[m.name] - previous[m.name]),
        }
        for m in METRICS
    ]
    dashboard_url = reverse("screening:dashboard", args=[_CODE_PLACEHOLDER])
    rows = [
        {
            "node": c.node,
            "url": dashboard_url.replace(_CODE_PLACEHOLDER, c.node.code),
            "values": c.values,
            "metrics": [(m.name, m.risk, c[m.name]) for m in METRICS],
            "coverage": _ratio(c.coverage),
            "leaves_missing": c.leaves_missing,
        }
        for c in snapshot.children
    ]
    features = {
        "type": "FeatureCollection",
        "features": [
            grid_feature(
                row["node"],
                url=row["url"],
                coverage=row["coverage"],
                leaves_missing=row["leaves_missing"],
                **row["values"],
            )
            for row in rows
            if row["node"].boundary
        ],
    }
    # Volumes (hundreds or thousands) go on the left axis as bars, findings (a handful) on
    # the right as lines, so a rise in fever is not flattened against households checked.
    trend_series = [("households_checked", _("Households checked"), False)] + [
        (m.name, capfirst(str(m.label)), m.risk) for m in METRICS
    ]
    trend = {
        "days": [s.day.isoformat() for s in snapshot.series],
        "series": [
            {
                "name": name,
                "label": label,
                "risk": risk,
                "volume": name in TREND_VOLUMES,
                # Seven lines are noise: the findings and the households checked are shown,
                # the other volumes a click on the legend away.
                "selected": name not in TREND_VOLUMES or name == "households_checked",
                "data": [s[name] for s in snapshot.series],
            }
            for name, label, risk in trend_series
        ],
        "axes": [_("Households / persons"), _("Findings")],
    }
    map_metrics = (
        [("coverage", _("Coverage"))]
        + [(m.name, capfirst(str(m.label))) for m in METRICS if m.risk]
        + [("leaves_missing", _("Not reported"))]
    )
    text = {
        "noHouseholds": _("no households"),
        "noLeaves": _("no grids to report"),
        "allReported": _("all reported"),
        "someMissing": _("some not reported"),
        "noneReported": _("none reported"),
        "households": _("households checked"),
        "notReported": _("grids not reported"),
    }
    context = {
        "node": node,
        "breadcrumbs": grid_breadcrumbs(user=user, node=node),
        "day": day,
        "today": today,
        "is_today": day == today,
        "previous_day": snapshot.series[-2].day,
        "date_error": date_error,
        "current": current,
        "previous": previous,
        "coverage": _ratio(current.coverage),
        "previous_coverage": _ratio(previous.coverage),
        "reporting": _ratio(current.reporting),
        "as_of": snapshot.as_of,
        "metrics": metrics,
        "rows": rows,
        "not_reported": snapshot.not_reported,
        "features": features,
        "trend": trend,
        "map_metrics": map_metrics,
        "text": text,
        "trend_days": TREND_DAYS,
        "MAP_TILE_URL": settings.MAP_TILE_URL,
        "MAP_TILE_ATTRIBUTION": settings.MAP_TILE_ATTRIBUTION,
    }
    return render(request, "screening/dashboard.html", context, status=400 if date_error else 200)


@login_required
def daily_report(request, code: str):
    node = grid_get(user=request.user, code=code)
    day, date_error = _day_or_error(request)
    if date_error:
        # A file download has no page to show the message on: say it plainly.
        return HttpResponseBadRequest(date_error, content_type="text/plain; charset=utf-8")
    return daily_report_response(user=request.user, node=node, day=day)
