"""The five-level grid tree (五级网格), households (户) and ten-household groups (十户联防).

Tree storage is a materialized path of grid codes (see docs/adr/0002-tree-storage.md):
`path` is "/<city code>/<county code>/.../<own code>/", so a subtree is one indexed prefix
match and the ancestors of a node are read off its own row without a query.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from .scoping import ScopedQuerySet


class Level(models.IntegerChoices):
    CITY = 1, _("city")
    COUNTY = 2, _("county")
    TOWNSHIP = 3, _("township")
    VILLAGE = 4, _("village")
    HAMLET = 5, _("hamlet")


class Category(models.TextChoices):
    BORDER = "border", _("border")
    NON_BORDER = "non_border", _("non-border")
    UNIT = "unit", _("work unit")


class Kind(models.TextChoices):
    CELL = "cell", _("cell grid")
    DEDICATED = "dedicated", _("dedicated grid")


class GridNodeQuerySet(ScopedQuerySet):
    path_field = "path"

    def territorial(self):
        return self.exclude(category=Category.UNIT).filter(kind=Kind.CELL)

    def subtree_of(self, node, *, include_self=True):
        qs = self.filter(path__startswith=node.path)
        return qs if include_self else qs.exclude(pk=node.pk)


class GridNode(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    category = models.CharField(
        _("category"), max_length=16, choices=Category.choices, default=Category.NON_BORDER
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.CELL)
    expected_households = models.PositiveIntegerField(_("expected households"), default=0)
    expected_population = models.PositiveIntegerField(_("expected population"), default=0)
    # GeoJSON geometry (Polygon or MultiPolygon, WGS 84), validated with shapely on write.
    boundary = models.JSONField(_("boundary"), null=True, blank=True)
    point_lng = models.FloatField(_("longitude"), null=True, blank=True)
    point_lat = models.FloatField(_("latitude"), null=True, blank=True)
    # Materialized path of codes; maintained only by grids.services.
    path = models.CharField(max_length=255, editable=False)
    depth = models.PositiveSmallIntegerField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GridNodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("grid")
        verbose_name_plural = _("grids")
        ordering = ["path"]
        indexes = [
            # The unique constraint indexes path for equality and ordering; varchar_pattern_ops
            # lets PostgreSQL also use an index for LIKE 'prefix%' under any collation.
            models.Index(
                fields=["path"], name="grid_path_like_idx", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(fields=["parent", "level", "category"], name="grid_children_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["path"], name="grid_path_unique"),
            models.CheckConstraint(
                condition=Q(level__gte=1, level__lte=5), name="grid_level_range"
            ),
            models.CheckConstraint(
                condition=Q(category__in=[c.value for c in Category]), name="grid_category_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in Kind]), name="grid_kind_valid"
            ),
            # Only a territorial city may stand at the root.
            models.CheckConstraint(
                condition=Q(parent__isnull=False)
                | (Q(level=Level.CITY) & Q(kind=Kind.CELL) & ~Q(category=Category.UNIT)),
                name="grid_root_is_city",
            ),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="grid_not_own_parent"),
            models.CheckConstraint(condition=Q(depth__gte=1), name="grid_depth_positive"),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def is_territorial(self) -> bool:
        return self.category != Category.UNIT and self.kind == Kind.CELL

    @property
    def ancestor_codes(self) -> list[str]:
        """Codes from the root down to the parent, read off the path without a query."""
        return self.path.strip("/").split("/")[:-1]


class HouseholdQuerySet(ScopedQuerySet):
    path_field = "grid__path"


class Household(models.Model):
    code = models.CharField(_("household code"), max_length=32, unique=True)
    grid = models.ForeignKey(
        GridNode, verbose_name=_("grid"), on_delete=models.PROTECT, related_name="households"
    )
    group = models.ForeignKey(
        "TenHouseholdGroup",
        verbose_name=_("ten-household group"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="households",
    )
    address = models.CharField(_("address"), max_length=200)
    head_name = models.CharField(_("head of household"), max_length=50)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    size = models.PositiveSmallIntegerField(_("household size"), default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = HouseholdQuerySet.as_manager()

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(size__gte=1), name="household_size_positive"),
        ]

    def __str__(self):
        return f"{self.head_name} ({self.code})"


class TenHouseholdGroupQuerySet(ScopedQuerySet):
    path_field = "hamlet__path"


class TenHouseholdGroup(models.Model):
    """十户联防: about ten neighbouring households of one hamlet under a 联户长
    (household-group leader), who reports at once any change in who lives there."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    hamlet = models.ForeignKey(
        GridNode,
        verbose_name=_("hamlet"),
        on_delete=models.PROTECT,
        related_name="household_groups",
    )

    leader = models.ForeignKey(
        "personnel.Person",
        verbose_name=_("household-group leader"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="household_groups_led",
    )

    objects = TenHouseholdGroupQuerySet.as_manager()

    class Meta:
        verbose_name = _("ten-household group")
        verbose_name_plural = _("ten-household groups")
        ordering = ["code"]

    def __str__(self):
        return self.name
