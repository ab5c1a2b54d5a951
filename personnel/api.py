"""The personnel REST API: people, organisations, assignments, team templates, pioneer
posts, and per grid its team, 包保 chain, staffing compliance and post counts.

Thin adapters: input serializers validate the shape, selectors read (scoped: anything
outside the jurisdiction is a 404), services write and raise ValidationError (answered as
400 by gridcmd.api.exception_handler, messages "中文 / English"). Writes need the
administrator role (403 otherwise, checked before anything is read or written); team
templates apply everywhere, so only a superuser or a city-level administrator writes them.
Mobiles and identity numbers are masked in every response; the full values come only from
POST /people/{id}/reveal/ (permission personnel.view_personal_data, audited) and the
audited tap-to-call redirect of a chain entry (docs/adr/0007).
"""

from django.http import Http404
from django.http.response import HttpResponseRedirectBase
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response

from accounts.roles import Role as UserRole
from accounts.roles import user_has_role
from gridcmd.i18n import bilingual
from gridcmd.masking import mask_id_number, mask_phone
from grids.models import GridNode
from grids.selectors import grid_get

from . import selectors, services
from .compliance import StaffingRollup, Tally, staffing_rollup
from .models import (
    Assignment,
    Axis,
    Organisation,
    OrganisationType,
    Person,
    PoliticalStatus,
    PostClaim,
    PostType,
    Role,
    TeamTemplate,
)

TAGS = ["personnel"]
MAX_ID = 2**63 - 1  # a larger id overflows the database integer (a 500 on SQLite)
GRID_TAGS = ["grids"]


def _invalid(message, **params):
    raise serializers.ValidationError(bilingual(message, **params))


# --- Permissions --------------------------------------------------------------------------------


class AdministratorWrites(BasePermission):
    """Anyone signed in reads (within their jurisdiction); only administrators write."""

    @property
    def message(self):
        return bilingual(_("Only an administrator may change personnel data."))

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or user_has_role(request.user, UserRole.ADMINISTRATOR)


class TemplateWrites(BasePermission):
    @property
    def message(self):
        return bilingual(_("Only a city-level administrator may change team templates."))

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or services.can_edit_templates(request.user)


# --- Reference fields (resolved inside the user's jurisdiction) ----------------------------------


class _Ref(serializers.RelatedField):
    """A reference resolved inside what the user may see; anything else is "unknown",
    worded the same whether it does not exist or lies outside the jurisdiction."""

    lookup = "pk"
    label_text = _("object")

    def scoped(self, user):
        raise NotImplementedError

    def get_queryset(self):
        return self.scoped(self.context["request"].user)

    def to_internal_value(self, data):
        usable = isinstance(data, (str, int)) and not isinstance(data, bool) and str(data).strip()
        obj = self.get_queryset().filter(**{self.lookup: data}).first() if usable else None
        if obj is None:
            _invalid(_('Unknown %(what)s "%(value)s".'), what=self.label_text, value=str(data)[:40])
        return obj

    def to_representation(self, value):
        return getattr(value, self.lookup)


@extend_schema_field(OpenApiTypes.STR)
class GridRef(_Ref):
    lookup = "code"
    label_text = _("grid")

    def scoped(self, user):
        return GridNode.objects.visible_to(user).defer("boundary")


@extend_schema_field(OpenApiTypes.INT)
class PersonRef(_Ref):
    label_text = _("person")

    def scoped(self, user):
        return Person.objects.visible_to(user)

    def to_internal_value(self, data):
        if not (str(data).isascii() and str(data).isdigit() and int(data) <= MAX_ID):
            _invalid(_('Unknown %(what)s "%(value)s".'), what=self.label_text, value=str(data)[:40])
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.INT)
class OrganisationRef(PersonRef):
    label_text = _("organisation")

    def scoped(self, user):
        return Organisation.objects.visible_to(user)


@extend_schema_field(OpenApiTypes.STR)
class RoleRef(_Ref):
    lookup = "code"
    label_text = _("role")

    def scoped(self, user):
        return Role.objects.all()


@extend_schema_field(OpenApiTypes.STR)
class PostTypeRef(RoleRef):
    label_text = _("post type")

    def scoped(self, user):
        return PostType.objects.all()


# --- Output serializers -------------------------------------------------------------------------


class MaskedMobileField(serializers.CharField):
    def to_representation(self, value):
        return mask_phone(value)


