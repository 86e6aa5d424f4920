"""Rules in the admin: ordinary form fields, actions as inline rows, checked on save, a preview
on the last 30 days' orders, every change in the history. Firings are a read-only record."""

from __future__ import annotations

from types import SimpleNamespace

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from alerts.models import AlertKind, AlertSeverity
from orders.admin import ReadOnlyAdminMixin
from orders.models import Warehouse
from orders.regions import place_choices
from orders.states import Channel

from .models import Rule, RuleAction, RuleFiring
from .preview import PREVIEW_DAYS, rule_preview
from .services import rules_cache_clear
from .validation import action_check

_ACTION_FIELDS = (
    "kind",
    "priority",
    "user",
    "role",
    "notify_cs_owner",
    "warehouse",
    "alert_kind",
    "alert_severity",
    "message",
    "users",
    "robots",
    "email",
    "reaction",
    "params",
    "cooling_off_minutes",
    "carrier",
)


class RuleForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        label=_("channels"),
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any channel."),
    )
    places = forms.MultipleChoiceField(
        label=_("ship-to provinces or regions"),
        choices=place_choices,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 12}),
        help_text=_(
            "None chosen: anywhere. A region covers its provinces; the order's province is read however the "
            "channel spells it (广东省, 广东, Guangdong)."
        ),
    )

    class Meta:
        model = Rule
        fields = (
            "name",
            "description",
            "enabled",
            "trigger",
            "position",
            "stop_processing",
            "channels",
            "brands",
            "shops",
            "amount_min",
            "amount_max",
            "amount_currency",
            "previous_delivered_min",
            "warehouses",
            "is_gift",
            "priority",
            "time_from",
            "time_to",
            "places",
            "weight_min_grams",
            "weight_max_grams",
        )


