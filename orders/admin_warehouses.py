"""Warehouses in the admin: who they are, where parcels are sent from, and their dispatch
promise (time zone, working days, cut-off, carrier pickup, promised ship time), with the open
proposal for the promise beside it."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.dates import WEEKDAYS, WEEKDAYS_ABBR
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Warehouse

# ISO digits, 1 = Monday … 7 = Sunday (Django's WEEKDAYS counts from 0, already translated).
WEEKDAY_CHOICES = [(str(number + 1), WEEKDAYS[number]) for number in range(7)]


class WorkingDaysField(forms.MultipleChoiceField):
    """One box per day; a post that sends the stored digits as one value ("12345", as the model
    keeps them) is read as those days too."""

    def to_python(self, value):
        values = super().to_python(value)
        if len(values) == 1 and len(values[0]) > 1 and values[0].isdigit():
            return list(values[0])
        return values


class WarehouseForm(forms.ModelForm):
    working_days = WorkingDaysField(
        label=_("working days"),
        choices=WEEKDAY_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Days the carrier collects parcels. Public holidays are not counted: untick a day for that week."),
    )

    class Meta:
        model = Warehouse
        fields = (
            "code",
            "name",
            "is_active",
            "kind",
            "region",
            "time_zone",
            "working_days",
            "cutoff_time",
            "pickup_time",
            "promised_ship_hours",
            "contact_name",
            "contact_phone",
            "province",
            "city",
            "district",
            "address",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The model keeps ISO digits ("12345"); the form shows one box per day.
        self.initial["working_days"] = list(self.instance.working_days or "")

    def clean_working_days(self) -> str:
        days = "".join(sorted(set(self.cleaned_data["working_days"])))
        if not days:
            raise forms.ValidationError(_("Tick at least one working day."))
        return days

    def clean_time_zone(self) -> str:
        name = (self.cleaned_data.get("time_zone") or "").strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(
                _("“%(zone)s” is not a time zone: use a name such as Asia/Shanghai or Europe/Berlin."),
                params={"zone": name},
            ) from None
        return name

    def clean(self):
        data = super().clean()
        cutoff, pickup = data.get("cutoff_time"), data.get("pickup_time")
        if cutoff and pickup and pickup < cutoff:
            self.add_error(
                "pickup_time",
                _(
                    "The carrier pickup (%(pickup)s) must not be before the cut-off (%(cutoff)s): "
                    "parcels packed in between would be promised a pickup that has already gone."
                )
                % {"pickup": pickup.strftime("%H:%M"), "cutoff": cutoff.strftime("%H:%M")},
            )
        return data


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    form = WarehouseForm
    list_display = (
        "code",
        "name",
        "kind",
        "region",
        "is_active",
        "cutoff",
        "pickup",
        "working_days_display",
        "promised_ship_hours",
        "open_proposal",
    )
    list_editable = ("promised_ship_hours",)
    list_filter = ("kind", "region", "is_active")
    search_fields = ("code", "name", "region")
    fieldsets = (
        (None, {"fields": ("code", "name", "is_active", "kind", "region")}),
        (
            _("Dispatch promise"),
            {
                "fields": ("time_zone", "working_days", "cutoff_time", "pickup_time", "promised_ship_hours"),
                "description": _(
                    "Packed before the cut-off on a working day: the parcel leaves with that day's pickup, "
                    "otherwise with the next working day's. Customer service sees this promise in the packed "
                    "notification; the promised ship time is what the SLA alert checks."
                ),
            },
        ),
        (
            _("Sender on waybills"),
            {"fields": ("contact_name", "contact_phone", "province", "city", "district", "address")},
        ),
    )

    def get_queryset(self, request):
        from dispatch.models import OPEN_STATUSES, PromiseProposal

        open_proposal = PromiseProposal.objects.filter(warehouse=OuterRef("pk"), status__in=OPEN_STATUSES)
        return (
            super()
            .get_queryset(request)
            .annotate(
                open_proposal_id=Subquery(open_proposal.values("pk")[:1]),
                open_proposal_hours=Subquery(open_proposal.values("proposed_hours")[:1]),
            )
        )

    @admin.display(description=_("Cut-off"), ordering="cutoff_time")
    def cutoff(self, warehouse):
        return warehouse.cutoff_time.strftime("%H:%M")

    @admin.display(description=_("Pickup"), ordering="pickup_time")
    def pickup(self, warehouse):
        return warehouse.pickup_time.strftime("%H:%M")

    @admin.display(description=_("Working days"))
    def working_days_display(self, warehouse):
        return " ".join(str(WEEKDAYS_ABBR[int(d) - 1]) for d in warehouse.working_days if d in "1234567")

    @admin.display(description=_("Proposed promise"))
    def open_proposal(self, warehouse):
        proposal_id = getattr(warehouse, "open_proposal_id", None)
        if proposal_id is None:
            return "—"
        url = reverse("admin:dispatch_promiseproposal_change", args=[proposal_id])
        hours = warehouse.open_proposal_hours
        if hours is None:
            return format_html('<a href="{}">{}</a>', url, _("too few orders"))
        return format_html('<a href="{}">{}</a>', url, _("%(hours)s h — review") % {"hours": hours})
