from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import KpiDaily, KpiThresholds, ManualIntervention


@admin.register(KpiThresholds)
class KpiThresholdsAdmin(SimpleHistoryAdmin):
    """Operations edit the one row; every change is kept (History)."""

    list_display = (
        "__str__",
        "accuracy_min_percent",
        "latency_p95_max_seconds",
        "interventions_max_per_day",
        "updated_at",
    )

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not KpiThresholds.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ManualIntervention)
class ManualInterventionAdmin(_ReadOnly):
    list_display = ("occurred_at", "kind", "order", "actor", "actor_role")
    list_filter = ("kind", "actor_role")
    date_hierarchy = "occurred_at"
    list_select_related = ("order", "actor")
    raw_id_fields = ("order", "event", "actor")


@admin.register(KpiDaily)
class KpiDailyAdmin(_ReadOnly):
    list_display = (
        "day",
        "accuracy_percent",
        "latency_p50_seconds",
        "latency_p95_seconds",
        "interventions",
        "computed_at",
    )
    date_hierarchy = "day"
