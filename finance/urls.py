from django.urls import path

from . import views

app_name = "finance"
urlpatterns = [
    path("invoices/export.csv", views.invoice_export_csv, name="invoice_export_csv"),
    path("invoices/export.xlsx", views.invoice_export_xlsx, name="invoice_export_xlsx"),
]
