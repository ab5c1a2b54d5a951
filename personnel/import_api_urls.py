from django.urls import path

from . import import_apis

app_name = "personnel-imports-api"
urlpatterns = [
    path("imports/personnel/", import_apis.RosterImportApi.as_view(), name="personnel"),
    path("imports/jobs/<int:pk>/", import_apis.ImportJobApi.as_view(), name="job"),
    path(
        "imports/jobs/<int:pk>/report/", import_apis.ImportJobReportApi.as_view(), name="job-report"
    ),
    path("exports/personnel/", import_apis.RosterExportApi.as_view(), name="export"),
]
