from django.urls import path

from . import api

app_name = "grids-api"
urlpatterns = [
    path("grids/", api.GridListApi.as_view(), name="grid-list"),
    path("grids/<str:code>/", api.GridDetailApi.as_view(), name="grid-detail"),
    path("grids/<str:code>/children/", api.GridChildrenApi.as_view(), name="grid-children"),
    path("grids/<str:code>/geojson/", api.GridGeoJsonApi.as_view(), name="grid-geojson"),
    path("grids/<str:code>/households/", api.GridHouseholdsApi.as_view(), name="grid-households"),
]
