"""Warehouses in the admin: who they are, where parcels are sent from, and their dispatch
promise (time zone, working days, cut-off, carrier pickup, promised ship time). Other apps add
columns to the list through WAREHOUSE_COLUMNS (dispatch: the open proposal for the promise)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.utils.dates import WEEKDAYS, WEEKDAYS_ABBR
from django.utils.translation import gettext_lazy as _

from .models import Warehouse
from .plugins import hub_extensions

# The extension point for the warehouse list's columns: an app declares
# `extensions = {WAREHOUSE_COLUMNS: "<dotted path of a list of WarehouseColumn>"}` on its
# HubAppConfig, so the warehouse shows what that app knows of it without orders naming the app.
WAREHOUSE_COLUMNS = "orders.warehouse_columns"


@dataclass(frozen=True)
class WarehouseColumn:
    """`display(warehouse)` is the cell (an @admin.display function: its description heads the
    column); `annotate(queryset)` adds what it reads to the list's one query, so the column costs
    no query per row."""

    display: Callable[[Warehouse], object]
    annotate: Callable[[QuerySet], QuerySet] = lambda queryset: queryset


def _columns() -> list[WarehouseColumn]:
    return [column for declared in hub_extensions(WAREHOUSE_COLUMNS) for column in declared]


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

    def get_list_display(self, request):
        return (*super().get_list_display(request), *(column.display for column in _columns()))

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        for column in _columns():
            queryset = column.annotate(queryset)
        return queryset

    @admin.display(description=_("Cut-off"), ordering="cutoff_time")
    def cutoff(self, warehouse):
        return warehouse.cutoff_time.strftime("%H:%M")

    @admin.display(description=_("Pickup"), ordering="pickup_time")
    def pickup(self, warehouse):
        return warehouse.pickup_time.strftime("%H:%M")

    @admin.display(description=_("Working days"))
    def working_days_display(self, warehouse):
        return " ".join(str(WEEKDAYS_ABBR[int(d) - 1]) for d in warehouse.working_days if d in "1234567")
