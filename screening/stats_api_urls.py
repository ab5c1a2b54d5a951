from django.urls import path

from . import stats_api

app_name = "stats-api"
urlpatterns = [
    path("grids/<str:code>/stats/", stats_api.GridStatsApi.as_view(), name="grid-stats"),
    path(
        "grids/<str:code>/daily-report/",
        stats_api.GridDailyReportApi.as_view(),
        name="grid-daily-report",
    ),
]
