"""Finance's to-invoice list in the admin: the InvoiceRequest rows (never a gift order's), with
the amount to invoice (no revenue for gift lines; finance.selectors) and the gift lines that went
out, filters, search, totals, the exports with the same filters, a bulk "mark requested", and each
row's page with its moves (requested, issued with the invoice number, taken off the list, title
and tax id). Nothing here writes a row: every button calls finance.services with the version the
page showed."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from orders.admin import local_time
from orders.exceptions import OrderError
from orders.permissions import user_display_name
from orders.selectors import order_visibility_q
from orders.states import Channel, Role

from .constants import OPEN_STATUSES, InvoiceStatus
from .exports import gift_lines_text
from .forms import MOVE_FORMS, InvoiceCancelForm, InvoiceDetailsForm, InvoiceIssuedForm, InvoiceRequestedForm
from .models import InvoiceRequest
from .selectors import (
    FILTER_PARAMS,
    STATUS_ALL,
    STATUS_OPEN,
    invoice_filter,
    invoice_filters_clean,
    invoice_gift_lines_prefetch,
    invoice_list_base,
    invoice_search,
    invoice_totals_for_finance,
)
from .services import (
    CHANGE_PERMISSION,
    invoice_cancel,
    invoice_details_update,
    invoice_mark_issued,
    invoice_mark_requested,
)

# A bulk action runs one transaction per row; more than a page at once is a mistake.
BULK_ACTION_LIMIT = 200


class InvoiceStatusFilter(admin.SimpleListFilter):
    """Opens on what finance still has to do (to invoice + requested)."""

    title = _("invoice status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(STATUS_OPEN, _("Open (to invoice or requested)")), *InvoiceStatus.choices, (STATUS_ALL, _("All"))]

    def choices(self, changelist):
        current = self.value() or STATUS_OPEN
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: value} if value != STATUS_OPEN else {}, [self.parameter_name]
                ),
                "display": label,
            }

    def queryset(self, request, queryset):
        return invoice_filter(queryset, status=self.value() or STATUS_OPEN)


class ChannelFilter(admin.SimpleListFilter):
    title = _("channel")
    parameter_name = "channel"

    def lookups(self, request, model_admin):
        return Channel.choices

    def queryset(self, request, queryset):
        return invoice_filter(queryset, channel=self.value()) if self.value() else queryset


class AddedDateFilter(admin.ListFilter):
    """Added between two days (Asia/Shanghai, both included): quick ranges and a from/to form."""

    title = _("added")
    template = "admin/finance/added_date_filter.html"
    parameters = ("added_from", "added_to")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.parameters:
            if name in params:
                value = params.pop(name)
                self.used_parameters[name] = value[-1] if isinstance(value, list) else value

    def has_output(self):
        return True

    def expected_parameters(self):
        return list(self.parameters)

    def queryset(self, request, queryset):
        # The values were checked by the changelist view before the list was built.
        filters = invoice_filters_clean(self.used_parameters)
        return invoice_filter(queryset, added_from=filters["added_from"], added_to=filters["added_to"])

    def choices(self, changelist):
        today = timezone.localdate(timezone.now(), timezone.get_default_timezone())
        month_start = today.replace(day=1)
        last_month_end = month_start - timedelta(days=1)
        ranges = [
            (_("Any date"), None, None),
            (_("Today"), today, today),
            (_("Last 7 days"), today - timedelta(days=6), today),
            (_("This month"), month_start, today),
            (_("Last month"), last_month_end.replace(day=1), last_month_end),
        ]
        current = (self.used_parameters.get("added_from", ""), self.used_parameters.get("added_to", ""))
        for label, start, end in ranges:
            values = (start.isoformat() if start else "", end.isoformat() if end else "")
            new = {name: value for name, value in zip(self.parameters, values, strict=True) if value}
            yield {
                "selected": values == current,
                "query_string": changelist.get_query_string(new, list(self.parameters)),
                "display": label,
            }
        # The custom range: a small GET form keeping the other filters.
        hidden = [
            (name, value)
            for name, values in changelist.filter_params.items()
            if name not in self.parameters
            for value in values
        ]
        yield {"form": True, "hidden": hidden, "added_from": current[0], "added_to": current[1]}


@admin.register(InvoiceRequest)
class InvoiceRequestAdmin(admin.ModelAdmin):
    list_display = (
        "order_link",
        "channel",
        "external_id",
        "amount_display",
        "gift_lines_display",
        "status_label",
        "added",
        "requested",
        "issued",
        "invoice_number",
        "buyer_title",
        "buyer_tax_id",
        "manage",
    )
    list_display_links = None
    list_filter = (InvoiceStatusFilter, ChannelFilter, "currency", AddedDateFilter)
    search_fields = ("invoice_number",)  # shows the box; invoice_search decides what matches
    search_help_text = _("Exact order number, channel order id or invoice number.")
    list_per_page = 50
    show_full_result_count = False
    # Facet counts would add a count query per filter choice, over the whole list.
    show_facets = admin.ShowFacets.NEVER
    ordering = ("added_at", "id")
    actions = ("mark_requested",)
    fieldsets = (
        (None, {"fields": ("order_link", "status_label", "amount_display", "goods_display", "version_shown")}),
        (_("Order"), {"fields": ("channel", "external_id")}),
        (_("Invoice"), {"fields": ("invoice_number", "buyer_title", "buyer_tax_id", "note")}),
        (_("Who and when"), {"fields": ("added", "requested", "issued", "cancelled", "last_change")}),
    )

    # -- permissions: the page reads; the services write ------------------------------------

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_mark_permission(self, request):
        return request.user.has_perm(CHANGE_PERMISSION)

    def get_readonly_fields(self, request, obj=None):
        return [field for fieldset in self.fieldsets for field in fieldset[1]["fields"]]

    def get_queryset(self, request):
        # Finance sees every brand; anyone brand-scoped who is given the list sees their brands.
        visible = order_visibility_q(request.user, prefix="order__")
        return (
            invoice_list_base()
            .select_related("updated_by")
            .prefetch_related(invoice_gift_lines_prefetch())
            .filter(visible)
        )

    def get_search_results(self, request, queryset, search_term):
        return invoice_search(queryset, term=search_term), False

    # -- columns -------------------------------------------------------------------------------

    @admin.display(description=_("Order"), ordering="order__number")
    def order_link(self, invoice):
        number = invoice.order.number
        return format_html(
            '<a href="{}" class="orderhub-timeline-link">{}</a>', reverse("orders:timeline", args=[number]), number
        )

    @admin.display(description=_("Channel"), ordering="order__channel")
    def channel(self, invoice):
        return invoice.order.get_channel_display()

    @admin.display(description=_("External order id"))
    def external_id(self, invoice):
        return invoice.order.external_id or "—"

    @admin.display(description=_("Amount to invoice"), ordering="invoiceable_amount")
    def amount_display(self, invoice):
        return f"{_invoiceable(invoice):,.2f} {invoice.currency}"

    @admin.display(description=_("Gift lines (no revenue)"))
    def gift_lines_display(self, invoice):
        return gift_lines_text(invoice.order) or "—"

    @admin.display(description=capfirst(_("order lines")))
    def goods_display(self, invoice):
        """Every line of the order with its revenue (a gift line: "gift", 0), then the shipping
        fee and the tax on top: what the amount to invoice is made of."""
        order = invoice.order
        lines = list(order.lines.order_by("position"))
        if not lines:
            return _("The order has no lines: the amount to invoice is the order's amount.")
        gift = _("Gift")
        rows = format_html_join(
            "",
            '<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td class="orderhub-money">{}</td><td>{}</td></tr>',
            (
                (
                    "orderhub-gift-line" if line.is_gift else "",
                    line.sku or "—",
                    line.name,
                    line.quantity,
                    f"{line.revenue:,.2f}",
                    gift if line.is_gift else "",
                )
                for line in lines
            ),
        )
        extras = format_html_join(
            "",
            '<tr><td colspan="3">{}</td><td class="orderhub-money">{}</td><td></td></tr>',
            (
                (label, f"{value:,.2f}")
                for label, value in (
                    (capfirst(_("shipping fee")), order.shipping_fee),
                    (capfirst(_("tax on top of prices")), order.tax_amount),
                )
                if value
            ),
        )
        return format_html(
            '<table class="orderhub-invoice-lines"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th>'
            "</tr></thead><tbody>{}{}</tbody></table>",
            _("SKU"),
            _("Item"),
            _("Quantity"),
            _("Revenue"),
            rows,
            extras,
        )

    @admin.display(description=_("Invoice status"), ordering="status")
    def status_label(self, invoice):
        return format_html(
            '<span class="orderhub-invoice-status" data-status="{}">{}</span>',
            invoice.status,
            invoice.get_status_display(),
        )

    @admin.display(description=_("Added at"), ordering="added_at")
    def added(self, invoice):
        return local_time(invoice.added_at)

    @admin.display(description=_("Requested at"), ordering="requested_at")
    def requested(self, invoice):
        return _when_who(invoice.requested_at, invoice.requested_by)

    @admin.display(description=_("Issued at"), ordering="issued_at")
    def issued(self, invoice):
        return _when_who(invoice.issued_at, invoice.issued_by)

    @admin.display(description=_("Cancelled at"))
    def cancelled(self, invoice):
        return _when_who(invoice.cancelled_at, invoice.cancelled_by)

    @admin.display(description=_("Last change"))
    def last_change(self, invoice):
        return _when_who(invoice.updated_at, invoice.updated_by, system=True)

    @admin.display(description=_("Version"))
    def version_shown(self, invoice):
        return invoice.version

    @admin.display(description="")
    def manage(self, invoice):
        label = {
            InvoiceStatus.PENDING: _("Mark requested…"),
            InvoiceStatus.REQUESTED: _("Mark issued…"),
        }.get(invoice.status, _("Details"))
        return format_html(
            '<a href="{}" class="orderhub-invoice-open">{}</a>',
            reverse("admin:finance_invoicerequest_change", args=[invoice.pk]),
            label,
        )

    # -- the list ------------------------------------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        try:
            invoice_filters_clean(request.GET)
        except OrderError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.path)
        export_query = urlencode({name: request.GET[name] for name in FILTER_PARAMS if request.GET.get(name)})
        suffix = f"?{export_query}" if export_query else ""
        extra_context = {
            "title": _("To-invoice list"),
            "export_csv_url": reverse("finance:invoice_export_csv") + suffix,
            "export_xlsx_url": reverse("finance:invoice_export_xlsx") + suffix,
            **(extra_context or {}),
        }
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            totals = invoice_totals_for_finance(context["cl"].queryset)
            for row in totals:
                row["label"] = InvoiceStatus(row["status"]).label
            context["invoice_totals"] = totals
        return response

    @admin.action(description=_("Mark the selected invoices requested"), permissions=["mark"])
    def mark_requested(self, request, queryset):
        rows = list(queryset.order_by("pk")[: BULK_ACTION_LIMIT + 1])
        if len(rows) > BULK_ACTION_LIMIT:
            self.message_user(
                request,
                _("Select at most %(limit)d rows at a time; nothing was done.") % {"limit": BULK_ACTION_LIMIT},
                messages.ERROR,
            )
            return
        done, refused = 0, []
        for invoice in rows:
            try:
                invoice_mark_requested(invoice_id=invoice.pk, actor=request.user, expected_version=None)
            except OrderError as exc:
                refused.append(f"{invoice.order.number}: {exc.message}")
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("Marked requested: %(count)d invoice.", "Marked requested: %(count)d invoices.", done)
                % {"count": done},
                messages.SUCCESS,
            )
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    # -- one row's page and its moves ----------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/move/<str:move>/",
                self.admin_site.admin_view(self.move_view),
                name="finance_invoicerequest_move",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        invoice = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if invoice is not None:
            extra_context.update(self._move_forms(request, invoice))
        return super().change_view(request, object_id, form_url, extra_context)

    def _move_forms(self, request, invoice) -> dict:
        if not request.user.has_perm(CHANGE_PERMISSION) or invoice.status not in OPEN_STATUSES:
            return {"invoice_forms": [], "invoice_version": invoice.version}
        initial = {"expected_version": invoice.version}
        forms = []
        if invoice.status == InvoiceStatus.PENDING:
            forms.append(("requested", _("Mark invoice requested"), InvoiceRequestedForm(initial=initial)))
        if invoice.status == InvoiceStatus.REQUESTED:
            forms.append(("issued", _("Mark invoice issued"), InvoiceIssuedForm(initial=initial)))
        forms.append(
            (
                "details",
                _("Save invoice title and tax id"),
                InvoiceDetailsForm(
                    initial={**initial, "buyer_title": invoice.buyer_title, "buyer_tax_id": invoice.buyer_tax_id}
                ),
            )
        )
        forms.append(("cancel", _("Take off the to-invoice list"), InvoiceCancelForm(initial=initial)))
        return {"invoice_forms": forms, "invoice_version": invoice.version}

    def move_view(self, request, object_id, move):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        invoice = self.get_object(request, object_id)
        if invoice is None:
            raise Http404(_("This row is not on the to-invoice list."))
        back = HttpResponseRedirect(reverse("admin:finance_invoicerequest_change", args=[invoice.pk]))
        form_class = MOVE_FORMS.get(move)
        if form_class is None:
            messages.error(request, _("There is no such action."))
            return back
        form = form_class(request.POST)
        if not form.is_valid():
            messages.error(request, "; ".join(" ".join(errors) for errors in form.errors.values()))
            return back
        data = form.cleaned_data
        common = {"invoice_id": invoice.pk, "actor": request.user, "expected_version": data["expected_version"]}
        try:
            if move == "requested":
                invoice_mark_requested(**common)
                done = _("Marked requested.")
            elif move == "issued":
                invoice = invoice_mark_issued(**common, invoice_number=data["invoice_number"])
                done = _("Invoice %(number)s recorded.") % {"number": invoice.invoice_number}
            elif move == "cancel":
                invoice_cancel(**common, reason=data["reason"])
                done = _("Taken off the to-invoice list.")
            else:
                invoice_details_update(**common, buyer_title=data["buyer_title"], buyer_tax_id=data["buyer_tax_id"])
                done = _("Invoice title and tax id saved.")
        except OrderError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, done)
        return back


def _invoiceable(invoice):
    # Annotated by finance.selectors.invoice_list_base (the list and the row's page read it).
    return getattr(invoice, "invoiceable_amount", invoice.amount)


def _when_who(at, user, *, system: bool = False) -> str:
    if at is None:
        return "—"
    who = user_display_name(user) if user is not None else (str(Role.SYSTEM.label) if system else "")
    return f"{local_time(at)} {who}".strip()