class MaskedIdField(serializers.CharField):
    def to_representation(self, value):
        return mask_id_number(value)


class OrganisationBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "type"]


class AssignmentBriefSerializer(serializers.ModelSerializer):
    grid = serializers.CharField(source="grid.code")
    grid_name = serializers.CharField(source="grid.name")
    role = serializers.CharField(source="role.code")
    role_label = serializers.CharField(source="role.label")
    axis_label = serializers.CharField(source="get_axis_display")

    class Meta:
        model = Assignment
        fields = [
            "id",
            "grid",
            "grid_name",
            "role",
            "role_label",
            "axis",
            "axis_label",
            "start_date",
            "end_date",
            "sent_down",
        ]


class PersonSerializer(serializers.ModelSerializer):
    mobile = MaskedMobileField(help_text=_("Masked mobile number."))
    id_number = MaskedIdField(help_text=_("Masked identity number."))
    political_status_label = serializers.CharField(source="get_political_status_display")
    organisation = OrganisationBriefSerializer(allow_null=True)
    registered_grid = serializers.CharField(source="registered_grid.code")
    current_assignments = AssignmentBriefSerializer(
        many=True, help_text=_("Assignments active today.")
    )

    class Meta:
        model = Person
        fields = [
            "id",
            "name",
            "mobile",
            "id_number",
            "political_status",
            "political_status_label",
            "is_party_member",
            "organisation",
            "registered_grid",
            "current_assignments",
        ]


class PersonDetailSerializer(PersonSerializer):
    current_assignments = None
    assignments = AssignmentBriefSerializer(
        source="all_assignments", many=True, help_text=_("All, newest first.")
    )

    class Meta(PersonSerializer.Meta):
        fields = [f for f in PersonSerializer.Meta.fields if f != "current_assignments"] + [
            "assignments"
        ]


class PersonBriefSerializer(serializers.ModelSerializer):
    mobile = MaskedMobileField(help_text=_("Masked mobile number."))

    class Meta:
        model = Person
        fields = ["id", "name", "mobile"]


class AssignmentSerializer(AssignmentBriefSerializer):
    person = PersonBriefSerializer()
    organisation = serializers.CharField(
        source="person.organisation.name", default=None, allow_null=True
    )

    class Meta(AssignmentBriefSerializer.Meta):
        fields = ["id", "person", "organisation"] + AssignmentBriefSerializer.Meta.fields[1:]


class OrganisationSerializer(serializers.ModelSerializer):
    type_label = serializers.CharField(source="get_type_display")
    parent = serializers.IntegerField(source="parent_id", allow_null=True)
    parent_name = serializers.CharField(source="parent.name", default=None, allow_null=True)
    home_grid = serializers.CharField(source="home_grid.code", default=None, allow_null=True)
    registered_grid = serializers.CharField(source="registered_grid.code")

    class Meta:
        model = Organisation
        fields = [
            "id",
            "name",
            "type",
            "type_label",
            "parent",
            "parent_name",
            "home_grid",
            "registered_grid",
        ]


class RoleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ["code", "name_zh", "name_en", "label", "is_grid_chief", "is_baobao_leader"]


class PostTypeSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="__str__")

    class Meta:
        model = PostType
        fields = ["code", "name_zh", "name_en", "label"]


class RequirementSerializer(serializers.Serializer):
    role = serializers.CharField(source="role.code")
    role_label = serializers.CharField(source="role.label")
    min_count = serializers.IntegerField(allow_null=True, help_text=_("Null means N."))
    required = serializers.IntegerField(help_text=_("The count needed (N resolved)."))


class TeamTemplateSerializer(serializers.ModelSerializer):
    requirements = RequirementSerializer(many=True, source="requirements.all")
    levels = serializers.ListField(child=serializers.IntegerField())
    categories = serializers.ListField(child=serializers.CharField())
    kinds = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = TeamTemplate
        fields = [
            "id",
            "name",
            "description",
            "levels",
            "categories",
            "kinds",
            "n",
            "requires_checkpoints",
            "requirements",
        ]


class PostClaimSerializer(serializers.ModelSerializer):
    person = PersonBriefSerializer()
    grid = serializers.CharField(source="grid.code")
    post_type = serializers.CharField(source="post_type.code")
    post_type_label = serializers.CharField(source="post_type.__str__")

    class Meta:
        model = PostClaim
        fields = [
            "id",
            "person",
            "grid",
            "post_type",
            "post_type_label",
            "claimed_on",
            "released_on",
        ]


