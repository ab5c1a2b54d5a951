from django.urls import path

from . import worker_views

app_name = "work"
urlpatterns = [
    path("", worker_views.worker_home, name="home"),
    path("grids/<str:code>/", worker_views.worker_grid, name="grid"),
    path("households/<str:code>/", worker_views.worker_check, name="check"),
    # At /work/ itself: a service worker's scope is at most the folder its script is in.
    path("sw.js", worker_views.worker_service_worker, name="service-worker"),
]
