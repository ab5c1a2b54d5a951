from django.contrib import admin

from .models import GridNode, Household, TenHouseholdGroup


@admin.register(GridNode)
class GridNodeAdmin(admin.ModelAdmin):
    # Writes go through grids.services (import, API); the admin is for looking.
    list_display = ("code", "name", "level", "category", "kind", "parent")
    list_filter = ("level", "category", "kind")
    search_fields = ("code", "name")
    readonly_fields = [f.name for f in GridNode._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ("code", "head_name", "grid", "size")
    search_fields = ("code", "head_name")
    raw_id_fields = ("grid", "group")


@admin.register(TenHouseholdGroup)
class TenHouseholdGroupAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "hamlet")
    raw_id_fields = ("hamlet", "leader")
