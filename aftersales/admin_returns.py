"""Returns in the admin: the after-sales review list, one page per return (details, the lines
coming back, photos, the refund their lines propose, and the approve / reject form with the
versions the page showed), customer service's "Request return" form (the order's lines with
what was ordered, what earlier returns took and a quantity each), and the after-sales rules.
Nothing here writes a row: every change is a call to `aftersales.services.returns`, and its
refusals come back as messages."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from orders.admin import local_time
from orders.exceptions import OrderError
from orders.models import Attachment, Order
from orders.permissions import user_display_name
from orders.selectors import order_list_visible_to, order_visibility_q
from orders.states import TRANSITIONS_BY_ACTION

from .models import OPEN_RETURN_STATUSES, LabelStatus, ReturnRequest, ReturnStatus
from .return_forms import ReturnActionForm, ReturnRequestForm, ReturnReviewForm
from .selectors import order_lines_returnable, return_refund_proposal
from .services.returns import return_request_create, return_review

BULK_REVIEW_LIMIT = 100


def _may(request, action: str) -> bool:
    return request.user.has_perm(f"orders.{TRANSITIONS_BY_ACTION[action].permission_codename}")


class DecidedByRuleFilter(admin.SimpleListFilter):
    title = _("decided by rule")
    parameter_name = "by_rule"

    def lookups(self, request, model_admin):
        return (("yes", _("Yes")), ("no", _("No")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(decided_by_rule="")
        if self.value() == "no":
            return queryset.filter(decided_by_rule="")
        return queryset


@admin.register(ReturnRequest)
class ReturnRequestAdmin(admin.ModelAdmin):
    list_display = (
        "case",
        "order_link",
        "status",
        "source",
        "reason_short",
        "items_short",
        "decided",
        "label",
        "requested",
    )
    list_display_links = ("case",)
    list_filter = ("status", "source", DecidedByRuleFilter, "label_status")
    search_fields = ("=order__number", "=channel_reference")
    search_help_text = _("Exact order number, or the channel's return id.")
    list_select_related = ("order", "requested_by", "decided_by")
    list_per_page = 50
    show_full_result_count = False
    ordering = ("-requested_at", "-id")
    action_form = ReturnActionForm
    actions = ("approve_selected", "reject_selected")

    # -- permissions: reading is the model's view permission; every change is a service call ---

    def get_queryset(self, request):
        return super().get_queryset(request).filter(order_visibility_q(request.user, prefix="order__"))

    def has_add_permission(self, request):
        return request.user.has_perm("aftersales.add_returnrequest") and _may(request, "request_return")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_approve_return_permission(self, request):
        return _may(request, "approve_return")

    def has_reject_return_permission(self, request):
        return _may(request, "reject_return")

    # -- columns -------------------------------------------------------------------------------

    @admin.display(description=_("Return"), ordering="id")
    def case(self, case):
        return f"#{case.pk}"

    @admin.display(description=_("Order"), ordering="order__number")
    def order_link(self, case):
        return format_html(
            '<a href="{}" class="orderhub-timeline-link">{}</a>',
            reverse("orders:timeline", args=[case.order.number]),
            case.order.number,
        )

    @admin.display(description=_("Reason"))
    def reason_short(self, case):
        return case.reason if len(case.reason) <= 80 else f"{case.reason[:79]}…"

    @admin.display(description=_("Items"))
    def items_short(self, case):
        return _items_text(case.items) or "—"

    @admin.display(description=_("Decided"))
    def decided(self, case):
        if case.decided_by_rule:
            return format_html('<span class="orderhub-badge">{}</span>', case.decided_by_rule)
        if case.decided_at:
            return f"{user_display_name(case.decided_by) or _('System')} · {local_time(case.decided_at)}"
        return "—"

    @admin.display(description=_("Return label"), ordering="label_status")
    def label(self, case):
        if case.label_status == LabelStatus.ISSUED:
            return f"{case.get_label_carrier_display()} {case.label_tracking_number}"
        if case.label_status == LabelStatus.FAILED:
            return format_html('<span class="orderhub-badge orderhub-badge-stale">{}</span>', _("Failed"))
        return case.get_label_status_display() if case.label_status else "—"

    @admin.display(description=_("Requested at"), ordering="requested_at")
    def requested(self, case):
        return local_time(case.requested_at)

    # -- pages ---------------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:return_id>/review/",
                self.admin_site.admin_view(self.review_view),
                name=f"{info[0]}_{info[1]}_review",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # A return's page is its review page (read-only for those who may not review).
        if str(object_id).isdigit():
            return HttpResponseRedirect(reverse("admin:aftersales_returnrequest_review", args=[object_id]))
        return super().change_view(request, object_id, form_url, extra_context)

    def review_view(self, request, return_id: int):
        # Another brand's return is as unknown as a missing one.
        case = get_object_or_404(
            self.get_queryset(request).select_related("order", "requested_by", "decided_by"), pk=return_id
        )
        if not self.has_view_permission(request, case):
            raise PermissionDenied
        may_review = case.status == ReturnStatus.REQUESTED and (
            _may(request, "approve_return") or _may(request, "reject_return")
        )
        if request.method == "POST":
            if not may_review and case.status == ReturnStatus.REQUESTED:
                raise PermissionDenied
            form = ReturnReviewForm(request.POST)
            decision = request.POST.get("decision")
            if form.is_valid() and decision in ("approve", "reject"):
                data = form.cleaned_data
                try:
                    case = return_review(
                        return_id=case.pk,
                        actor=request.user,
                        approve=decision == "approve",
                        note=data["note"],
                        expected_version=data["expected_version"],
                        expected_order_version=data["expected_order_version"],
                        prepaid_label=data["prepaid_label"],
                    )
                except OrderError as exc:
                    messages.error(request, exc.message)
                else:
                    if case.status == ReturnStatus.APPROVED:
                        messages.success(
                            request,
                            _("Return #%(id)s of %(number)s approved: the return label is being issued.")
                            % {"id": case.pk, "number": case.order.number},
                        )
                    else:
                        messages.success(
                            request,
                            _("Return #%(id)s of %(number)s rejected: the order is delivered again.")
                            % {"id": case.pk, "number": case.order.number},
                        )
            else:
                messages.error(request, _("Choose approve or reject (a rejection needs a reason)."))
            return HttpResponseRedirect(reverse("admin:aftersales_returnrequest_review", args=[case.pk]))

        form = None
        if may_review:
            form = ReturnReviewForm(
                initial={"expected_version": case.version, "expected_order_version": case.order.version}
            )
        photos = []
        if case.request_event_id:
            photos = list(Attachment.objects.filter(event_id=case.request_event_id).order_by("id"))
        returned_lines = list(case.lines.select_related("order_line").order_by("order_line__position", "pk"))
        may_refund = request.user.has_perm("aftersales.add_refund")
        proposal = return_refund_proposal(case) if case.status != ReturnStatus.REJECTED else None
        refund_url = None
        if may_refund and case.status == ReturnStatus.APPROVED:
            query = urlencode({"order": case.order.number, "return_id": case.pk})
            refund_url = f"{reverse('admin:aftersales_refund_add')}?{query}"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Return #%(id)s of %(number)s") % {"id": case.pk, "number": case.order.number},
            "case": case,
            "items": case.items or [],
            "returned_lines": returned_lines,
            "proposal": proposal,
            "refund_url": refund_url,
            "photos": photos,
            "form": form,
            "may_approve": _may(request, "approve_return"),
            "may_reject": _may(request, "reject_return"),
            "requested_by": user_display_name(case.requested_by) if case.requested_by else case.get_source_display(),
            "decided_by": user_display_name(case.decided_by) if case.decided_by else "",
            "requested_at": local_time(case.requested_at),
            "decided_at": local_time(case.decided_at),
        }
        return TemplateResponse(request, "admin/aftersales/returnrequest/review.html", context)

    def add_view(self, request, form_url="", extra_context=None):
        """Customer service's "Request return": the order (?order=<number>), reason, how many
        units of each of the order's lines come back (the items as text for an order without
        lines) and photos; the return service checks and does the rest."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        order = None
        if request.method == "POST":
            # The order's lines make the form's quantity fields: read the order first.
            number = (request.POST.get("order") or "").strip().upper()
            order = _visible_order(request, number) if number else None
            order_lines = order_lines_returnable(order_id=order.pk) if order else []
            form = ReturnRequestForm(request.POST, request.FILES, order_lines=order_lines)
            if form.is_valid():
                data = form.cleaned_data
                order = _visible_order(request, data["order"])
                if order is None:
                    form.add_error("order", _("There is no order %(number)s.") % {"number": data["order"]})
                else:
                    try:
                        case = return_request_create(
                            order_id=order.pk,
                            actor=request.user,
                            reason=data["reason"],
                            items=data["items"],
                            lines=data["lines"],
                            attachments=data["photos"],
                            expected_version=data["expected_version"],
                        )
                    except OrderError as exc:
                        form.add_error(None, exc.message)
                    else:
                        if case.status == ReturnStatus.APPROVED:
                            text = _("Return #%(id)s of %(number)s requested and approved by the rule: %(rule)s.") % {
                                "id": case.pk,
                                "number": order.number,
                                "rule": case.decided_by_rule,
                            }
                        else:
                            text = _("Return #%(id)s of %(number)s requested: it waits for after-sales review.") % {
                                "id": case.pk,
                                "number": order.number,
                            }
                        messages.success(request, text)
                        return HttpResponseRedirect(reverse("admin:aftersales_returnrequest_review", args=[case.pk]))
        else:
            number = (request.GET.get("order") or "").strip().upper()
            order = _visible_order(request, number) if number else None
            form = ReturnRequestForm(
                initial={"order": number, "expected_version": order.version if order else None},
                order_lines=order_lines_returnable(order_id=order.pk) if order else [],
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Request a return"),
            "form": form,
            "order": order,
        }
        return TemplateResponse(request, "admin/aftersales/returnrequest/request.html", context)

    # -- bulk review ---------------------------------------------------------------------------

    def _review_each(self, request, queryset, *, approve: bool) -> None:
        note = (request.POST.get("note") or "").strip()
        prepaid = request.POST.get("prepaid_label") in ("on", "true", "1")
        cases = list(queryset.select_related("order").order_by("pk")[: BULK_REVIEW_LIMIT + 1])
        if len(cases) > BULK_REVIEW_LIMIT:
            self.message_user(
                request,
                _("Select at most %(limit)d returns at a time; nothing was done.") % {"limit": BULK_REVIEW_LIMIT},
                messages.ERROR,
            )
            return
        done, refused = 0, []
        for case in cases:
            try:
                return_review(return_id=case.pk, actor=request.user, approve=approve, note=note, prepaid_label=prepaid)
            except OrderError as exc:
                refused.append(f"#{case.pk} {case.order.number}: {exc.message}")
            else:
                done += 1
        if done:
            message = (
                ngettext("Approved %(count)d return.", "Approved %(count)d returns.", done)
                if approve
                else ngettext("Rejected %(count)d return.", "Rejected %(count)d returns.", done)
            )
            self.message_user(request, message % {"count": done}, messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description=_("Approve the selected returns (the label follows)"), permissions=["approve_return"])
    def approve_selected(self, request, queryset):
        self._review_each(request, queryset, approve=True)

    @admin.action(description=_("Reject the selected returns (reason required)"), permissions=["reject_return"])
    def reject_selected(self, request, queryset):
        self._review_each(request, queryset, approve=False)


