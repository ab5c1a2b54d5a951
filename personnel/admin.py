"""Admin pages for personnel. Reference data (roles, post types, team templates) is plain
data checked by database constraints, so it is edited here. People, organisations,
assignments and post claims obey rules across rows (one grid chief, 包保 leader one level
up, masking), so their writes go through personnel.services (API, import) and the admin
only looks; identity numbers and mobiles are masked here too."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from gridcmd.masking import mask_id_number, mask_phone

from .models import (
    Assignment,
    AuditEvent,
    Organisation,
    Person,
    PostClaim,
    PostType,
    Role,
    TeamRequirement,
    TeamTemplate,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "is_grid_chief", "is_baobao_leader", "sort_order")
    search_fields = ("code", "name_zh", "name_en")


@admin.register(PostType)
class PostTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en")


class TeamRequirementInline(admin.TabularInline):
    model = TeamRequirement
    extra = 1


@admin.register(TeamTemplate)
class TeamTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "levels", "n", "requires_checkpoints")
    inlines = [TeamRequirementInline]


@admin.register(Organisation)
class OrganisationAdmin(ReadOnlyAdmin):
    list_display = ("name", "type", "parent", "registered_grid")
    list_filter = ("type",)
    search_fields = ("name",)


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "masked_mobile",
        "masked_id_number",
        "political_status",
        "organisation",
        "registered_grid",
    )
    list_filter = ("political_status",)
    search_fields = ("name",)
    fields = (
        "name",
        "masked_mobile",
        "masked_id_number",
        "political_status",
        "organisation",
        "registered_grid",
        "user",
    )
    readonly_fields = fields
    list_select_related = ("organisation", "registered_grid")

    @admin.display(description=_("mobile"))
    def masked_mobile(self, person):
        return mask_phone(person.mobile)

    @admin.display(description=_("identity number"))
    def masked_id_number(self, person):
        return mask_id_number(person.id_number)


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ("person", "grid", "role", "axis", "start_date", "end_date", "sent_down")
    list_filter = ("role", "axis", "sent_down")
    search_fields = ("person__name", "grid__code", "grid__name")
    list_select_related = ("person", "grid", "role")


@admin.register(PostClaim)
class PostClaimAdmin(ReadOnlyAdmin):
    list_display = ("person", "grid", "post_type", "claimed_on", "released_on")
    list_filter = ("post_type",)
    list_select_related = ("person", "grid", "post_type")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "action", "person", "detail")
    list_filter = ("action",)
    list_select_related = ("actor", "person")
