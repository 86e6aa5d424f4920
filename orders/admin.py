"""The order admin: a UI over the services. Nothing here writes an order directly: transition
buttons and the details form call the services with the version the page showed."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from simple_history.admin import SimpleHistoryAdmin

from .admin_brands import BrandFilter
from .exceptions import OrderError
from .forms import OrderAddressForm, OrderDetailsForm, OrderMergeForm, OrderSplitForm, TransitionForm
from .models import Attachment, Interception, Order, OrderEvent, OrderException, OrderLine, Shipment
from .permissions import actor_may_take, user_display_name
from .selectors import order_list_for_admin, order_merge_candidates, order_visibility_q
from .services.orders import (
    ADDRESS_EDITABLE_STATES,
    EDITABLE_DETAILS,
    SHIPPING_FIELDS,
    order_address_fix,
    order_update_details,
)
from .services.split_merge import SPLIT_PERMISSION, SPLITTABLE_STATES, order_merge, order_split
from .services.transition import order_transition
from .states import TRANSITIONS_BY_ACTION, Role

# Actions whose records live in another app (a return and its review): that app's service moves
# the order and keeps its records in step, so the order page links to its page instead of
# offering the bare transition. {action: url_for(order) -> str | None}; None offers the plain
# transition after all (an order with no record there, e.g. from before the app existed).
ACTIONS_ELSEWHERE: dict = {}


def order_action_elsewhere_register(action: str, url_for) -> None:
    ACTIONS_ELSEWHERE[action] = url_for


# 合单 moves lines and money as well as the state: its page, never the bare transition.
order_action_elsewhere_register("merge", lambda order: reverse("admin:orders_order_merge", args=[order.pk]))


def local_time(value):
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


class ReadOnlyAdminMixin:
    """The record is read, never written, through the admin: not even by superusers."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderEvent
    verbose_name = _("timeline entry")
    verbose_name_plural = _("Timeline")
    extra = 0
    fields = ("when", "who", "what", "change", "note", "files")
    readonly_fields = fields
    classes = ("orderhub-timeline",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("attachments").order_by("occurred_at", "id")

    @admin.display(description=_("When"))
    def when(self, event):
        return local_time(event.occurred_at)

    @admin.display(description=_("Who"))
    def who(self, event):
        return event.actor_display

    @admin.display(description=_("Action"))
    def what(self, event):
        return event.verb

    @admin.display(description=_("State"))
    def change(self, event):
        if event.from_state == event.to_state:
            return event.get_to_state_display()
        return f"{event.get_from_state_display() or '—'} → {event.get_to_state_display()}"

    @admin.display(description=_("Attachments"))
    def files(self, event):
        return format_html_join(
            ", ",
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            ((a.file.url, a.original_name) for a in event.attachments.all()),
        )


class ShipmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Shipment
    extra = 0
    fields = ("sequence", "carrier", "tracking_number", "reason", "recorded")
    readonly_fields = fields

    @admin.display(description=_("Recorded"))
    def recorded(self, shipment):
        return f"{local_time(shipment.created_at)} · {shipment.event.actor_display}"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("event")


class OrderLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    fk_name = "order"
    extra = 0
    verbose_name_plural = _("What is in the order")
    fields = (
        "position",
        "sku",
        "name",
        "quantity",
        "unit_price",
        "discount",
        "line_total",
        "is_gift",
        "platform_line_id",
        "bought_on",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("origin_order")

    @admin.display(description=_("Bought on order"))
    def bought_on(self, line):
        # Moved here by a split or a merge: the platform order the buyer bought it on.
        return line.origin_order.number if line.origin_order_id else "—"

    @admin.display(description=_("Line total"))
    def line_total(self, line):
        return line.net_amount


class OrderExceptionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderException
    fk_name = "order"
    extra = 0
    verbose_name_plural = _("Exceptions (异常订单)")
    fields = ("reason", "owner_role", "detail", "source", "raised_at", "cleared_at", "cleared_by", "cleared_note")
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(SimpleHistoryAdmin):
    list_display = (
        "number",
        "shop",
        "main_status_label",
        "state",
        "payment_status_label",
        "warehouse_stage_label",
        "priority_badge",
        "owner",
        "amount_display",
        "ordered",
        "updated",
    )
    list_filter = ("main_status", "state", "payment_status", BrandFilter, "channel", "priority", "warehouse", "is_gift")
    search_fields = ("=number", "=external_id", "buyer_email", "=buyer_phone", "=shipments__tracking_number")
    list_select_related = ("cs_owner", "warehouse")  # the shop and brand are prefetched
    list_per_page = 50
    show_full_result_count = False
    date_hierarchy = None
    actions = None
    inlines = (OrderLineInline, OrderExceptionInline, ShipmentInline, OrderEventInline)
    fieldsets = (
        (None, {"fields": ("number", "state", "main_status_label", "payment_status_label", "version")}),
        (
            _("Order"),
            {
                "fields": (
                    "channel",
                    "shop",
                    "external_id",
                    "ordered",
                    "amount_display",
                    "shipping_fee",
                    "tax_amount",
                    "priority",
                    "main_order",
                    "gift",
                    "split_and_merge",
                )
            },
        ),
        (_("Buyer"), {"fields": ("buyer_email", "buyer_phone", "buyer_remark")}),
        (_("Warehouse"), {"fields": ("warehouse", "warehouse_stage_label", "carrier", "weight_grams")}),
        (_("People"), {"fields": ("owner", "last_updated_by", "updated")}),
    )

    # Every field is shown read-only; changes go through the action and details forms.
    def get_readonly_fields(self, request, obj=None):
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    def get_queryset(self, request):
        return order_list_for_admin(user=request.user)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _check_visible(self, request, object_id) -> None:
        # simple-history falls back to the history rows of an order the list does not show:
        # another brand's order must stay unknown there too.
        try:
            visible = self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        except (ValueError, ValidationError):
            visible = False
        if not visible:
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._check_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._check_visible(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    @admin.display(description=_("Main status"), ordering="main_status")
    def main_status_label(self, order):
        return order.get_main_status_display()

    @admin.display(description=_("Payment status"), ordering="payment_status")
    def payment_status_label(self, order):
        return order.get_payment_status_display()

    @admin.display(description=_("Warehouse stage"), ordering="warehouse_stage")
    def warehouse_stage_label(self, order):
        return order.get_warehouse_stage_display() if order.warehouse_stage else "—"

    @admin.display(description=_("Split and merged (拆单/合单)"))
    def split_and_merge(self, order):
        """The orders this one was split off from or merged into, and those split off it or
        merged into it: each a link to its page."""
        parts = []
        if order.split_from_id:
            parts.append((_("split off from"), [order.split_from]))
        if order.merged_into_id:
            parts.append((_("merged into"), [order.merged_into]))
        for label, related in ((_("split off it"), order.split_parts), (_("merged into it"), order.merged_parts)):
            found = list(related.order_by("pk"))
            if found:
                parts.append((label, found))
        if not parts:
            return "—"
        return format_html_join(
            "; ",
            "{} {}",
            (
                (
                    label,
                    format_html_join(
                        ", ",
                        '<a href="{}">{}</a>',
                        ((reverse("admin:orders_order_change", args=[o.pk]), o.number) for o in related),
                    ),
                )
                for label, related in parts
            ),
        )

    @admin.display(description=_("Gift order"), boolean=True)
    def gift(self, order):
        return order.is_gift

    @admin.display(description=_("Customer-service owner"), ordering="cs_owner__username")
    def owner(self, order):
        return user_display_name(order.cs_owner) if order.cs_owner else "—"

    @admin.display(description=_("Last updated by"))
    def last_updated_by(self, order):
        return user_display_name(order.updated_by) if order.updated_by else Role.SYSTEM.label

    @admin.display(description=_("Priority"), ordering="priority")
    def priority_badge(self, order):
        if order.priority:
            return format_html('<span class="orderhub-badge">{}</span>', pgettext("badge", "Priority"))
        return "—"

    @admin.display(description=_("Amount"), ordering="amount")
    def amount_display(self, order):
        return f"{order.amount} {order.currency}"

    @admin.display(description=_("Ordered at"), ordering="ordered_at")
    def ordered(self, order):
        return local_time(order.ordered_at)

    @admin.display(description=_("Last updated at"), ordering="updated_at")
    def updated(self, order):
        return local_time(order.updated_at)

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        order_pages = {
            "details": self.details_view,
            "address": self.address_view,
            "split": self.split_view,
            "merge": self.merge_view,
        }
        return [
            path(
                "<path:object_id>/transition/<str:action>/",
                self.admin_site.admin_view(self.transition_view),
                name=f"{info}_transition",
            ),
            *(
                path(f"<path:object_id>/{page}/", self.admin_site.admin_view(view), name=f"{info}_{page}")
                for page, view in order_pages.items()
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if order is not None:
            extra_context.update(self._action_context(request, order))
        extra_context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().change_view(request, object_id, form_url, extra_context)

    def _action_context(self, request, order):
        initial = {"expected_version": order.version}
        transition_forms, elsewhere_links = [], []
        for t in order.available_transitions_for(request.user):
            url = ACTIONS_ELSEWHERE[t.action](order) if t.action in ACTIONS_ELSEWHERE else None
            if url:
                elsewhere_links.append((t, url))
            else:
                transition_forms.append((t, TransitionForm(transition=t, initial=initial)))
        details_form = address_form = None
        if request.user.has_perm("orders.change_order"):
            details_form = OrderDetailsForm(initial={**initial, **{f: getattr(order, f) for f in EDITABLE_DETAILS}})
            if order.state in ADDRESS_EDITABLE_STATES:
                address_form = OrderAddressForm(initial={**initial, **{f: getattr(order, f) for f in SHIPPING_FIELDS}})
        may_split = (
            request.user.has_perm(SPLIT_PERMISSION)
            and order.state in SPLITTABLE_STATES
            and order.main_order_id is None
            and sum(order.lines.values_list("quantity", flat=True)) > 1
        )
        return {
            "split_url": reverse("admin:orders_order_split", args=[order.pk]) if may_split else "",
            "address_form": address_form,
            # An address exception waits on it: the form opens by itself.
            "open_exception_address": address_form is not None
            and order.exceptions.filter(reason="address_incomplete", cleared_at__isnull=True).exists(),
            "transition_forms": transition_forms,
            "elsewhere_links": elsewhere_links,
            "details_form": details_form,
            "order_version": order.version,
        }

    def _back_to(self, order_pk):
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order_pk]))

    def _order_or_404(self, request, object_id):
        # Another brand's order is as unknown as a missing one.
        order = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_permission(request, order):
            raise PermissionDenied
        return order

    def transition_view(self, request, object_id, action):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        order = self._order_or_404(request, object_id)
        transition = TRANSITIONS_BY_ACTION.get(action)
        if transition is None:
            messages.error(request, _("There is no such action."))
            return self._back_to(order.pk)
        elsewhere = ACTIONS_ELSEWHERE.get(action)
        if elsewhere is not None and elsewhere(order):
            messages.error(
                request,
                _("“%(action)s” is done on its own page, which keeps its records in step: use the link on this page.")
                % {"action": transition.label},
            )
            return self._back_to(order.pk)
        form = TransitionForm(request.POST, request.FILES, transition=transition)
        if not form.is_valid():
            errors = "; ".join(
                f"{form.fields[k].label if k in form.fields else k}: {' '.join(v)}" for k, v in form.errors.items()
            )
            messages.error(
                request, _("%(action)s was not done: %(errors)s") % {"action": transition.label, "errors": errors}
            )
            return self._back_to(order.pk)
        try:
            event = order_transition(order.pk, action, actor=request.user, **form.service_kwargs())
        except OrderError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, event.timeline_text())
        return self._back_to(order.pk)

    def details_view(self, request, object_id):
        return self._details_post(
            request, object_id, OrderDetailsForm, EDITABLE_DETAILS, order_update_details, _("Order details saved.")
        )

    def address_view(self, request, object_id):
        return self._details_post(
            request, object_id, OrderAddressForm, SHIPPING_FIELDS, order_address_fix, _("Address saved.")
        )

    def split_view(self, request, object_id):
        """拆单: choose units of the lines for a new order of the same buyer."""
        order = self._order_or_404(request, object_id)
        if not request.user.has_perm(SPLIT_PERMISSION):
            raise PermissionDenied
        lines = order.lines.order_by("position")
        form = OrderSplitForm(
            request.POST if request.method == "POST" else None, lines=lines, initial={"expected_version": order.version}
        )
        if request.method == "POST" and form.is_valid():
            try:
                part = order_split(
                    order_id=order.pk,
                    actor=request.user,
                    lines=form.picks(),
                    expected_version=form.cleaned_data["expected_version"],
                    note=form.cleaned_data["note"],
                )
            except OrderError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    _("Order %(number)s was split: the units chosen are now order %(part)s.")
                    % {"number": order.number, "part": part.number},
                )
                return self._back_to(order.pk)
        return self._order_page(request, order, "admin/orders/order/split.html", _("Split order %s"), form=form)

    def merge_view(self, request, object_id):
        """合单: this order and the buyer's other open orders to the same address, as one parcel."""
        order = self._order_or_404(request, object_id)
        if not actor_may_take(request.user, TRANSITIONS_BY_ACTION["merge"]):
            raise PermissionDenied
        candidates = order_merge_candidates(order=order, user=request.user)
        form = OrderMergeForm(
            request.POST if request.method == "POST" else None,
            candidates=candidates,
            initial={"expected_version": order.version},
        )
        if request.method == "POST" and form.is_valid():
            try:
                kept = order_merge(
                    order_ids=[order.pk, *form.cleaned_data["orders"]],
                    actor=request.user,
                    expected_versions={order.pk: form.cleaned_data["expected_version"], **form.versions()},
                    note=form.cleaned_data["note"],
                )
            except OrderError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    _("Merged into order %(number)s: one parcel for the buyer.") % {"number": kept.number},
                )
                return self._back_to(kept.pk)
        return self._order_page(
            request, order, "admin/orders/order/merge.html", _("Merge order %s"), form=form, candidates=candidates
        )

    def _order_page(self, request, order, template, title, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "order": order,
                "title": title % order.number,
                **context,
            },
        )

    def _details_post(self, request, object_id, form_class, fields, service, saved_message):
        """A details form posted from the order page: read it, call its service with the
        version the page showed, say what happened, back to the page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        order = self._order_or_404(request, object_id)
        form = form_class(request.POST)
        if not form.is_valid():
            messages.error(request, "; ".join(" ".join(v) for v in form.errors.values()))
            return self._back_to(order.pk)
        changes = {f: form.cleaned_data[f] for f in fields}
        try:
            service(
                order_id=order.pk, actor=request.user, expected_version=form.cleaned_data["expected_version"], **changes
            )
        except OrderError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, saved_message)
        return self._back_to(order.pk)


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("occurred", "order", "actor_display", "verb", "from_state", "to_state", "note")
    list_filter = ("action", "actor_role", "to_state")
    search_fields = ("=order__number", "actor_name", "note")
    list_select_related = ("order",)
    show_full_result_count = False
    actions = None

    def get_queryset(self, request):
        return super().get_queryset(request).filter(order_visibility_q(request.user, prefix="order__"))

    @admin.display(description=_("When"), ordering="occurred_at")
    def occurred(self, event):
        return local_time(event.occurred_at)


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("tracking_number", "carrier", "order", "sequence", "created_by", "created_at")
    list_filter = ("carrier",)
    search_fields = ("=tracking_number", "=order__number")
    list_select_related = ("order", "created_by")
    actions = None

    def get_queryset(self, request):
        return super().get_queryset(request).filter(order_visibility_q(request.user, prefix="order__"))


@admin.register(Interception)
class InterceptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """截单: the requests to stop a parcel and their results (taken on the boards and the order
    page; the manual ones are customer service's calls to a carrier)."""

    list_display = ("order", "route", "status", "from_state", "reason", "requested", "resolved", "answer")
    list_filter = ("status", "route", "carrier")
    search_fields = ("=order__number", "=tracking_number", "reason")
    list_select_related = ("order",)
    show_full_result_count = False
    actions = None

    def get_queryset(self, request):
        return super().get_queryset(request).filter(order_visibility_q(request.user, prefix="order__"))

    @admin.display(description=_("Requested"), ordering="requested_at")
    def requested(self, interception):
        return local_time(interception.requested_at)

    @admin.display(description=_("Result at"), ordering="resolved_at")
    def resolved(self, interception):
        return local_time(interception.resolved_at) if interception.resolved_at else "—"


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("original_name", "content_type", "size", "event")
    list_select_related = ("event",)
    actions = None

    def get_queryset(self, request):
        return super().get_queryset(request).filter(order_visibility_q(request.user, prefix="event__order__"))


# The role boards (proxy models of Order), brands and shops, warehouses and the outbox register
# themselves.
from . import admin_boards, admin_brands, admin_warehouses  # noqa: E402, F401
from .outbox import admin as outbox_admin  # noqa: E402, F401
