"""The board pages people work from on a phone or a desktop: customer service, warehouse,
operations. Thin: selectors read, the transition service writes, these only glue them to
templates.

Live updates: the rows sit in a container that htmx polls every 2 s with the page's change
token. While nothing changed, the answer is an empty 204 after one index-only query; when
something did, it is the fresh rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from .boards import BOARDS_BY_CODE, ORDER_BOARDS, OrderBoard, board_panels_render
from .exceptions import OrderAlreadyOwned, OrderError
from .forms import BoardTransitionForm
from .models import Order
from .selectors import (
    BoardClock,
    board_change_token,
    exception_reason_counts,
    open_exceptions_for,
    order_list_visible_to,
    warehouse_stage_counts,
)
from .services.order_exceptions import exception_may_clear, order_exception_clear
from .services.orders import order_take
from .services.transition import order_transition
from .states import EXCEPTION_CLEARING, TRANSITIONS_BY_ACTION, Carrier, Transition, WarehouseStage

TAKE_OWNERSHIP = "take"


def _page_or_403(request, code: str) -> OrderBoard:
    page, board = ORDER_BOARDS.get(code), BOARDS_BY_CODE.get(code)
    if page is None or board is None:
        raise Http404
    if not request.user.has_perm(board.permission):
        raise PermissionDenied
    return page


# Stand-ins for the row's values in the URLs BoardUrls reverses once per page.
_NUMBER, _ACTION, _PK = "0NUMBER0", "0ACTION0", "0PK0"


class BoardUrls:
    """Where the rows of one board page link and post. Reversing per row meant about 100
    reverse() calls on a page of 50 rows; instead each URL is reversed once with stand-in
    arguments, which are replaced per row. That is what reverse() returns because each argument
    fills one whole path segment (orders/urls.py: <str:number>, <str:action>; the admin's
    <path:object_id>) and is quoted as reverse() quotes it."""

    def __init__(self) -> None:
        self._timeline = reverse("orders:timeline", args=[_NUMBER])
        self._transition = reverse("orders:board_transition", args=[_NUMBER, _ACTION])
        self._change = reverse("admin:orders_order_change", args=[_PK])

    def for_row(self, order: Order) -> dict:
        number = _quoted(order.number)
        return {
            "timeline": self._timeline.replace(_NUMBER, number),
            "take": self.transition(order, TAKE_OWNERSHIP),
            "change": self._change.replace(_PK, str(order.pk)),
        }

    def transition(self, order: Order, action: str) -> str:
        # Action names are identifiers: nothing to quote.
        return self._transition.replace(_NUMBER, _quoted(order.number)).replace(_ACTION, action)


def _quoted(segment: str) -> str:
    # reverse()'s quoting, less the "/" a segment cannot hold (reverse() refuses such a number;
    # numbers are OH<date>-<n>).
    return quote(segment, safe=RFC3986_SUBDELIMS + "~:@")


@dataclass(frozen=True)
class RowAction:
    """A step a board row offers, and where its form posts."""

    transition: Transition
    url: str


def _actions_for(board: OrderBoard, user, order: Order, urls: BoardUrls) -> dict:
    """What this board offers the user on this row: the next step, and holds behind a reason."""
    main = board.next_action.get(order.state)
    allowed = {t.action for t in order.available_transitions_for(user)}

    def action(name: str) -> RowAction:
        return RowAction(TRANSITIONS_BY_ACTION[name], urls.transition(order, name))

    return {
        "next": action(main) if main in allowed else None,
        "secondary": [action(a) for a in board.secondary.get(order.state, ()) if a in allowed],
    }


def _rows_context(request, page: OrderBoard) -> dict:
    clock = BoardClock.read()
    token = board_change_token(now=clock.now, user=request.user)
    filterset = page.filterset(
        request.GET or None, queryset=page.queryset(clock=clock, user=request.user), request=request, clock=clock
    )
    if filterset.is_bound and not filterset.is_valid():
        queryset = Order.objects.none()
    else:
        queryset = filterset.qs
    rows, more = page.read_rows(queryset, clock=clock)
    urls = BoardUrls()
    for order in rows:
        order.board_urls = urls.for_row(order)
        order.board_actions = _actions_for(page, request.user, order, urls)
        order.board_cells = page.cells(order)
    query = request.GET.copy()
    query.pop("since", None)
    context = {
        "page": page,
        "rows": rows,
        "more": more,
        "filter": filterset,
        "token": token,
        "query": query.urlencode(),
        "clock": clock,
        "carriers": Carrier.choices,
        "carrier_default": request.session.get("board_carrier", Carrier.SF),
        "may_take": request.user.has_perm("orders.change_order"),
        "next_url": request.get_full_path() if not request.htmx else _board_url(page, query.urlencode()),
    }
    if page.code == "warehouse":
        counted = queryset if "warehouse_stage" not in request.GET else _without_stage(filterset)
        context["groups"] = _stage_groups(rows, warehouse_stage_counts(counted))
    if page.code == "exceptions":
        counted = queryset if "reason" not in request.GET else _without(filterset, "reason")
        context["reasons"] = exception_reason_counts(counted, user=request.user)
        context["reason_picked"] = request.GET.get("reason", "")
        for order in rows:
            for exception in order.open_exceptions:
                exception.may_clear = exception_may_clear(request.user, exception)
                exception.clearing_label = EXCEPTION_CLEARING[exception.reason]
    return context


def _board_url(page: OrderBoard, query: str) -> str:
    url = reverse(f"orders:board_{page.code}")
    return f"{url}?{query}" if query else url


def _without_stage(filterset) -> object:
    """The group counts stay visible when one stage is picked: count the other filters only."""
    return _without(filterset, "warehouse_stage")


def _without(filterset, name: str) -> object:
    """The rows the other filters leave (a group's counts stay when one group is picked)."""
    data = filterset.data.copy()
    data.pop(name, None)
    other = type(filterset)(data, queryset=filterset.queryset, request=filterset.request, clock=filterset.clock)
    return other.qs if other.is_valid() else filterset.queryset


def _stage_groups(rows, counts: list[dict]) -> list[dict]:
    """The warehouse rows under their stage headings, every working stage shown even when
    empty; the interceptions on top only when there are some (most days there are none)."""
    by_stage = {c["stage"]: {**c, "label": WarehouseStage(c["stage"]).label, "rows": []} for c in counts}
    for order in rows:
        by_stage[order.warehouse_stage]["rows"].append(order)
    return [g for g in by_stage.values() if g["count"] or g["stage"] != WarehouseStage.INTERCEPT]


def _board_page(request, code: str):
    page = _page_or_403(request, code)
    context = _rows_context(request, page)
    context["title"] = page.title
    # What other apps show on this board (the alerts app: the open alerts on the operations board).
    context["panels"] = board_panels_render(board=code, user=request.user)
    return render(request, "boards/board.html", context)


@never_cache
@require_GET
@login_required
def cs_board(request):
    return _board_page(request, "cs")


@never_cache
@require_GET
@login_required
def warehouse_board(request):
    return _board_page(request, "warehouse")


@never_cache
@require_GET
@login_required
def ops_board(request):
    return _board_page(request, "ops")


@never_cache
@require_GET
@login_required
def exception_board(request):
    return _board_page(request, "exceptions")


@require_POST
@login_required
def exception_clear(request, pk: int):
    """The owner clears one exception from the queue, with a note; a refusal comes back as the
    message at the top of the board, and nothing changed."""
    _page_or_403(request, "exceptions")
    exception = get_object_or_404(open_exceptions_for(None).select_related("order"), pk=pk)
    if not order_list_visible_to(user=request.user, queryset=Order.objects.filter(pk=exception.order_id)).exists():
        raise Http404
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("orders:board_exceptions")
    try:
        cleared = order_exception_clear(
            exception_id=exception.pk, actor=request.user, note=request.POST.get("note", "")[:500]
        )
        messages.success(
            request,
            f"{exception.order.number} · {EXCEPTION_CLEARING[cleared.reason]}",
        )
    except OrderError as exc:
        messages.error(request, f"{exception.order.number}: {exc.message}")
    return HttpResponseRedirect(back)


@never_cache
@require_GET
@login_required
def board_rows_fragment(request, board: str):
    """The polled part of a board: 204 (nothing to do) while the change token is the one the
    page already shows."""
    page = _page_or_403(request, board)
    since = request.GET.get("since")
    if since and since == board_change_token(user=request.user):
        return HttpResponse(status=204)
    return render(request, "boards/_rows.html", _rows_context(request, page))


@require_POST
@login_required
def board_transition(request, number: str, action: str):
    """One tap on a board: the transition service with the version the row showed. Refusals
    (someone else moved it first, a tracking number already used) come back as the message
    at the top of the board, and nothing changed."""
    # Another brand's order is as unknown here as an order that does not exist.
    order = get_object_or_404(
        order_list_visible_to(user=request.user, queryset=Order.objects.only("pk", "number")), number=number.upper()
    )
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("admin:index")
    form = BoardTransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("%(number)s: %(errors)s") % {"number": order.number, "errors": form.error_text()})
        return HttpResponseRedirect(back)
    data = form.cleaned_data
    try:
        if action == TAKE_OWNERSHIP:
            # Taking is for unassigned orders (order_take); reassigning someone's order is the
            # admin's "assign owner".
            order_take(order_id=order.pk, actor=request.user, expected_version=data["expected_version"])
            messages.success(request, _("%(number)s is yours now.") % {"number": order.number})
        else:
            transition = TRANSITIONS_BY_ACTION.get(action)
            extra = {name: data[name] for name in (transition.requires if transition else ()) if data.get(name)}
            event = order_transition(
                order.pk,
                action,
                actor=request.user,
                expected_version=data["expected_version"],
                note=data["note"],
                **extra,
            )
            if data.get("carrier"):
                request.session["board_carrier"] = data["carrier"]
            messages.success(request, f"{order.number} · {event.timeline_text()}")
    except OrderAlreadyOwned as exc:
        messages.error(request, exc.message)  # it names the order
    except OrderError as exc:
        messages.error(request, f"{order.number}: {exc.message}")
    return HttpResponseRedirect(back)
