from django.urls import path

from . import api

app_name = "checks-api"
urlpatterns = [
    path("checks/", api.CheckListCreateApi.as_view(), name="check-list"),
    path("checks/batch/", api.CheckBatchApi.as_view(), name="check-batch"),
    path("checks/<str:uuid>/", api.CheckDetailApi.as_view(), name="check-detail"),
    path("checks/<str:uuid>/void/", api.CheckVoidApi.as_view(), name="check-void"),
    path("grids/<str:code>/zero-report/", api.ZeroReportApi.as_view(), name="zero-report"),
]
