from django.urls import path

from . import views

app_name = "screening"
urlpatterns = [
    path("<str:code>/", views.dashboard, name="dashboard"),
    path("<str:code>/report.xlsx", views.daily_report, name="daily-report"),
]