# --- Input serializers -------------------------------------------------------------------------


class PersonFilterSerializer(serializers.Serializer):
    grid = serializers.CharField(
        required=False, help_text=_("Grid code: people registered in or assigned to its subtree.")
    )
    role = serializers.CharField(required=False, help_text=_("Role code: people holding it today."))
    organisation = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text=_("Organisation id.")
    )
    search = serializers.CharField(required=False, help_text=_("Part of the name."))


class PersonCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    mobile = serializers.CharField(required=False, allow_blank=True, default="")
    id_number = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default=None
    )
    political_status = serializers.ChoiceField(choices=PoliticalStatus.choices, required=False)
    organisation = OrganisationRef(required=False, allow_null=True)
    registered_grid = GridRef(required=False, help_text=_("Grid code; default: your jurisdiction."))


class PersonUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50, required=False)
    mobile = serializers.CharField(required=False, allow_blank=True)
    id_number = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    political_status = serializers.ChoiceField(choices=PoliticalStatus.choices, required=False)
    organisation = OrganisationRef(required=False, allow_null=True)


class RevealSerializer(serializers.Serializer):
    mobile = serializers.CharField()
    id_number = serializers.CharField(allow_null=True)


class AssignmentFilterSerializer(serializers.Serializer):
    grid = serializers.CharField(required=False, help_text=_("Grid code."))
    subtree = serializers.BooleanField(
        required=False,
        default=True,
        help_text=_("With grid: its whole subtree (default) or the grid alone."),
    )
    person = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text=_("Person id.")
    )
    role = serializers.CharField(required=False, help_text=_("Role code."))
    active_on = serializers.DateField(
        required=False, help_text=_("Only assignments active on this date.")
    )


class AssignmentCreateSerializer(serializers.Serializer):
    person = PersonRef()
    grid = GridRef()
    role = RoleRef()
    axis = serializers.ChoiceField(choices=Axis.choices, default=Axis.TERRITORIAL)
    start_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True, default=None)
    sent_down = serializers.BooleanField(default=False)


class AssignmentUpdateSerializer(serializers.Serializer):
    role = RoleRef(required=False)
    axis = serializers.ChoiceField(choices=Axis.choices, required=False)
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False, allow_null=True)
    sent_down = serializers.BooleanField(required=False)


class AssignmentEndSerializer(serializers.Serializer):
    end_date = serializers.DateField(required=False, help_text=_("Last day served; default today."))


class OrganisationFilterSerializer(serializers.Serializer):
    grid = serializers.CharField(
        required=False, help_text=_("Grid code: organisations registered in its subtree.")
    )
    search = serializers.CharField(required=False)


class OrganisationCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=OrganisationType.choices, default=OrganisationType.OTHER)
    parent = OrganisationRef(required=False, allow_null=True, default=None)
    home_grid = GridRef(required=False, allow_null=True, default=None)
    registered_grid = GridRef(required=False, help_text=_("Grid code; default: your jurisdiction."))


class OrganisationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    type = serializers.ChoiceField(choices=OrganisationType.choices, required=False)
    parent = OrganisationRef(required=False, allow_null=True)
    home_grid = GridRef(required=False, allow_null=True)


class RequirementInputSerializer(serializers.Serializer):
    role = RoleRef()
    min_count = serializers.IntegerField(
        min_value=0, allow_null=True, default=None, help_text=_("Null means N.")
    )


class TeamTemplateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    description = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    # Checked by the service (bilingual messages); plain lists keep the schema's enums unique.
    levels = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("Grid levels 1-5.")
    )
    categories = serializers.ListField(
        child=serializers.CharField(),
        default=list,
        help_text=_("border, non_border, unit; empty: all."),
    )
    kinds = serializers.ListField(
        child=serializers.CharField(), default=list, help_text=_("cell, dedicated; empty: all.")
    )
    n = serializers.IntegerField(min_value=0, max_value=1000, default=1)
    requires_checkpoints = serializers.BooleanField(default=False)
    requirements = RequirementInputSerializer(many=True)


