"""Forms of the return pages: customer service's request (reason, the lines or items coming
back, photos) and the after-sales review. They only read input; the return services decide and write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django import forms
from django.contrib.admin.helpers import ActionForm
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.forms import MultipleFileField, MultipleFileInput
from orders.models import OrderLine


def return_items_parse(text: str) -> list[dict]:
    """One item a line: `SKU | name | quantity` (the SKU or the name may be left empty)."""
    items = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) != 3:
            raise forms.ValidationError(
                _("Line %(n)d: write “SKU | name | quantity”, e.g. “CUP-01 | 保温杯 | 1”.") % {"n": number}
            )
        sku, name, quantity = parts
        if not quantity.isdigit():
            raise forms.ValidationError(_("Line %(n)d: the quantity must be a whole number.") % {"n": number})
        items.append({"sku": sku, "name": name, "quantity": int(quantity)})
    return items


@dataclass(frozen=True)
class ReturnableLine:
    """One of the order's lines on the request form: what was ordered, what earlier returns
    (not rejected) took, and the quantity input."""

    line: OrderLine
    returned: int
    field: forms.BoundField

    @property
    def left(self) -> int:
        return max(self.line.quantity - self.returned, 0)


def _line_field_name(line: OrderLine) -> str:
    return f"line_{line.pk}"


class ReturnRequestForm(forms.Form):
    """The order, the reason, what comes back and photos. `order_lines`: the order's lines with
    the units earlier returns took ([(line, returned)]); when there are any, the form asks a
    quantity per line instead of the items as text."""

    order = forms.CharField(label=gettext_lazy("Order number"), max_length=32)
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        help_text=gettext_lazy("What the buyer says is wrong. It goes on the order's timeline."),
    )
    items = forms.CharField(
        label=gettext_lazy("Items coming back"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "CUP-01 | 保温杯 | 1"}),
        help_text=gettext_lazy("One a line: SKU | name | quantity. Leave empty when the whole order comes back."),
    )
    photos = MultipleFileField(
        label=gettext_lazy("Photos or PDF"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,application/pdf"}),
    )
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)

    def __init__(self, *args, order_lines: Sequence[tuple[OrderLine, int]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self._order_lines = list(order_lines)
        if self._order_lines:
            # The lines say what comes back; the text box is for orders without lines.
            del self.fields["items"]
        for line, returned in self._order_lines:
            left = max(line.quantity - returned, 0)
            self.fields[_line_field_name(line)] = forms.IntegerField(
                label=gettext_lazy("Quantity coming back"),
                required=False,
                min_value=0,
                initial=0,
                widget=forms.NumberInput(
                    attrs={
                        "min": 0,
                        "max": left,
                        "class": "vIntegerField",
                        "aria-label": _("%(line)s: units coming back") % {"line": line.sku or line.name},
                    }
                ),
            )

    @property
    def returnable_lines(self) -> list[ReturnableLine]:
        return [
            ReturnableLine(line=line, returned=returned, field=self[_line_field_name(line)])
            for line, returned in self._order_lines
        ]

    def clean_order(self):
        return self.cleaned_data["order"].strip().upper()

    def clean_items(self):
        return return_items_parse(self.cleaned_data.get("items", ""))

    def clean(self):
        data = super().clean()
        if self._order_lines:
            data["items"] = []
            data["lines"] = [
                {"line": line.pk, "quantity": quantity}
                for line, _returned in self._order_lines
                if (quantity := data.get(_line_field_name(line)))
            ]
            if not data["lines"] and not self.errors:
                raise forms.ValidationError(_("Give the number of units coming back for at least one line."))
        else:
            data["lines"] = None
        return data


class ReturnReviewForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note (required to reject)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    prepaid_label = forms.BooleanField(
        label=gettext_lazy("Prepaid return label (we pay the postage)"),
        required=False,
    )
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    expected_order_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class ReturnActionForm(ActionForm):
    """The changelist's action bar: the reason a rejection needs, and the label choice."""

    note = forms.CharField(label=gettext_lazy("Reason"), required=False, max_length=4000)
    prepaid_label = forms.BooleanField(label=gettext_lazy("Prepaid label"), required=False)
