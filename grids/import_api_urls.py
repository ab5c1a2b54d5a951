from django.urls import path

from . import import_apis

app_name = "imports-api"
urlpatterns = [
    path("imports/grids/", import_apis.GridImportApi.as_view(), name="grids"),
    path("imports/households/", import_apis.HouseholdImportApi.as_view(), name="households"),
]