class RuleActionForm(forms.ModelForm):
    alert_kind = forms.ChoiceField(label=_("alert kind"), choices=[("", "—"), *AlertKind.choices], required=False)
    alert_severity = forms.ChoiceField(
        label=_("alert severity"),
        choices=[("", _("the kind's default")), *AlertSeverity.choices],
        required=False,
    )

    class Meta:
        model = RuleAction
        fields = _ACTION_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from django.contrib.auth import get_user_model

        self.fields["user"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        self.fields["users"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        self.fields["warehouse"].queryset = Warehouse.objects.filter(is_active=True)


class RuleActionFormSet(forms.BaseInlineFormSet):
    """Each action's parameters, checked against the rule's trigger; at least one action."""

    def clean(self):
        super().clean()
        trigger = self.instance.trigger
        kept = 0
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            kept += 1
            values = SimpleNamespace(**{name: form.cleaned_data.get(name) for name in _ACTION_FIELDS})
            for name, messages in action_check(values, trigger=trigger).items():
                for message in messages:
                    form.add_error(name if name in form.fields else None, message)
        if kept == 0:
            raise forms.ValidationError(_("A rule needs at least one action."))


class RuleActionInline(admin.StackedInline):
    model = RuleAction
    form = RuleActionForm
    formset = RuleActionFormSet
    extra = 0
    min_num = 1
    fields = (
        "kind",
        "priority",
        ("user", "role", "notify_cs_owner"),
        ("users", "robots", "email"),
        "warehouse",
        "cooling_off_minutes",
        "carrier",
        ("alert_kind", "alert_severity"),
        ("reaction", "params"),
        "message",
    )
    filter_horizontal = ("users", "robots")


@admin.register(Rule)
class RuleAdmin(SimpleHistoryAdmin):
    """Operations define rules here (only operations and administrators may change them)."""

    form = RuleForm
    inlines = [RuleActionInline]
    change_form_template = "admin/rules/rule/change_form.html"
    list_display = (
        "name",
        "enabled",
        "trigger_display",
        "position",
        "conditions_display",
        "actions_display",
        "preview_link",
        "updated_at",
    )
    list_filter = ("enabled", "trigger")
    search_fields = ("name", "description")
    filter_horizontal = ("shops", "brands", "warehouses")
    readonly_fields = ("firings_link",)
    fieldsets = (
        (
            None,
            {"fields": ("name", "description", "enabled", "trigger", "position", "stop_processing", "firings_link")},
        ),
        (
            _("Conditions (empty = any)"),
            {
                "fields": (
                    "channels",
                    "brands",
                    "shops",
                    ("amount_min", "amount_max", "amount_currency"),
                    "previous_delivered_min",
                    "warehouses",
                    ("is_gift", "priority"),
                    ("time_from", "time_to"),
                    "places",
                    ("weight_min_grams", "weight_max_grams"),
                )
            },
        ),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("actions", "shops", "brands", "warehouses")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The actions' people and robots are saved after the actions: the outbox's
        # subscriptions are read again with them.
        rules_cache_clear()

    @admin.display(description=_("conditions"))
    def conditions_display(self, rule):
        parts = []
        if rule.channels:
            labels = dict(Channel.choices)
            parts.append(" / ".join(str(labels.get(c, c)) for c in rule.channels))
        for related in (rule.brands.all(), rule.shops.all(), rule.warehouses.all()):
            if related:
                parts.append(" / ".join(str(o) for o in related))
        if rule.amount_min is not None:
            parts.append(f"≥ {rule.amount_min} {rule.amount_currency}")
        if rule.amount_max is not None:
            parts.append(f"≤ {rule.amount_max} {rule.amount_currency}")
        if rule.previous_delivered_min is not None:
            parts.append(_("%(count)s+ delivered") % {"count": rule.previous_delivered_min})
        if rule.is_gift:
            parts.append(f"{Rule._meta.get_field('is_gift').verbose_name}: {rule.get_is_gift_display()}")
        if rule.priority:
            parts.append(f"{Rule._meta.get_field('priority').verbose_name}: {rule.get_priority_display()}")
        if rule.time_from is not None and rule.time_to is not None:
            parts.append(f"{rule.time_from:%H:%M}–{rule.time_to:%H:%M}")
        if rule.places:
            labels = dict(place_choices())
            parts.append(" / ".join(str(labels.get(p, p)) for p in rule.places))
        if rule.weight_min_grams is not None:
            parts.append(f"≥ {rule.weight_min_grams} g")
        if rule.weight_max_grams is not None:
            parts.append(f"≤ {rule.weight_max_grams} g")
        return " · ".join(parts) or _("every order")

    @admin.display(description=_("when"), ordering="trigger")
    def trigger_display(self, rule):
        return rule.get_trigger_display()

    @admin.display(description=_("actions"))
    def actions_display(self, rule):
        return ", ".join(str(a.get_kind_display()) for a in rule.actions.all())

    @admin.display(description=_("what it did"))
    def firings_link(self, rule):
        if rule.pk is None:
            return "—"
        count = rule.firings.count()
        url = reverse("admin:rules_rulefiring_changelist") + f"?rule__id__exact={rule.pk}"
        return format_html(
            '<a href="{}">{}</a>', url, ngettext("%(count)s firing", "%(count)s firings", count) % {"count": count}
        )

    @admin.display(description=_("preview"))
    def preview_link(self, rule):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:rules_rule_preview", args=[rule.pk]), _("Preview (30 days)")
        )

    def get_urls(self):
        urls = super().get_urls()
        return [
            path("<path:object_id>/preview/", self.admin_site.admin_view(self.preview_view), name="rules_rule_preview"),
            *urls,
        ]

    def preview_view(self, request, object_id):
        rule = get_object_or_404(Rule, pk=object_id)
        if not self.has_view_permission(request, rule):
            raise PermissionDenied
        preview = rule_preview(rule)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": rule,
            "title": _("Preview of rule “%(name)s”") % {"name": rule.name},
            "preview": preview,
            "days": PREVIEW_DAYS,
        }
        return TemplateResponse(request, "admin/rules/rule/preview.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "preview_url": reverse("admin:rules_rule_preview", args=[object_id])}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(RuleFiring)
class RuleFiringAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the rules did: read only."""

    list_display = ("at", "rule", "order", "trigger", "outcome")
    list_filter = ("outcome", "trigger", "rule")
    search_fields = ("=order__number",)
    list_select_related = ("rule", "order")
    readonly_fields = ("rule", "order", "event", "trigger", "actions", "outcome", "at")
    date_hierarchy = "at"
    show_full_result_count = False
