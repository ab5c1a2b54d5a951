"""The grid tree's REST API (read-only): thin adapters over grids.selectors.

Scoping is the selectors' job (they all go through ScopedQuerySet.visible_to); a grid
outside the user's jurisdiction comes back from grid_get as Http404, which DRF answers with
the same body as a code that does not exist. Filters are the selector's keyword arguments,
validated by GridFilterSerializer, so there is one filtering mechanism (no django-filter
backend on these views).
"""

import re

from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.response import Response

from gridcmd.i18n import bilingual
from gridcmd.masking import mask_phone

from .models import Category, GridNode, Household, Level
from .scoping import path_in_jurisdiction
from .selectors import (
    grid_breadcrumbs,
    grid_children,
    grid_children_feature_collection,
    grid_get,
    grid_list,
    household_list,
)

TAGS = ["grids"]

# Any grid code: statistical division codes, hamlet codes and unit/dedicated codes alike.
GRID_CODE = re.compile(r"[A-Za-z0-9-]{1,32}")

# Level names accepted in filters: English names and the Chinese one-character names used
# in import files.
LEVEL_NAMES = {level.name.lower(): level.value for level in Level} | {
    "市": Level.CITY,
    "县": Level.COUNTY,
    "乡": Level.TOWNSHIP,
    "村": Level.VILLAGE,
    "屯": Level.HAMLET,
}


def _invalid(message, **params):
    # API validation messages carry Chinese and English together, like import errors.
    raise serializers.ValidationError(bilingual(message, **params))


# --- Input ----------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class LevelFilterField(serializers.Field):
    """A level given as its number (1-5) or its name (city ... hamlet, or 市/县/乡/村/屯)."""

    def to_internal_value(self, data):
        text = str(data).strip().lower()
        if text.isascii() and text.isdigit() and int(text) in Level.values:  # not "²"
            return int(text)
        if text in LEVEL_NAMES:
            return int(LEVEL_NAMES[text])
        _invalid(
            _('Unknown level "%(value)s": use 1-5 or city, county, township, village, hamlet.'),
            value=str(data)[:40],
        )

    def to_representation(self, value):
        return value


class CategoryFilterField(serializers.ChoiceField):
    def to_internal_value(self, data):
        if str(data) not in self.choices:
            _invalid(
                _('Unknown category "%(value)s": use border, non_border or unit.'),
                value=str(data)[:40],
            )
        return str(data)


class GridFilterSerializer(serializers.Serializer):
    parent = serializers.CharField(
        required=False, help_text=_("Code of the parent grid: only its direct children.")
    )
    level = LevelFilterField(
        required=False,
        help_text=_("Level number 1-5 or name: city, county, township, village, hamlet."),
    )
    category = CategoryFilterField(
        choices=Category.choices,
        required=False,
        help_text=_("Category: border, non_border or unit."),
    )

    def validate_parent(self, value):
        if not GRID_CODE.fullmatch(value):
            _invalid(
                _('"%(value)s" is not a grid code (up to 32 letters, digits or -).'),
                value=value[:40],
            )
        return value


# --- Output ---------------------------------------------------------------------------------


class GridCrumbSerializer(serializers.ModelSerializer):
    class Meta:
        model = GridNode
        fields = ["code", "name", "level"]


