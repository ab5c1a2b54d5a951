from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

from grids.views import home

api_v1 = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("", include("grids.api_urls")),
    path("", include("grids.import_api_urls")),
    path("", include("personnel.api_urls")),
    path("", include("personnel.import_api_urls")),
    path("", include("screening.api_urls")),
    path("", include("screening.stats_api_urls")),
]

urlpatterns = [
    # Un-namespaced because settings.LOGIN_REDIRECT_URL names it.
    path("", home, name="home"),
    path("", include("grids.urls")),
    path("accounts/", include("accounts.urls")),
    path("imports/personnel/", include("personnel.import_urls")),
    path("imports/", include("grids.import_urls")),
    path("people/", include("personnel.urls")),
    path("dashboard/", include("screening.urls")),
    path("work/", include("screening.worker_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