def _visible_order(request, number: str) -> Order | None:
    """The order by number, if the person may see it (customer service: its brands only)."""
    return order_list_visible_to(user=request.user, queryset=Order.objects.filter(number=number)).first()


def _items_text(items) -> str:
    return "、".join(
        f"{i.get('name') or i.get('sku')} ×{i.get('quantity')}" for i in items or [] if isinstance(i, dict)
    )


# The repeat-customer rule moved to the operations rules (admin → Operations rules → Rules):
# one place for every rule operations own. The old after-sales rules row is only history now.


# The order page links to these pages for the return actions (their records must follow the
# order): request → the request form; approve / reject → the open return's review page.


def _request_url(order) -> str:
    return f"{reverse('admin:aftersales_returnrequest_add')}?{urlencode({'order': order.number})}"


def _review_url(order) -> str | None:
    case_id = (
        ReturnRequest.objects.filter(order=order, status__in=OPEN_RETURN_STATUSES).values_list("pk", flat=True).first()
    )
    return reverse("admin:aftersales_returnrequest_review", args=[case_id]) if case_id else None


# Declared on AftersalesConfig (orders.plugins): the order page links here for these actions.
ORDER_ACTIONS_ELSEWHERE = {"request_return": _request_url, "approve_return": _review_url, "reject_return": _review_url}
