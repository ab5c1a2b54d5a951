from django.urls import path

from . import import_views

app_name = "imports"
urlpatterns = [
    path("grids/", import_views.grid_import_page, name="grids"),
    path("households/", import_views.household_import_page, name="households"),
]
