from django.urls import path

from . import import_views

app_name = "personnel-imports"
urlpatterns = [
    path("", import_views.roster_import_page, name="upload"),
    path("jobs/<int:pk>/", import_views.roster_job_page, name="job"),
    path("jobs/<int:pk>/commit/", import_views.roster_job_commit, name="job-commit"),
    path("jobs/<int:pk>/report/", import_views.roster_job_report, name="job-report"),
    path("export/", import_views.roster_export, name="export"),
]