class GridSerializer(serializers.ModelSerializer):
    parent = serializers.SerializerMethodField(help_text=_("Code of the parent grid."))
    level_label = serializers.CharField(source="get_level_display", read_only=True)
    category_label = serializers.CharField(source="get_category_display", read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    point = serializers.SerializerMethodField(
        help_text=_("Representative point as [longitude, latitude] (WGS 84).")
    )
    child_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = GridNode
        fields = [
            "code",
            "name",
            "parent",
            "level",
            "level_label",
            "category",
            "category_label",
            "kind",
            "kind_label",
            "expected_households",
            "expected_population",
            "point",
            "child_count",
        ]

    def get_parent(self, node) -> str | None:
        # Read off the materialized path: no join, no extra query per row. The parent of the
        # jurisdiction root lies outside the jurisdiction, so it is not named (null), as at
        # the root of the tree.
        codes = node.ancestor_codes
        if not codes:
            return None
        parent_path = node.path.rstrip("/").rsplit("/", 1)[0] + "/"
        request = self.context.get("request")
        if request is None or not path_in_jurisdiction(request.user, parent_path):
            return None
        return codes[-1]

    @extend_schema_field(
        {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 2,
            "maxItems": 2,
            "nullable": True,
        }
    )
    def get_point(self, node):
        if node.point_lng is None or node.point_lat is None:
            return None
        return [node.point_lng, node.point_lat]


class GridDetailSerializer(GridSerializer):
    boundary = serializers.JSONField(
        read_only=True, help_text=_("GeoJSON Polygon or MultiPolygon (WGS 84), or null.")
    )
    ancestors = GridCrumbSerializer(
        many=True,
        read_only=True,
        help_text=_("Breadcrumbs from the user's jurisdiction root down to the parent."),
    )

    class Meta(GridSerializer.Meta):
        fields = GridSerializer.Meta.fields + ["boundary", "ancestors"]


class GridFeatureSerializer(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.CharField()
    geometry = serializers.JSONField(allow_null=True)
    properties = serializers.DictField()


class GridFeatureCollectionSerializer(serializers.Serializer):
    type = serializers.CharField()
    features = GridFeatureSerializer(many=True)


class HouseholdSerializer(serializers.ModelSerializer):
    grid = serializers.CharField(source="grid.code", read_only=True)
    grid_name = serializers.CharField(source="grid.name", read_only=True)
    phone = serializers.SerializerMethodField(help_text=_("Masked phone number."))

    class Meta:
        model = Household
        fields = ["code", "grid", "grid_name", "address", "head_name", "phone", "size"]

    def get_phone(self, household) -> str:
        return mask_phone(household.phone)


# --- Views ----------------------------------------------------------------------------------


class GridListApi(generics.ListAPIView):
    serializer_class = GridSerializer
    filter_backends: list = []  # filters are the selector's arguments (see module docstring)

    @extend_schema(tags=TAGS, parameters=[GridFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = {key: value for key, value in self.request.query_params.items() if value != ""}
        filters = GridFilterSerializer(data=query)
        filters.is_valid(raise_exception=True)
        # child_count lets a client show which rows drill down, in the same query; boundaries
        # can be large and are only served by detail and geojson.
        return (
            grid_list(user=self.request.user, **filters.validated_data)
            .annotate(child_count=Count("children"))
            .defer("boundary")
        )


class GridDetailApi(generics.GenericAPIView):
    serializer_class = GridDetailSerializer

    @extend_schema(tags=TAGS)
    def get(self, request, code):
        node = grid_get(user=request.user, code=code)
        node.child_count = grid_children(user=request.user, node=node).count()
        node.ancestors = grid_breadcrumbs(user=request.user, node=node)[:-1]
        return Response(self.get_serializer(node).data)


class GridChildrenApi(generics.ListAPIView):
    serializer_class = GridSerializer
    filter_backends: list = []

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        node = grid_get(user=self.request.user, code=self.kwargs["code"])
        return grid_children(user=self.request.user, node=node).defer("boundary")


class GridGeoJsonApi(generics.GenericAPIView):
    serializer_class = GridFeatureCollectionSerializer

    @extend_schema(
        tags=TAGS,
        summary=_("The grid's children as a GeoJSON FeatureCollection"),
    )
    def get(self, request, code):
        node = grid_get(user=request.user, code=code)
        return Response(grid_children_feature_collection(user=request.user, node=node))


class GridHouseholdsApi(generics.ListAPIView):
    serializer_class = HouseholdSerializer
    filter_backends: list = []

    @extend_schema(tags=TAGS, summary=_("Households in the grid's subtree (phones masked)"))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        node = grid_get(user=self.request.user, code=self.kwargs["code"])
        return household_list(user=self.request.user, grid=node)
