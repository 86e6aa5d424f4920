from django.urls import path

from . import views

app_name = "kpis"
urlpatterns = [path("", views.kpi_dashboard, name="dashboard")]
