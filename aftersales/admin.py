"""After-sales in the admin."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from orders.admin import ReadOnlyAdminMixin, local_time
from orders.exceptions import OrderError
from orders.models import Order
from orders.permissions import user_display_name
from orders.selectors import order_visibility_q
from orders.states import Role

from .models import DuplicateRefundAttempt, Refund, ReturnRequest
from .selectors import RefundProposal, return_refund_proposal
from .services.refunds import refund_request

# -- refunds ------------------------------------------------------------------------------------


class RefundRequestForm(forms.Form):
    """Finance's request. It only reads what was typed: the service decides and writes."""

    order = forms.CharField(label=_("Order number"), max_length=32)
    return_id = forms.IntegerField(
        label=_("Return number"),
        required=False,
        min_value=1,
        help_text=_("For a refund that closes an approved return: the return's number (#). Leave empty otherwise."),
    )
    amount = forms.DecimalField(
        label=_("Amount"),
        max_digits=12,
        decimal_places=2,
        help_text=_("For a return: starts from the refund its lines propose (below). You may change it."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    # Made when the page is shown: a second click or a resent form is the same request, which the
    # service refuses as a duplicate instead of paying twice.
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_order(self):
        number = self.cleaned_data["order"].strip().upper()
        order = Order.objects.filter(number=number).only("pk", "number").first()
        if order is None:
            raise forms.ValidationError(_("There is no order %(number)s.") % {"number": number})
        return order


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    """Refunds are read here; a new one is asked through the service (the add page), never
    written by the admin."""

    list_display = (
        "requested",
        "order",
        "return_number",
        "amount_display",
        "status",
        "gateway",
        "gateway_reference",
        "requested_by_name",
        "paid",
    )
    list_filter = ("status", "gateway")
    search_fields = ("=order__number", "=idempotency_key", "=gateway_reference")
    list_select_related = ("order", "requested_by")
    list_per_page = 50
    show_full_result_count = False
    actions = None
    fields = (
        "order",
        "return_request",
        "amount",
        "currency",
        "reason",
        "status",
        "failure_reason",
        "idempotency_key",
        "gateway",
        "gateway_reference",
        "requested_by",
        "requested_at",
        "paid_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(order_visibility_q(request.user, prefix="order__"))

    def has_add_permission(self, request):
        return request.user.has_perm("aftersales.add_refund")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Requested"), ordering="requested_at")
    def requested(self, refund):
        return local_time(refund.requested_at)

    @admin.display(description=_("Return"))
    def return_number(self, refund):
        return f"#{refund.return_request_id}" if refund.return_request_id else "—"

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_display(self, refund):
        return f"{refund.amount} {refund.currency}"

    @admin.display(description=_("Requested by"))
    def requested_by_name(self, refund):
        return user_display_name(refund.requested_by) or str(Role.SYSTEM.label)

    @admin.display(description=_("Paid at"), ordering="paid_at")
    def paid(self, refund):
        return local_time(refund.paid_at)

    def _proposal(self, request, return_id) -> RefundProposal | None:
        """The refund the return's lines propose, for a return the person may see."""
        if not str(return_id or "").strip().isdigit():
            return None
        case = (
            ReturnRequest.objects.filter(order_visibility_q(request.user, prefix="order__"), pk=int(return_id))
            .select_related("order")
            .first()
        )
        return return_refund_proposal(case) if case is not None else None

    def add_view(self, request, form_url="", extra_context=None):
        """Finance's "Request a refund". With ?return_id= the amount starts from the refund the
        return's lines propose, shown line by line; whatever is typed, the service checks it."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = RefundRequestForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    refund = refund_request(
                        order_id=data["order"].pk,
                        actor=request.user,
                        amount=data["amount"],
                        reason=data["reason"],
                        return_id=data["return_id"],
                        idempotency_key=data["request_key"],
                    )
                except OrderError as exc:
                    form.add_error(None, exc.message)
                else:
                    messages.success(
                        request,
                        _t("Refund #%(id)s of %(amount)s %(currency)s for order %(number)s is recorded and being paid.")
                        % {
                            "id": refund.pk,
                            "amount": refund.amount,
                            "currency": refund.currency,
                            "number": data["order"].number,
                        },
                    )
                    return HttpResponseRedirect(reverse("admin:aftersales_refund_change", args=[refund.pk]))
            proposal = self._proposal(request, request.POST.get("return_id"))
        else:
            initial = {"request_key": f"admin-{uuid.uuid4().hex}"}
            for name in ("order", "return_id"):
                if request.GET.get(name):
                    initial[name] = request.GET[name]
            proposal = self._proposal(request, request.GET.get("return_id"))
            if proposal is not None:
                # The page starts from what the return's lines propose; the person may change it.
                initial["order"] = proposal.return_request.order.number
                if proposal.priced and proposal.amount > 0:
                    initial["amount"] = proposal.amount
            form = RefundRequestForm(initial=initial)
        context = {
            **self.admin_site.each_context(request),
            "title": _t("Request a refund"),
            "opts": self.opts,
            "form": form,
            "proposal": proposal,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/aftersales/refund/request_form.html", context)


@admin.register(DuplicateRefundAttempt)
class DuplicateRefundAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every refund asked for again: what operations look at after the seed's double refunds."""

    list_display = ("attempted", "order", "return_number", "existing", "attempted_by_name", "idempotency_key")
    search_fields = ("=order__number",)
    list_select_related = ("order", "attempted_by", "existing_refund")
    list_per_page = 50
    show_full_result_count = False
    actions = None

    @admin.display(description=_("Attempted at"), ordering="attempted_at")
    def attempted(self, attempt):
        return local_time(attempt.attempted_at)

    @admin.display(description=_("Return"))
    def return_number(self, attempt):
        return f"#{attempt.return_request_id}" if attempt.return_request_id else "—"

    @admin.display(description=_("Existing refund"))
    def existing(self, attempt):
        refund = attempt.existing_refund
        return f"#{refund.pk} · {refund.amount} {refund.currency} · {refund.get_status_display()}"

    @admin.display(description=_("Attempted by"))
    def attempted_by_name(self, attempt):
        return user_display_name(attempt.attempted_by) or str(Role.SYSTEM.label)


# -- returns: the review list and page, the request form, the after-sales rules ----------------
from . import admin_returns  # noqa: E402, F401
