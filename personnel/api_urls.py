from django.urls import path

from . import api

app_name = "personnel-api"
urlpatterns = [
    path("people/", api.PeopleApi.as_view(), name="person-list"),
    path("people/<int:pk>/", api.PersonApi.as_view(), name="person-detail"),
    path("people/<int:pk>/reveal/", api.PersonRevealApi.as_view(), name="person-reveal"),
    path("assignments/", api.AssignmentsApi.as_view(), name="assignment-list"),
    path("assignments/<int:pk>/", api.AssignmentApi.as_view(), name="assignment-detail"),
    path("assignments/<int:pk>/end/", api.AssignmentEndApi.as_view(), name="assignment-end"),
    path("assignments/<int:pk>/call/", api.AssignmentCallApi.as_view(), name="assignment-call"),
    path("organisations/", api.OrganisationsApi.as_view(), name="organisation-list"),
    path("organisations/<int:pk>/", api.OrganisationApi.as_view(), name="organisation-detail"),
    path("roles/", api.RolesApi.as_view(), name="role-list"),
    path("post-types/", api.PostTypesApi.as_view(), name="post-type-list"),
    path("team-templates/", api.TeamTemplatesApi.as_view(), name="team-template-list"),
    path("team-templates/<int:pk>/", api.TeamTemplateApi.as_view(), name="team-template-detail"),
    path("post-claims/", api.PostClaimsApi.as_view(), name="post-claim-list"),
    path(
        "post-claims/<int:pk>/release/",
        api.PostClaimReleaseApi.as_view(),
        name="post-claim-release",
    ),
    path("grids/<str:code>/team/", api.GridTeamApi.as_view(), name="grid-team"),
    path("grids/<str:code>/chain/", api.GridChainApi.as_view(), name="grid-chain"),
    path("grids/<str:code>/staffing/", api.GridStaffingApi.as_view(), name="grid-staffing"),
    path("grids/<str:code>/posts/", api.GridPostsApi.as_view(), name="grid-posts"),
]
