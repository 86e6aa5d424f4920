from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from orders.exceptions import OrderError
from orders.selectors import order_visibility_q

from .alerting import alert_acknowledge, alert_resolve
from .defaults import alert_kind_params_clean
from .models import Alert, AlertKindSettings, OrderWatch, ShopShipRule, StaleThreshold
from .selectors import alert_visibility_q
from .sweeps import STALE_SWEPT_STATES as STALE_WATCHED_STATES
from .watch import shop_ship_rule_save

# Rules operations own: per-kind alert settings and the thresholds behind them. Data, edited
# here without a deploy, read at each use (no restart), every change in the history (who, when,
# old → new).


class AlertKindSettingsForm(forms.ModelForm):
    class Meta:
        model = AlertKindSettings
        fields = ["enabled", "severity", "assigned_role", "escalation_minutes", "robots", "params"]
        widgets = {"robots": forms.CheckboxSelectMultiple}

    def clean_params(self):
        return alert_kind_params_clean(self.instance.kind, self.cleaned_data.get("params"))


@admin.register(AlertKindSettings)
class AlertKindSettingsAdmin(SimpleHistoryAdmin):
    """One row per alert kind, seeded; operations change them but neither add nor delete."""

    form = AlertKindSettingsForm
    list_display = ("kind", "enabled", "severity", "assigned_role", "escalation_minutes", "robot_names", "updated_at")
    list_filter = ("enabled", "severity", "assigned_role")
    readonly_fields = ("kind", "updated_at")
    fields = ("kind", "enabled", "severity", "assigned_role", "escalation_minutes", "robots", "params", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("robots")

    # One history record per save, with the robots as saved: not one for the row and one more
    # for each change of the robots (the first would show the robots as they were before).
    def save_model(self, request, obj, form, change):
        obj.skip_history_when_saving = True
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        del form.instance.skip_history_when_saving
        form.instance.save(update_fields=["updated_at"])

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Escalate to robots"))
    def robot_names(self, row):
        return ", ".join(r.name for r in row.robots.all()) or "—"


class StaleThresholdForm(forms.ModelForm):
    """Only the states the stale sweep watches can have a threshold (not risk holds or shipped
    parcels awaiting the carrier: their own kinds' thresholds decide)."""

    class Meta:
        model = StaleThreshold
        fields = ["state", "minutes"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["state"].widget.choices = [("", "---------"), *((s.value, s.label) for s in STALE_WATCHED_STATES)]

    def clean_state(self):
        state = self.cleaned_data.get("state")
        if state not in {s.value for s in STALE_WATCHED_STATES}:
            raise forms.ValidationError(
                _("Orders in this state are not watched for staleness; a threshold can be set for: %(states)s.")
                % {"states": ", ".join(str(s.label) for s in STALE_WATCHED_STATES)}
            )
        return state


@admin.register(StaleThreshold)
class StaleThresholdAdmin(SimpleHistoryAdmin):
    """Stale after how many minutes in one state; other states use the hub's default."""

    form = StaleThresholdForm
    list_display = ("state", "minutes", "updated_at")


class ShopShipRuleForm(forms.ModelForm):
    class Meta:
        model = ShopShipRule
        fields = ["shop", "ship_within_hours", "collect_within_hours"]


@admin.register(ShopShipRule)
class ShopShipRuleAdmin(SimpleHistoryAdmin):
    """A shop's promise to its buyers (and how long a parcel may wait for the carrier). Saved
    through the service, which works the open deadlines of the shop's orders out again."""

    form = ShopShipRuleForm
    list_display = ("shop", "ship_within_hours", "collect_within_hours", "updated_at")
    list_select_related = ("shop__brand",)

    def get_readonly_fields(self, request, obj=None):
        return ("shop", "updated_at") if obj is not None else ("updated_at",)

    def save_model(self, request, obj, form, change):
        try:
            saved = shop_ship_rule_save(
                shop_id=obj.shop_id,
                ship_within_hours=obj.ship_within_hours,
                collect_within_hours=obj.collect_within_hours,
                actor=request.user,
            )
        except ValidationError as exc:
            # The form checked the same; a refusal here still changes nothing.
            raise PermissionDenied(exc.messages[0]) from None
        except OrderError as exc:
            raise PermissionDenied(exc.message) from None
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        return False  # empty the hours instead: the history keeps who changed what


@admin.register(OrderWatch)
class OrderWatchAdmin(admin.ModelAdmin):
    """What the logistics watch knows of each order in flight: read-only, written by the
    orders' events and the carriers' scans."""

    list_display = (
        "order",
        "shop",
        "phase",
        "ship_by",
        "ship_by_source",
        "first_scan_at",
        "last_scan_at",
        "carrier_status",
    )
    list_filter = ("phase", "ship_by_source", "carrier_status")
    list_select_related = ("order", "shop")
    search_fields = ("order__number",)
    show_full_result_count = False

    def get_queryset(self, request):
        # Customer service sees only its brands' orders, here as everywhere.
        return super().get_queryset(request).filter(order_visibility_q(request.user, prefix="order__"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# High-value thresholds moved to the operations rules (admin → Operations rules → Rules: the
# "High value" rule per currency), the one place that decides the priority lane at intake.


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Read-only record of every alert; acknowledging and resolving go through the services
    (the same checks as the alert board: permission, a note to resolve)."""

    list_display = ("opened_at", "kind", "severity", "status", "subject", "title", "seen_count", "escalated_at")
    list_filter = ("status", "kind", "severity", "assigned_role", ("escalated_at", admin.EmptyFieldListFilter))
    search_fields = ("=order__number", "integration", "title")
    list_select_related = ("order",)
    show_full_result_count = False
    date_hierarchy = "opened_at"
    actions = ["acknowledge_selected", "resolve_selected"]
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # Customer service: alerts about their brands' orders (and the integrations').
        return super().get_queryset(request).filter(alert_visibility_q(request.user))

    def has_change_permission(self, request, obj=None):
        # The page of one alert is read-only; the list's actions need the change permission.
        return obj is None and super().has_change_permission(request)

    @admin.display(description=_("Order or integration"), ordering="order__number")
    def subject(self, alert):
        return alert.order.number if alert.order_id else alert.integration

    def _each(self, request, queryset, apply) -> None:

        done = 0
        for alert in queryset.order_by("pk"):
            try:
                apply(alert)
            except OrderError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, _("%(n)s alerts changed.") % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("Acknowledge the selected alerts"), permissions=["change"])
    def acknowledge_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda a: alert_acknowledge(alert_id=a.pk, actor=request.user, expected_version=a.version),
        )

    @admin.action(description=_("Resolve the selected alerts (with a note)"), permissions=["change"])
    def resolve_selected(self, request, queryset):

        note = request.POST.get("note", "").strip()
        if request.POST.get("confirm") and note:
            self._each(
                request,
                queryset,
                lambda a: alert_resolve(alert_id=a.pk, actor=request.user, note=note, expected_version=a.version),
            )
            return None
        return TemplateResponse(
            request,
            "admin/alerts/alert/resolve.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Resolve alerts"),
                "alerts": queryset.select_related("order"),
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "note_missing": bool(request.POST.get("confirm")),
            },
        )
