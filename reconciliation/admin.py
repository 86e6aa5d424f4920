"""Reconciliation in the admin: the runs (read only) and the export mappings (edited by
operations, every change kept in the history)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from orders.admin import ReadOnlyAdminMixin, local_time

from .models import ReconciliationRun, SourceMapping
from .services import mapping_problems


class SourceMappingForm(forms.ModelForm):
    class Meta:
        model = SourceMapping
        fields = ["source", "name", "is_default", "columns", "statuses", "payment_statuses"]

    def clean(self):
        data = super().clean()
        problems = mapping_problems(
            columns=data.get("columns") or {},
            statuses=data.get("statuses") or {},
            payment_statuses=data.get("payment_statuses") or {},
        )
        for name, problem in problems.items():
            self.add_error(name, problem)
        return data


@admin.register(SourceMapping)
class SourceMappingAdmin(SimpleHistoryAdmin):
    form = SourceMappingForm
    list_display = ("name", "source", "is_default", "updated_at")
    list_filter = ("source",)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "source",
        "file_name",
        "run_by",
        "started",
        "fix",
        "rows_read",
        "orders_compared",
        "difference_total",
        "status_matched",
        "status_compared",
        "fixed",
        "not_fixed",
        "failed",
    )
    list_filter = ("source", "fix")
    list_select_related = ("run_by",)
    search_fields = ("file_name", "file_sha256")
    date_hierarchy = "started_at"

    @admin.display(description=_("started at"), ordering="started_at")
    def started(self, run):
        return local_time(run.started_at)

    @admin.display(description=_("differences"))
    def difference_total(self, run):
        return sum((run.differences or {}).values())

    @admin.display(description=_("failed"), boolean=True)
    def failed(self, run):
        return bool(run.error)
