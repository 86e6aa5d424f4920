"""Forms of the order page: one per transition (built from its row in the table) and the details
form. Each carries the version the page showed, so a stale page gets the conflict message."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Warehouse
from .selectors import people_in_role
from .states import Carrier, Priority, Role, Transition


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class VersionedForm(forms.Form):
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class TransitionForm(VersionedForm):
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    attachments = MultipleFileField(
        label=_("Photos or PDF"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,application/pdf"}),
    )

    def __init__(self, *args, transition: Transition, **kwargs):
        super().__init__(*args, **kwargs)
        self.transition = transition
        self.prefix = transition.action
        if transition.note_required:
            self.fields["note"].required = True
            self.fields["note"].label = _("Reason")
        if "warehouse" in transition.requires:
            self.fields["warehouse"] = forms.ModelChoiceField(
                label=_("Warehouse"), queryset=Warehouse.objects.filter(is_active=True)
            )
        if "carrier" in transition.requires:
            self.fields["carrier"] = forms.ChoiceField(label=_("Carrier"), choices=Carrier.choices)
        if "tracking_number" in transition.requires:
            # autofocus-free plain text field: a barcode scanner types into it and sends Enter.
            self.fields["tracking_number"] = forms.CharField(
                label=_("Tracking number"), max_length=40, widget=forms.TextInput(attrs={"autocomplete": "off"})
            )
        # What the action needs comes first; note and photos are optional extras.
        self.order_fields([*transition.requires, "note", "attachments"])

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        kwargs = {
            "expected_version": data["expected_version"],
            "note": data.get("note", ""),
            "attachments": data.get("attachments") or [],
        }
        for name in self.transition.requires:
            kwargs[name] = data[name]
        return kwargs


class BoardTransitionForm(VersionedForm):
    """One tap on a board row. The service checks what the action needs; this only reads it."""

    note = forms.CharField(required=False, max_length=2000)
    carrier = forms.ChoiceField(required=False, choices=Carrier.choices)
    # A scanner sends the code and Enter; stray spaces around it are not part of the number.
    tracking_number = forms.CharField(required=False, max_length=64, strip=True)

    def error_text(self) -> str:
        return "; ".join(" ".join(errors) for errors in self.errors.values())


class OrderDetailsForm(VersionedForm):
    cs_owner = forms.ModelChoiceField(label=_("Customer-service owner"), queryset=None, required=False)
    priority = forms.TypedChoiceField(label=_("Priority"), choices=Priority.choices, coerce=int)
    buyer_email = forms.EmailField(label=_("Buyer email"), required=False)
    buyer_phone = forms.CharField(label=_("Buyer phone"), required=False, max_length=32)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prefix = "details"
        self.fields["cs_owner"].queryset = people_in_role(Role.CUSTOMER_SERVICE)


class OrderAddressForm(VersionedForm):
    """Where the order goes, as customer service corrects it (orders.services.orders.order_address_fix)."""

    recipient_name = forms.CharField(label=_("Recipient"), required=False, max_length=60)
    recipient_phone = forms.CharField(label=_("Recipient phone"), required=False, max_length=32)
    ship_province = forms.CharField(label=_("Province"), required=False, max_length=40)
    ship_city = forms.CharField(label=_("City"), required=False, max_length=40)
    ship_district = forms.CharField(label=_("District"), required=False, max_length=40)
    ship_address = forms.CharField(label=_("Address"), required=False, max_length=200)
    ship_postcode = forms.CharField(label=_("Postcode"), required=False, max_length=16)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prefix = "address"


class WriteOnlySecretsForm(forms.ModelForm):
    """A model form whose `secret_fields` are write-only: never rendered back, and left empty
    on an edit they keep what is stored. A new object must have them (unless optional)."""

    secret_fields: tuple[str, ...] = ()
    optional_secrets: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            field = self.fields.get(name)
            if field is None:
                continue  # a view-only page: the admin leaves every field out of the form
            field.required = False
            field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
            keep = _("Stored, never shown again. Leave empty to keep the current value.")
            field.help_text = f"{field.help_text} {keep}".strip() if self.instance.pk else field.help_text

    def _clean_secret(self, name: str):
        value = (self.cleaned_data.get(name) or "").strip()
        if value:
            return value
        if self.instance.pk:
            return getattr(self.instance, name)
        if name in self.optional_secrets:
            return ""
        raise forms.ValidationError(_("This field is required."))

    def clean(self):
        data = super().clean()
        for name in self.secret_fields:
            if name not in self.fields:
                continue
            try:
                data[name] = self._clean_secret(name)
            except forms.ValidationError as exc:
                self.add_error(name, exc)
        return data


class OrderSplitForm(VersionedForm):
    """拆单: how many units of each line go to the new order (0: the line stays)."""

    note = forms.CharField(label=_("Why"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        for line in self.lines:
            self.fields[self.field_name(line)] = forms.IntegerField(
                label=str(line),
                min_value=0,
                max_value=line.quantity,
                initial=0,
                required=False,
                widget=forms.NumberInput(attrs={"class": "orderhub-units", "inputmode": "numeric"}),
            )

    @staticmethod
    def field_name(line) -> str:
        return f"units_{line.pk}"

    def rows(self):
        """(line, its units field) for the template's table."""
        return [(line, self[self.field_name(line)]) for line in self.lines]

    def picks(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data.get(self.field_name(line)) or 0 for line in self.lines}


class OrderMergeForm(VersionedForm):
    """合单: which of the buyer's other orders go into one parcel with this one, and the version
    of each that the page showed."""

    orders = forms.TypedMultipleChoiceField(label=_("Orders to merge"), coerce=int, widget=forms.CheckboxSelectMultiple)
    note = forms.CharField(label=_("Why"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.candidates = list(candidates)
        self.fields["orders"].choices = [(o.pk, o.number) for o in self.candidates]
        self.fields["orders"].initial = [o.pk for o in self.candidates]
        for order in self.candidates:
            self.fields[f"version_{order.pk}"] = forms.IntegerField(
                widget=forms.HiddenInput, initial=order.version, min_value=1
            )

    def versions(self) -> dict[int, int]:
        return {o.pk: self.cleaned_data[f"version_{o.pk}"] for o in self.candidates}