class TeamTemplateUpdateSerializer(TeamTemplateInputSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.required = False
            f.default = serializers.empty


class PostClaimCreateSerializer(serializers.Serializer):
    person = PersonRef()
    grid = GridRef()
    post_type = PostTypeRef()
    claimed_on = serializers.DateField(required=False)


class PostClaimReleaseSerializer(serializers.Serializer):
    released_on = serializers.DateField(
        required=False, help_text=_("Last day held; default today.")
    )


class OnDateSerializer(serializers.Serializer):
    on = serializers.DateField(
        required=False, help_text=_("Date (YYYY-MM-DD); default today in Asia/Shanghai.")
    )


def _validated(serializer_class, data, **context):
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _query(request) -> dict:
    return {key: value for key, value in request.query_params.items() if value != ""}


def _default_grid(request, data, field):
    if data.get(field) is not None:
        return data[field]
    if request.user.jurisdiction_id is None:
        raise serializers.ValidationError({field: [bilingual(_("Give the grid code."))]})
    return request.user.jurisdiction


# --- People ------------------------------------------------------------------------------------


class PeopleApi(generics.GenericAPIView):
    permission_classes = [IsAuthenticated, AdministratorWrites]
    serializer_class = PersonSerializer
    filter_backends: list = []

    def get_queryset(self):
        filters = _validated(PersonFilterSerializer, _query(self.request))
        grid = None
        if "grid" in filters:
            grid = (
                GridNode.objects.visible_to(self.request.user).filter(code=filters["grid"]).first()
            )
            if grid is None:
                return Person.objects.none()
        return selectors.person_list(
            user=self.request.user,
            grid=grid,
            role=filters.get("role"),
            organisation=filters.get("organisation"),
            search=filters.get("search"),
        )

    @extend_schema(
        tags=TAGS,
        operation_id="v1_people_list",
        parameters=[PersonFilterSerializer],
        summary=_("People (identifiers masked)"),
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PersonSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=PersonCreateSerializer,
        responses={201: PersonSerializer, 200: PersonSerializer},
        summary=_("Create a person, or update the one with this identity number (or mobile)"),
    )
    def post(self, request):
        data = _validated(PersonCreateSerializer, request.data, request=request)
        person, created = services.person_upsert(
            name=data["name"],
            mobile=data["mobile"],
            id_number=data["id_number"],
            political_status=data.get("political_status"),
            organisation=data.get("organisation"),
            registered_grid=_default_grid(request, data, "registered_grid"),
            actor=request.user,
        )
        person = selectors.person_list(user=request.user).get(pk=person.pk)
        return Response(
            PersonSerializer(person).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class PersonApi(generics.GenericAPIView):
    permission_classes = [IsAuthenticated, AdministratorWrites]
    serializer_class = PersonDetailSerializer

    @extend_schema(tags=TAGS, summary=_("A person with all their assignments (identifiers masked)"))
    def get(self, request, pk):
        return Response(PersonDetailSerializer(selectors.person_get(user=request.user, pk=pk)).data)

    @extend_schema(tags=TAGS, request=PersonUpdateSerializer, responses=PersonDetailSerializer)
    def patch(self, request, pk):
        person = selectors.person_get(user=request.user, pk=pk)
        changes = _validated(PersonUpdateSerializer, request.data, request=request)
        if "id_number" in changes and not changes["id_number"]:
            changes["id_number"] = None
        services.person_update(person=person, **changes)
        return Response(PersonDetailSerializer(selectors.person_get(user=request.user, pk=pk)).data)


class PersonRevealApi(generics.GenericAPIView):
    serializer_class = RevealSerializer

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={
            200: RevealSerializer,
            403: OpenApiResponse(description=_("No permission to see personal data.")),
        },
        summary=_("The full mobile and identity number (permission required; audited)"),
    )
    def post(self, request, pk):
        person = selectors.person_get(user=request.user, pk=pk)
        try:
            values = services.personal_data_reveal(user=request.user, person=person)
        except services.PermissionDenied:
            raise PermissionDenied(bilingual(_("You may not see full personal data."))) from None
        return Response(RevealSerializer(values).data)


# --- Assignments -------------------------------------------------------------------------------


class AssignmentsApi(generics.GenericAPIView):
    permission_classes = [IsAuthenticated, AdministratorWrites]
    serializer_class = AssignmentSerializer
    filter_backends: list = []

    def get_queryset(self):
        filters = _validated(AssignmentFilterSerializer, _query(self.request))
        grid = None
        if "grid" in filters:
            grid = (
                GridNode.objects.visible_to(self.request.user).filter(code=filters["grid"]).first()
            )
            if grid is None:
                return Assignment.objects.none()
        return selectors.assignment_list(
            user=self.request.user,
            grid=grid,
            subtree=filters["subtree"],
            person=filters.get("person"),
            role=filters.get("role"),
            active_on=filters.get("active_on"),
        )

    @extend_schema(
        tags=TAGS, operation_id="v1_assignments_list", parameters=[AssignmentFilterSerializer]
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(AssignmentSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS, request=AssignmentCreateSerializer, responses={201: AssignmentSerializer}
    )
    def post(self, request):
        data = _validated(AssignmentCreateSerializer, request.data, request=request)
        assignment = services.assignment_create(**data)
        assignment = selectors.assignment_get(user=request.user, pk=assignment.pk)
        return Response(AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)


class AssignmentApi(generics.GenericAPIView):
    permission_classes = [IsAuthenticated, AdministratorWrites]
    serializer_class = AssignmentSerializer

    @extend_schema(tags=TAGS)
    def get(self, request, pk):
        return Response(
            AssignmentSerializer(selectors.assignment_get(user=request.user, pk=pk)).data
        )

    @extend_schema(tags=TAGS, request=AssignmentUpdateSerializer, responses=AssignmentSerializer)
    def patch(self, request, pk):
        assignment = selectors.assignment_get(user=request.user, pk=pk)
        services.assignment_update(
            assignment=assignment,
            **_validated(AssignmentUpdateSerializer, request.data, request=request),
        )
        return Response(
            AssignmentSerializer(selectors.assignment_get(user=request.user, pk=pk)).data
        )


class AssignmentEndApi(generics.GenericAPIView):
    permission_classes = [IsAuthenticated, AdministratorWrites]
    serializer_class = AssignmentSerializer

    @extend_schema(
        tags=TAGS,
        request=AssignmentEndSerializer,
        responses=AssignmentSerializer,
        summary=_("End an assignment"),
    )
    def post(self, request, pk):
        assignment = selectors.assignment_get(user=request.user, pk=pk)
        data = _validated(AssignmentEndSerializer, request.data)
        services.assignment_end(assignment=assignment, end_date=data.get("end_date"))
        return Response(
            AssignmentSerializer(selectors.assignment_get(user=request.user, pk=pk)).data
        )


class TelRedirect(HttpResponseRedirectBase):
    # Django's HttpResponseRedirect refuses schemes other than http(s)/ftp.
    allowed_schemes = ["tel"]
    status_code = 302


class AssignmentCallApi(generics.GenericAPIView):
    serializer_class = None

    @extend_schema(
        tags=TAGS,
        responses={302: OpenApiResponse(description=_("Redirect to tel:+86…, audited."))},
        summary=_(
            "Call the person of a chain entry (tap-to-call; the number is not shown in JSON)"
        ),
    )
    def get(self, request, pk):
        assignment = selectors.assignment_callable_get(user=request.user, pk=pk)
        if not assignment.person.mobile:
            raise Http404
        mobile = services.personal_data_call(user=request.user, assignment=assignment)
        return TelRedirect(f"tel:+86{mobile}")


# --- Organisations, roles, post types, templates -------------------------------------------------


class OrganisationsApi(generics.GenericAPIView):
    permission_classes = [IsAuthenticated, AdministratorWrites]
    serializer_class = OrganisationSerializer
    filter_backends: list = []

    def get_queryset(self):
        filters = _validated(OrganisationFilterSerializer, _query(self.request))
        grid = None
        if "grid" in filters:
            grid = (
                GridNode.objects.visible_to(self.request.user).filter(code=filters["grid"]).first()
            )
            if grid is None:
                return Organisation.objects.none()
        return selectors.organisation_list(
            user=self.request.user, grid=grid, search=filters.get("search")
        )

    @extend_schema(
        tags=TAGS, operation_id="v1_organisations_list", parameters=[OrganisationFilterSerializer]
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(OrganisationSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS, request=OrganisationCreateSerializer, responses={201: OrganisationSerializer}
    )
    def post(self, request):
        data = _validated(OrganisationCreateSerializer, request.data, request=request)
        data["registered_grid"] = _default_grid(request, data, "registered_grid")
        organisation = services.organisation_create(**data)
        organisation = selectors.organisation_get(user=request.user, pk=organisation.pk)
        return Response(OrganisationSerializer(organisation).data, status=status.HTTP_201_CREATED)


class OrganisationApi(generics.GenericAPIView):
    permission_classes = [IsAuthenticated, AdministratorWrites]
    serializer_class = OrganisationSerializer

    @extend_schema(tags=TAGS)
    def get(self, request, pk):
        return Response(
            OrganisationSerializer(selectors.organisation_get(user=request.user, pk=pk)).data
        )

    @extend_schema(
        tags=TAGS, request=OrganisationUpdateSerializer, responses=OrganisationSerializer
    )
    def patch(self, request, pk):
        organisation = selectors.organisation_get(user=request.user, pk=pk)
        changes = _validated(OrganisationUpdateSerializer, request.data, request=request)
        services.organisation_update(organisation=organisation, **changes)
        return Response(
            OrganisationSerializer(selectors.organisation_get(user=request.user, pk=pk)).data
        )


class RolesApi(generics.ListAPIView):
    serializer_class = RoleSerializer
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return selectors.role_list()

    @extend_schema(tags=TAGS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PostTypesApi(RolesApi):
    serializer_class = PostTypeSerializer

    def get_queryset(self):
        return selectors.post_type_list()


def _requirements(data) -> list:
    return [(item["role"], item["min_count"]) for item in data]


class TeamTemplatesApi(generics.GenericAPIView):
    permission_classes = [IsAuthenticated, TemplateWrites]
    serializer_class = TeamTemplateSerializer
    queryset = TeamTemplate.objects.none()  # for the schema; reads go through selectors
    pagination_class = None

    @extend_schema(tags=TAGS, responses=TeamTemplateSerializer(many=True))
    def get(self, request):
        return Response(TeamTemplateSerializer(selectors.team_template_list(), many=True).data)

    @extend_schema(
        tags=TAGS, request=TeamTemplateInputSerializer, responses={201: TeamTemplateSerializer}
    )
    def post(self, request):
        data = _validated(TeamTemplateInputSerializer, request.data, request=request)
        data["requirements"] = _requirements(data["requirements"])
        template = services.team_template_create(**data)
        return Response(
            TeamTemplateSerializer(selectors.team_template_get(pk=template.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class TeamTemplateApi(generics.GenericAPIView):
    permission_classes = [IsAuthenticated, TemplateWrites]
    serializer_class = TeamTemplateSerializer

    @extend_schema(tags=TAGS)
    def get(self, request, pk):
        return Response(TeamTemplateSerializer(selectors.team_template_get(pk=pk)).data)

    @extend_schema(
        tags=TAGS, request=TeamTemplateUpdateSerializer, responses=TeamTemplateSerializer
    )
    def patch(self, request, pk):
        template = selectors.team_template_get(pk=pk)
        changes = dict(_validated(TeamTemplateUpdateSerializer, request.data, request=request))
        requirements = changes.pop("requirements", None)
        services.team_template_update(
            template=template,
            requirements=None if requirements is None else _requirements(requirements),
            **changes,
        )
        return Response(TeamTemplateSerializer(selectors.team_template_get(pk=pk)).data)

    @extend_schema(tags=TAGS, responses={204: None})
    def delete(self, request, pk):
        services.team_template_delete(template=selectors.team_template_get(pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Pioneer posts -------------------------------------------------------------------------------


class PostClaimsApi(generics.GenericAPIView):
    serializer_class = PostClaimSerializer
    filter_backends: list = []

    @extend_schema(tags=TAGS, parameters=[OnDateSerializer])
    def get(self, request):
        on = _validated(OnDateSerializer, _query(request)).get("on")
        page = self.paginate_queryset(selectors.post_claim_list(user=request.user, on=on))
        return self.get_paginated_response(PostClaimSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=PostClaimCreateSerializer,
        responses={201: PostClaimSerializer},
        summary=_(
            "A party member claims a pioneer post (an administrator, or the member themselves)"
        ),
    )
    def post(self, request):
        data = _validated(PostClaimCreateSerializer, request.data, request=request)
        _may_act_for(request, data["person"])
        claim = services.post_claim(**data)
        claim = selectors.post_claim_list(user=request.user).get(pk=claim.pk)
        return Response(PostClaimSerializer(claim).data, status=status.HTTP_201_CREATED)


def _may_act_for(request, person: Person) -> None:
    if (
        not user_has_role(request.user, UserRole.ADMINISTRATOR)
        and person.user_id != request.user.pk
    ):
        raise PermissionDenied(
            bilingual(_("Only an administrator or the party member themselves may do this."))
        )


class PostClaimReleaseApi(generics.GenericAPIView):
    serializer_class = PostClaimSerializer

    @extend_schema(tags=TAGS, request=PostClaimReleaseSerializer, responses=PostClaimSerializer)
    def post(self, request, pk):
        claim = selectors.post_claim_list(user=request.user).filter(pk=pk).first()
        if claim is None:
            raise Http404
        _may_act_for(request, claim.person)
        data = _validated(PostClaimReleaseSerializer, request.data)
        services.post_release(claim=claim, released_on=data.get("released_on"))
        return Response(
            PostClaimSerializer(selectors.post_claim_list(user=request.user).get(pk=pk)).data
        )


# --- Per grid: team, chain, staffing, posts -------------------------------------------------------


class GridBriefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.IntegerField()
    level_label = serializers.CharField(source="get_level_display")


class ChainPersonSerializer(serializers.Serializer):
    assignment = serializers.IntegerField(source="pk")
    person = serializers.SerializerMethodField(
        help_text=_("Person id, when the person is within your jurisdiction.")
    )
    name = serializers.CharField(source="person.name")
    role = serializers.CharField(source="role.code")
    role_label = serializers.CharField(source="role.label")
    organisation = serializers.CharField(
        source="person.organisation.name", default=None, allow_null=True
    )
    mobile = serializers.SerializerMethodField(help_text=_("Masked mobile number."))
    call_url = serializers.SerializerMethodField(
        help_text=_(
            "Tap-to-call: redirects to tel: with the full number, audited. Null without a mobile."
        )
    )
    axis = serializers.CharField()
    axis_label = serializers.CharField(source="get_axis_display")
    sent_down = serializers.BooleanField()

    def get_person(self, a) -> int | None:
        prefix = self.context["prefix"]
        return a.person_id if a.grid.path.startswith(prefix) else None

    def get_mobile(self, a) -> str:
        return mask_phone(a.person.mobile)

    def get_call_url(self, a) -> str | None:
        return reverse("personnel-api:assignment-call", args=[a.pk]) if a.person.mobile else None


class ChainGapSerializer(serializers.Serializer):
    grid = serializers.CharField(source="grid.code")
    kind = serializers.CharField(help_text=_("no_grid_chief, no_baobao_leader or axis_uncovered."))
    axis = serializers.CharField(allow_null=True)
    message = serializers.CharField(source="problem.text")


class ChainLevelSerializer(serializers.Serializer):
    grid = GridBriefSerializer()
    people = ChainPersonSerializer(source="assignments", many=True)
    gaps = ChainGapSerializer(many=True)


class AxisCoverageSerializer(serializers.Serializer):
    axis = serializers.CharField()
    label = serializers.CharField()
    covered = serializers.BooleanField()
    people = ChainPersonSerializer(source="assignments", many=True)


class ChainSerializer(serializers.Serializer):
    grid = GridBriefSerializer(source="node")
    on = serializers.DateField()
    levels = ChainLevelSerializer(
        many=True, help_text=_("The grid first, then each level up to the city.")
    )
    axes = AxisCoverageSerializer(
        many=True, help_text=_("Four-party responsibility on the grid itself.")
    )
    gaps = ChainGapSerializer(many=True)


class GridChainApi(generics.GenericAPIView):
    serializer_class = ChainSerializer

    @extend_schema(
        tags=GRID_TAGS,
        parameters=[OnDateSerializer],
        summary=_("Who answers for the grid, up to the city (包保 chain)"),
    )
    def get(self, request, code):
        node = grid_get(user=request.user, code=code)
        on = _validated(OnDateSerializer, _query(request)).get("on")
        chain = selectors.grid_chain(user=request.user, node=node, on=on)
        return Response(
            ChainSerializer(
                chain, context={"prefix": chain.visible_prefix, "request": request}
            ).data
        )


class GridTeamApi(generics.GenericAPIView):
    serializer_class = AssignmentSerializer
    queryset = Assignment.objects.none()  # for the schema; reads go through selectors
    pagination_class = None

    @extend_schema(
        tags=GRID_TAGS,
        parameters=[OnDateSerializer],
        responses=AssignmentSerializer(many=True),
        summary=_("The grid's team on a date"),
    )
    def get(self, request, code):
        node = grid_get(user=request.user, code=code)
        on = _validated(OnDateSerializer, _query(request)).get("on")
        return Response(
            AssignmentSerializer(
                selectors.grid_team(user=request.user, node=node, on=on), many=True
            ).data
        )


class RoleShortageSerializer(serializers.Serializer):
    role = serializers.CharField()
    role_label = serializers.CharField()
    missing = serializers.IntegerField()


class RoleNeedSerializer(serializers.Serializer):
    role = serializers.CharField(source="role.code")
    role_label = serializers.CharField(source="role.label")
    required = serializers.IntegerField()
    staffed = serializers.IntegerField()
    missing = serializers.IntegerField()


class ShortfallSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    missing = serializers.IntegerField()


class ComplianceSerializer(serializers.Serializer):
    templates = serializers.ListField(child=serializers.CharField())
    fully_staffed = serializers.BooleanField()
    needs = RoleNeedSerializer(many=True)
    shortages = serializers.SerializerMethodField()
    other_shortfalls = ShortfallSerializer(
        source="shortfalls", many=True, help_text=_("E.g. unmanned checkpoints (+K).")
    )

    @extend_schema_field(RoleShortageSerializer(many=True))
    def get_shortages(self, compliance):
        return [
            {"role": need.role.code, "role_label": need.role.label, "missing": need.missing}
            for need in compliance.needs
            if need.missing
        ]


class TallySerializer(serializers.Serializer):
    grids = serializers.IntegerField()
    fully_staffed = serializers.IntegerField()
    shortages = serializers.SerializerMethodField()
    other_shortfalls = serializers.DictField(source="shortfalls", child=serializers.IntegerField())

    @extend_schema_field(RoleShortageSerializer(many=True))
    def get_shortages(self, tally: Tally):
        roles = self.context["roles"]
        return [
            {"role": code, "role_label": roles[code].label, "missing": n}
            for code, n in sorted(
                tally.shortages.items(), key=lambda item: (roles[item[0]].sort_order, item[0])
            )
        ]


class LevelStaffingSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    level_label = serializers.CharField(source="label")
    tally = TallySerializer()
    summary = serializers.SerializerMethodField()

    def get_summary(self, level) -> str:
        return self.context["rollup"].summary(level)


class ChildStaffingSerializer(serializers.Serializer):
    grid = GridBriefSerializer(source="compliance.grid")
    compliance = ComplianceSerializer(help_text=_("The child grid itself."))
    subtree = TallySerializer(help_text=_("The child and everything below it: for map colouring."))


class StaffingSerializer(serializers.Serializer):
    grid = GridBriefSerializer(source="node.grid")
    on = serializers.DateField()
    compliance = ComplianceSerializer(source="node")
    levels = LevelStaffingSerializer(
        many=True, help_text=_("Every level below the grid, over its whole subtree.")
    )
    children = ChildStaffingSerializer(many=True)


class GridStaffingApi(generics.GenericAPIView):
    serializer_class = StaffingSerializer

    @extend_schema(
        tags=GRID_TAGS,
        parameters=[OnDateSerializer],
        summary=_("Staffing compliance of the grid, its levels and children"),
    )
    def get(self, request, code):
        node = grid_get(user=request.user, code=code)
        on = _validated(OnDateSerializer, _query(request)).get("on")
        rollup: StaffingRollup = staffing_rollup(user=request.user, node=node, on=on)
        return Response(
            StaffingSerializer(rollup, context={"roles": rollup.roles, "rollup": rollup}).data
        )


class PostCountSerializer(serializers.Serializer):
    post_type = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()


class PostCountsSerializer(serializers.Serializer):
    grid = GridBriefSerializer()
    total = serializers.IntegerField()
    counts = serializers.SerializerMethodField()

    @extend_schema_field(PostCountSerializer(many=True))
    def get_counts(self, counts):
        return [
            {"post_type": t.code, "label": str(t), "count": counts.counts.get(t.code, 0)}
            for t in self.context["types"]
        ]


class PostRollupSerializer(serializers.Serializer):
    on = serializers.DateField()
    subtree = PostCountsSerializer(source="node", help_text=_("Claims over the whole subtree."))
    own = PostCountsSerializer(help_text=_("Claims on the grid itself."))
    children = PostCountsSerializer(many=True)


class GridPostsApi(generics.GenericAPIView):
    serializer_class = PostRollupSerializer

    @extend_schema(
        tags=GRID_TAGS,
        parameters=[OnDateSerializer],
        summary=_("Pioneer posts held, by type, over the subtree and per child"),
    )
    def get(self, request, code):
        node = grid_get(user=request.user, code=code)
        on = _validated(OnDateSerializer, _query(request)).get("on")
        rollup = selectors.post_counts(user=request.user, node=node, on=on)
        return Response(PostRollupSerializer(rollup, context={"types": rollup.post_types}).data)
