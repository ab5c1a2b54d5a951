"""The statistics API: a node's daily numbers with one entry per child, a node's daily
series, and the daily report (日报) as XLSX. Thin adapters over screening.stats.

A grid outside the user's jurisdiction is a 404 (grids.selectors.grid_get). Dates are
local dates (Asia/Shanghai); a bad date or range is a 400 naming the parameter.
"""

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from gridcmd.i18n import bilingual
from grids.selectors import grid_get

from .metrics import BY_NAME, COVERAGE_FIELDS, METRIC_NAMES
from .reports import XLSX_CONTENT_TYPE, daily_report_response
from .stats import parse_day, parse_range, stats_series, stats_snapshot, stats_today

TAGS = ["statistics"]

_COVERAGE_HELP = {
    "households_total": _("Households in the subtree."),
    "households_checked": _("Households in the subtree checked on the day (each counted once)."),
    "leaves_expected": _("Leaf grids in the subtree, each expected to report every day."),
    "leaves_reported": _("Leaf grids that reported on the day: a check or a zero report."),
}


def _values_fields() -> dict:
    """The numbers of one node and day, named after the metric definitions."""
    fields = {
        name: serializers.IntegerField(min_value=0, help_text=BY_NAME[name].label)
        for name in METRIC_NAMES
    }
    fields |= {
        name: serializers.IntegerField(min_value=0, help_text=_COVERAGE_HELP[name])
        for name in COVERAGE_FIELDS
    }
    fields["coverage"] = serializers.FloatField(
        allow_null=True,
        help_text=_("households_checked / households_total, 0 to 1; null without households."),
    )
    fields["as_of"] = serializers.DateTimeField(
        allow_null=True,
        help_text=_("When these numbers were last updated; null when nothing has been rolled up."),
    )
    return fields


def _entry(stats) -> dict:
    return {**stats.values, "coverage": stats.coverage, "as_of": stats.as_of}


# --- Output ---------------------------------------------------------------------------------

GridStatsEntrySerializer = type(
    "GridStatsEntrySerializer",
    (serializers.Serializer,),
    {
        "code": serializers.CharField(),
        "name": serializers.CharField(),
        "level": serializers.IntegerField(),
        "category": serializers.CharField(),
        "kind": serializers.CharField(),
        **_values_fields(),
    },
)

GridStatsDaySerializer = type(
    "GridStatsDaySerializer",
    (serializers.Serializer,),
    {
        "date": serializers.DateField(),
        "as_of": serializers.DateTimeField(
            allow_null=True,
            help_text=_("The newest update among the node and its children on the day."),
        ),
        "node": GridStatsEntrySerializer(help_text=_("The node's totals over its whole subtree.")),
        "children": GridStatsEntrySerializer(
            many=True, help_text=_("One entry per child grid, by code.")
        ),
    },
)

GridStatsPointSerializer = type(
    "GridStatsPointSerializer",
    (serializers.Serializer,),
    {"date": serializers.DateField(), **_values_fields()},
)

GridStatsSeriesSerializer = type(
    "GridStatsSeriesSerializer",
    (serializers.Serializer,),
    {
        "code": serializers.CharField(),
        "name": serializers.CharField(),
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "series": GridStatsPointSerializer(
            many=True,
            help_text=_("The node's totals for every date from `from` to `to`, oldest first."),
        ),
    },
)


def _node_entry(stats) -> dict:
    node = stats.node
    return {
        "code": node.code,
        "name": node.name,
        "level": node.level,
        "category": node.category,
        "kind": node.kind,
        **_entry(stats),
    }


# --- Views ----------------------------------------------------------------------------------

_DATE = OpenApiParameter(
    "date",
    OpenApiTypes.DATE,
    description=_("The local date (Asia/Shanghai), YYYY-MM-DD; today when omitted."),
)


class GridStatsApi(APIView):
    @extend_schema(
        tags=TAGS,
        summary=_("A grid's daily numbers, or its daily series"),
        description=_(
            "With `date` (or nothing: today), the node's totals over its subtree and one entry per "
            "child. With `from` and `to` instead, the node's own totals for each date of the range "
            "(at most 366 days); children are not included in a series: ask for each child's "
            "series by its code."
        ),
        parameters=[
            _DATE,
            OpenApiParameter(
                "from", OpenApiTypes.DATE, description=_("First date of a daily series.")
            ),
            OpenApiParameter(
                "to", OpenApiTypes.DATE, description=_("Last date of a daily series (inclusive).")
            ),
        ],
        responses={
            200: PolymorphicProxySerializer(
                component_name="GridStats",
                serializers=[GridStatsDaySerializer, GridStatsSeriesSerializer],
                resource_type_field_name=None,
            ),
            400: OpenApiResponse(description=_("A bad date or range.")),
            404: OpenApiResponse(description=_("No such grid in your jurisdiction.")),
        },
    )
    def get(self, request, code):
        params = request.query_params
        if "from" in params or "to" in params:
            if params.get("date"):
                raise serializers.ValidationError(
                    {"date": [bilingual(_("Give either date or from/to, not both."))]}
                )
            first, last = parse_range(params.get("from"), params.get("to"))
            node = grid_get(user=request.user, code=code)
            series = stats_series(user=request.user, node=node, start=first, end=last)
            data = {
                "code": node.code,
                "name": node.name,
                "from": first,
                "to": last,
                "series": [{"date": s.day, **_entry(s)} for s in series],
            }
            return Response(GridStatsSeriesSerializer(data).data)

        day = parse_day(params.get("date"), param="date", default=stats_today())
        node = grid_get(user=request.user, code=code)
        snapshot = stats_snapshot(user=request.user, node=node, day=day)
        data = {
            "date": day,
            "as_of": snapshot.as_of,
            "node": _node_entry(snapshot.node),
            "children": [_node_entry(c) for c in snapshot.children],
        }
        return Response(GridStatsDaySerializer(data).data)


class XlsxRenderer(BaseRenderer):
    """Lets a client ask for the spreadsheet by its media type; the view writes the bytes."""

    media_type = XLSX_CONTENT_TYPE
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else JSONRenderer().render(data)


class GridDailyReportApi(APIView):
    # JSON first, so errors (400, 404) are JSON for a client that accepts anything.
    renderer_classes = [JSONRenderer, XlsxRenderer]

    @extend_schema(
        tags=TAGS,
        summary=_("The daily report (日报) of a grid as XLSX"),
        description=_("The node and its children for a date, as a county clerk hands it up."),
        parameters=[_DATE],
        responses={
            (200, XLSX_CONTENT_TYPE): OpenApiResponse(
                OpenApiTypes.BINARY, description=_("The workbook.")
            ),
            400: OpenApiResponse(description=_("A bad date.")),
            404: OpenApiResponse(description=_("No such grid in your jurisdiction.")),
        },
    )
    def get(self, request, code) -> HttpResponse:
        day = parse_day(request.query_params.get("date"), param="date", default=stats_today())
        node = grid_get(user=request.user, code=code)
        return daily_report_response(user=request.user, node=node, day=day)
