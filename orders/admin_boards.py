"""The role boards inside the admin: one proxy model per board, so each is a permission of its
own and a role sees only its boards. Rows open the order's timeline; the bulk actions call the
transition service order by order and report what was done and what was refused."""

from __future__ import annotations

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext
from simple_history.admin import SimpleHistoryAdmin

from .boards import ORDER_BOARDS, BoardColumn, OrderBoard
from .exceptions import OrderError
from .models import CustomerServiceBoard, ExceptionBoard, HubSettings, OperationsBoard, Order, WarehouseBoard
from .permissions import user_display_name
from .selectors import (
    BoardClock,
    hub_settings_get,
    ops_board_count,
    order_list_for_ops_board,
    order_list_visible_to,
    order_search,
    people_in_role,
    warehouse_stage_counts,
)
from .services.hub_settings import hub_settings_save
from .services.orders import order_owner_assign
from .services.transition import order_transition
from .states import (
    TRANSITIONS_BY_ACTION,
    WAREHOUSE_BOARD_STAGES,
    Role,
    WarehouseStage,
)

# A bulk action runs one transaction per order; more than a page at once is a mistake.
BULK_ACTION_LIMIT = 200

# Pages of a board changelist read slice by slice. Page N takes N pages' worth of rows from
# each slice and builds every row up to the page's last: past page 5 that costs about what
# sorting the whole board as Django does costs (on the 1,000,000-order set, page 7 of the
# warehouse board read this way was no faster than the plain sort).
BOARD_SLICED_PAGES = 5
# Below this many rows Django's sort is as cheap as the slices, and a selective filter (one
# brand of 27) leaves each slice walking its index past other brands' rows: on the 1,000,000-
# order set the operations board's 971 rows of one brand took 94 ms sliced, 13 ms sorted.
BOARD_SLICED_MIN_ROWS = 5000


def _clock(request) -> BoardClock:
    """One clock per request: the list, the filters and the badges agree on what is stale."""
    if not hasattr(request, "_orderhub_clock"):
        request._orderhub_clock = BoardClock.read()
    return request._orderhub_clock


def _board_filter(board: OrderBoard, name: str) -> type[admin.SimpleListFilter]:
    """The changelist's sidebar filter made from the board's filter `name` (its FilterSet, which
    the phone page's form shows): same parameter, choices and meaning, so a filter is written
    once. The FilterSet is built per request with the viewer and the request's clock, as the
    phone page builds it, and only the one filter is applied."""

    def filterset(request):
        return board.filterset(None, queryset=Order.objects.none(), request=request, clock=_clock(request))

    def lookups(self, request, model_admin):
        field = filterset(request).filters[name].field
        return [(value, label) for value, label in field.choices if value not in ("", None)]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        declared = filterset(request).filters[name]
        try:
            value = declared.field.clean(self.value())
        except forms.ValidationError:
            return queryset.none()  # a brand this viewer does not see, a made-up status
        return declared.filter(queryset, value)

    declared = board.filterset.base_filters[name]
    return type(
        f"{board.code.title()}{name.title().replace('_', '')}Filter",
        (admin.SimpleListFilter,),
        {"title": declared.label, "parameter_name": name, "lookups": lookups, "queryset": queryset},
    )


def _board_column(column: BoardColumn):
    """A board column as a changelist column: the same cell text, "—" when empty."""

    def cell(order):
        return column.text(order) or "—"

    cell.short_description = column.label  # type: ignore[attr-defined]
    if column.ordering:
        cell.admin_order_field = column.ordering  # type: ignore[attr-defined]
    cell.__name__ = f"column_{column.key}"
    return cell


