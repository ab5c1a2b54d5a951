"""The screening data in the admin, read-only: checks, their revisions and zero reports are
written only through screening.services (the API and the worker's pages), so every write
keeps its audit and reaches the rollup; daily statistics only through the rollup."""

from django.contrib import admin

from .metrics import METRIC_NAMES
from .models import Check, CheckRevision, DailyStat, RollupDelta, ZeroReport


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CheckRevisionInline(admin.TabularInline):
    model = CheckRevision
    fields = ("at", "action", "actor", "before", "after")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Check)
class CheckAdmin(ReadOnlyAdmin):
    list_display = ("checked_at", "household", "grid", "worker", "method", "voided_at")
    list_filter = ("checked_on", "method")
    search_fields = ("uuid", "household__code", "grid__code", "worker__username")
    list_select_related = ("household", "grid", "worker")
    date_hierarchy = "checked_on"
    raw_id_fields = ("household", "grid", "worker")
    inlines = [CheckRevisionInline]


@admin.register(CheckRevision)
class CheckRevisionAdmin(ReadOnlyAdmin):
    list_display = ("at", "action", "check_record", "actor")
    list_filter = ("action",)
    list_select_related = ("check_record", "actor")
    raw_id_fields = ("check_record", "actor")


@admin.register(ZeroReport)
class ZeroReportAdmin(ReadOnlyAdmin):
    list_display = ("reported_on", "grid", "reporter", "created_at")
    list_filter = ("reported_on",)
    search_fields = ("grid__code", "grid__name")
    list_select_related = ("grid", "reporter")
    raw_id_fields = ("grid", "reporter")


@admin.register(DailyStat)
class DailyStatAdmin(ReadOnlyAdmin):
    list_display = ("day", "node", "households_checked", "households_total", *METRIC_NAMES[:3])
    list_filter = ("day",)
    search_fields = ("node__code", "node__name")
    list_select_related = ("node",)
    raw_id_fields = ("node",)


@admin.register(RollupDelta)
class RollupDeltaAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "grid_id", "day")
