"""Forms of an invoice request's page. Each carries the version the page showed, so a stale page
gets the conflict message; the services check everything again."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from orders.forms import VersionedForm


class InvoiceRequestedForm(VersionedForm):
    prefix = "requested"


class InvoiceIssuedForm(VersionedForm):
    prefix = "issued"
    invoice_number = forms.CharField(
        label=_("Invoice number"),
        max_length=40,
        help_text=_("8–20 letters or digits, as printed on the invoice."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class InvoiceCancelForm(VersionedForm):
    prefix = "cancel"
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class InvoiceDetailsForm(VersionedForm):
    prefix = "details"
    buyer_title = forms.CharField(label=_("Invoice title"), max_length=200, required=False)
    buyer_tax_id = forms.CharField(label=_("Buyer tax id"), max_length=40, required=False)


MOVE_FORMS = {
    "requested": InvoiceRequestedForm,
    "issued": InvoiceIssuedForm,
    "cancel": InvoiceCancelForm,
    "details": InvoiceDetailsForm,
}