class BoardActionForm(ActionForm):
    """The admin's action bar, with what the board's actions need: a reason, an owner."""

    note = forms.CharField(label=_("Reason"), required=False, max_length=2000)
    owner = forms.ModelChoiceField(label=_("Owner"), required=False, queryset=get_user_model().objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people_in_role(Role.CUSTOMER_SERVICE)


class BoardAdmin(admin.ModelAdmin):
    """Shared by the boards: read-only rows, badges, the one search box, actions through the
    transition service. What each board lists, filters and offers is its definition in
    orders/boards.py (`board`), which its phone page reads too."""

    board: OrderBoard

    list_display_links = None
    list_per_page = 50
    show_full_result_count = False
    # The brand comes prefetched with the rows (two small queries): joined into the board's
    # query, an unanalysed shop table made PostgreSQL repeat the board scan once per brand.
    list_select_related = ("cs_owner", "warehouse")
    search_fields = ("number",)  # shows the box; order_search decides what matches
    search_help_text = _("Exact order number, channel order id, tracking number, buyer email or phone.")
    actions = None
    change_list_template = "admin/orders/board_change_list.html"

    def get_queryset(self, request):
        return self.board.queryset(clock=_clock(request), user=request.user)

    def get_list_display(self, request):
        return ("order_link", "flags", *(_board_column(column) for column in self.board.column_list()))

    def get_list_filter(self, request):
        return [_board_filter(self.board, name) for name in self.board.filterset.base_filters if name != "q"]

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        if self.board.working_order is None:
            return super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)
        return SlicedBoardPaginator(
            queryset,
            per_page,
            orphans,
            allow_empty_first_page,
            read_rows=partial(self.board.read_rows, clock=_clock(request)),
            working_order=self.board.working_order,
            **self.paginator_options(request),
        )

    def paginator_options(self, request) -> dict:
        return {}

    def get_ordering(self, request):
        # The board's working order; for the warehouse an annotation, so it is given here rather
        # than in `ordering`, which only names fields.
        return self.board.working_order or super().get_ordering(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        return order_search(queryset, term=search_term), False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # A board row is an order: its page is the timeline.
        order = self.get_object(request, object_id)
        if order is None:
            return super().change_view(request, object_id, form_url, extra_context)
        return HttpResponseRedirect(reverse("orders:timeline", args=[order.number]))

    @admin.display(description=_("Order"), ordering="number")
    def order_link(self, order):
        return format_html(
            '<a href="{}" class="orderhub-timeline-link">{}</a>', reverse("orders:timeline", args=[order.number]), order
        )

    @admin.display(description=_("Flags"))
    def flags(self, order):
        badges = []
        if order.priority:
            badges.append(("orderhub-badge orderhub-badge-priority", pgettext("badge", "Priority")))
        if getattr(order, "is_stale", False):
            badges.append(("orderhub-badge orderhub-badge-stale", _("Stale")))
        if getattr(order, "is_conflicting", False):
            badges.append(("orderhub-badge orderhub-badge-conflict", _("Many roles")))
        if order.is_gift:
            badges.append(("orderhub-badge orderhub-badge-gift", _("Gift")))
        return format_html_join(" ", '<span class="{}">{}</span>', badges) or "—"

    def changelist_view(self, request, extra_context=None):
        clock = _clock(request)
        extra_context = {"stale_after_minutes": clock.stale_after_minutes, **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    # -- actions ------------------------------------------------------------------------------

    def _each_order(self, request, queryset, verb: str, run) -> None:
        """Run `run(order)` for every selected order in its own transaction and say what
        happened: how many were done, and each refusal with its reason."""
        orders = list(queryset.order_by("pk")[: BULK_ACTION_LIMIT + 1])
        if len(orders) > BULK_ACTION_LIMIT:
            self.message_user(
                request,
                _("Select at most %(limit)d orders at a time; nothing was done.") % {"limit": BULK_ACTION_LIMIT},
                messages.ERROR,
            )
            return
        done, refused = 0, []
        for order in orders:
            try:
                run(order)
            except OrderError as exc:
                refused.append(f"{order.number}: {exc.message}")
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%(verb)s: %(count)d order.", "%(verb)s: %(count)d orders.", done)
                % {"verb": verb, "count": done},
                messages.SUCCESS,
            )
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    def _transition_action(self, request, queryset, action: str) -> None:
        transition = TRANSITIONS_BY_ACTION[action]
        note = request.POST.get("note", "").strip()
        self._each_order(
            request,
            queryset,
            str(transition.label),
            lambda order: order_transition(order.pk, action, actor=request.user, note=note),
        )


def _transition_permission(action: str):
    def has_permission(self, request):
        return request.user.has_perm(f"orders.{TRANSITIONS_BY_ACTION[action].permission_codename}")

    return has_permission


@admin.register(CustomerServiceBoard)
class CustomerServiceBoardAdmin(BoardAdmin):
    board = ORDER_BOARDS["cs"]
    action_form = BoardActionForm
    actions = board.bulk_actions

    has_approve_permission = _transition_permission("approve")
    has_flag_risk_permission = _transition_permission("flag_risk")

    def has_assign_permission(self, request):
        return request.user.has_perm("orders.change_order")

    @admin.action(description=_("Approve the selected orders"), permissions=["approve"])
    def approve(self, request, queryset):
        self._transition_action(request, queryset, "approve")

    @admin.action(description=_("Hold the selected orders (reason required)"), permissions=["flag_risk"])
    def hold(self, request, queryset):
        self._transition_action(request, queryset, "flag_risk")

    @admin.action(description=_("Assign the selected orders to the chosen owner"), permissions=["assign"])
    def assign_owner(self, request, queryset):
        form = BoardActionForm(request.POST)
        owner = form.fields["owner"].queryset.filter(pk=request.POST.get("owner") or None).first()
        if owner is None:
            self.message_user(request, _("Choose the owner first, then run the action."), messages.ERROR)
            return

        self._each_order(
            request,
            queryset,
            _("Assigned to %(name)s") % {"name": user_display_name(owner)},
            lambda order: order_owner_assign(order_id=order.pk, owner=owner, actor=request.user),
        )


def _ordering_without_repeats(ordering) -> tuple | None:
    """The ordering with each key after its first use dropped (a repeated key cannot reorder
    anything), or None if it holds an expression. The changelist appends the queryset's own
    ordering to the one it chose, so the working order comes out twice."""
    seen, kept = set(), []
    for key in ordering:
        if not isinstance(key, str):
            return None
        if key.lstrip("-") not in seen:
            seen.add(key.lstrip("-"))
            kept.append(key)
    return tuple(kept)


class SlicedBoardPaginator(Paginator):
    """Pages in a board's working order read as the board reads them (`read_rows`, e.g.
    warehouse_board_rows: a page's worth from each slice along the board's index, merged).
    Sorting every order on the board to show fifty took most of the page's time. Any other
    ordering, pages past `sliced_pages`, and boards under BOARD_SLICED_MIN_ROWS rows are
    Django's slice of the sorted queryset.
    `count_rows(queryset)` may count the rows more cheaply than COUNT(*) over the board's
    condition, or return None to leave it to Django."""

    def __init__(
        self,
        object_list,
        per_page,
        orphans=0,
        allow_empty_first_page=True,
        *,
        read_rows,
        working_order: tuple[str, ...],
        count_rows=None,
        sliced_pages: int | None = None,
    ):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.read_rows = read_rows
        self.working_order = working_order
        self.count_rows = count_rows
        self.sliced_pages = sliced_pages

    @cached_property
    def count(self):
        counted = self.count_rows(self.object_list) if self.count_rows else None
        return super().count if counted is None else counted

    def page(self, number):
        number = self.validate_number(number)
        order = _ordering_without_repeats(self.object_list.query.order_by)
        sliced_pages = BOARD_SLICED_PAGES if self.sliced_pages is None else self.sliced_pages
        if number > sliced_pages or order != self.working_order or self.count < BOARD_SLICED_MIN_ROWS:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows, _more = self.read_rows(self.object_list, limit=top)
        return self._get_page(rows[bottom:top], number, self)


@admin.register(WarehouseBoard)
class WarehouseBoardAdmin(BoardAdmin):
    board = ORDER_BOARDS["warehouse"]
    actions = board.bulk_actions
    search_help_text = _("Exact order number or tracking number.")

    has_pack_permission = _transition_permission("pack")
    has_pick_up_permission = _transition_permission("pick_up")

    def changelist_view(self, request, extra_context=None):
        on_board = Order.objects.filter(warehouse_stage__in=WAREHOUSE_BOARD_STAGES)
        counts = warehouse_stage_counts(order_list_visible_to(user=request.user, queryset=on_board))
        # The interceptions (截单) head the list only when there are some, as on the board page.
        counts = [g for g in counts if g["count"] or g["stage"] != WarehouseStage.INTERCEPT]
        for group in counts:
            group["label"] = WarehouseStage(group["stage"]).label
        return super().changelist_view(request, {"stage_counts": counts, **(extra_context or {})})

    @admin.action(description=_("Mark the selected orders packed"), permissions=["pack"])
    def pack(self, request, queryset):
        self._transition_action(request, queryset, "pack")

    @admin.action(description=_("Mark the selected orders picked up by the carrier"), permissions=["pick_up"])
    def pick_up(self, request, queryset):
        self._transition_action(request, queryset, "pick_up")


def _ops_board_count(queryset, *, clock: BoardClock, user) -> int | None:
    """The unfiltered board counted by parts (ops_board_count); filtered or searched, the usual
    way (None)."""
    if queryset.query.where != order_list_for_ops_board(clock=clock, user=user).query.where:
        return None
    return ops_board_count(clock=clock, user=user)


# Finance's to-invoice list is not an order board: it is the finance app's InvoiceRequest admin
# (finance/admin.py), one row per order put on the list by the packed reaction.


@admin.register(OperationsBoard)
class OperationsBoardAdmin(BoardAdmin):
    board = ORDER_BOARDS["ops"]
    actions = board.bulk_actions

    has_release_permission = _transition_permission("release")

    def paginator_options(self, request) -> dict:
        clock = _clock(request)
        # Nine slices: page 5 (251 rows of each) read that way was no faster than the sort.
        return {"count_rows": partial(_ops_board_count, clock=clock, user=request.user), "sliced_pages": 4}

    @admin.action(description=_("Release the selected risk holds"), permissions=["release"])
    def release(self, request, queryset):
        self._transition_action(request, queryset, "release")


@admin.register(ExceptionBoard)
class ExceptionBoardAdmin(BoardAdmin):
    """The exception queues in the admin: the same rows and reason filter as the phone page;
    each exception is cleared from the phone page or the order's timeline, where its detail is."""

    board = ORDER_BOARDS["exceptions"]

    def get_ordering(self, request):
        return ("first_raised", "id")


@admin.register(HubSettings)
class HubSettingsAdmin(SimpleHistoryAdmin):
    """One row; its list is skipped. Every change is in its history (who, when, old → new)."""

    list_display = ("stale_after_minutes", "conflict_role_count", "conflict_window_hours", "updated_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # New thresholds of "changed by many roles" apply to every order at once.
        hub_settings_save(obj, changed=form.changed_data)

    def changelist_view(self, request, extra_context=None):
        settings_row = hub_settings_get()
        return HttpResponseRedirect(reverse("admin:orders_hubsettings_change", args=[settings_row.pk]))
