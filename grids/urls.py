from django.urls import path

from . import views

app_name = "grids"
urlpatterns = [
    path("grids/<str:code>/", views.grid_detail, name="detail"),
]
