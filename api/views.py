"""The open API, /api/v1/ (django-ninja): thin views. Each authenticates the client's token,
checks the role's permission to read, and calls one selector or service; every refusal is
an `{"error": {"code", "message"}}` answer with its HTTP status (api/errors.py)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI, Query
from ninja.security import HttpBearer

from orders.exceptions import OrderError

from . import errors
from .models import ApiClient
from .pagination import cursor_decode, cursor_encode
from .representations import alert_out, event_out, exception_out, order_detail, order_summary, return_out
from .schemas import (
    ActionIn,
    ActionName,
    ActionOut,
    AlertPage,
    AlertStatusName,
    ChannelName,
    ClearIn,
    ErrorOut,
    ExceptionOut,
    ExceptionPage,
    MainStatusName,
    Me,
    OrderDetail,
    OrderPage,
    ReasonName,
    ReturnPage,
    ReturnStatusName,
    StageName,
    StateName,
)
from .selectors import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ApiFilterError,
    OrderListFilters,
    alert_list_for_api,
    exception_list_for_api,
    order_detail_for_api,
    order_list_for_api,
    return_list_for_api,
)
from .services.actions import api_exception_clear, api_order_act
from .services.clients import api_client_authenticate, api_client_touch
from .services.rate_limit import api_rate_limit_hit

DESCRIPTION = """
OrderHub's open API for the ERP, the WMS and scripts. Authenticate with the token the tech lead
created for your integration: `Authorization: Bearer ohk_…`. Lists are newest first and
cursor-paginated: pass `next_cursor` back as `?cursor=`. Every refusal is
`{"error": {"code", "message"}}`. Guide: docs/api.md.
"""


class ClientToken(HttpBearer):
    """Bearer token of an API client; counts the call against its rate limit."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiClient | None:
        client = api_client_authenticate(token=token)
        if client is None:
            return None
        retry_after = api_rate_limit_hit(client_key=client.token_prefix, limit=client.rate_limit_per_minute)
        if retry_after:
            raise errors.RateLimited(retry_after=retry_after, limit=client.rate_limit_per_minute)
        api_client_touch(client)
        request.user = client.service_user
        return client


api = NinjaAPI(
    title="OrderHub API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=ClientToken(),
)
errors.install(api)

# The refusals every authenticated operation can give.
COMMON = {401: ErrorOut, 403: ErrorOut, 422: ErrorOut, 429: ErrorOut}


def _client(request) -> ApiClient:
    return request.auth


def _require(request, permission: str, what) -> None:
    if not request.user.has_perm(permission):
        raise errors.Forbidden(what)


def _after(cursor: str | None) -> int | None:
    try:
        return cursor_decode(cursor)
    except ValueError:
        raise errors.BadRequest(
            "invalid_cursor", _("This cursor is not one the API gave: start again without it.")
        ) from None


@api.get("/me", response={200: Me, **COMMON}, tags=["client"], summary="Who this token is")
def me(request):
    client = _client(request)
    return {
        "name": client.name,
        "role": client.role,
        "brands": sorted(client.brands.values_list("code", flat=True)),
        "rate_limit_per_minute": client.rate_limit_per_minute,
    }


@api.get("/orders", response={200: OrderPage, **COMMON}, tags=["orders"], summary="List orders")
def orders_list(
    request,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    q: str = Query("", max_length=100, description="Order no., channel order id, tracking no., email or phone"),
    main_status: MainStatusName | None = None,  # type: ignore[valid-type]
    state: StateName | None = None,  # type: ignore[valid-type]
    channel: ChannelName | None = None,  # type: ignore[valid-type]
    priority: int | None = Query(None, ge=-32768, le=32767),
    brand: str = Query("", max_length=32, description="Brand code"),
    warehouse: str = Query("", max_length=32, description="Warehouse code"),
    warehouse_stage: StageName | None = None,  # type: ignore[valid-type]
    owner: str = Query("", max_length=150, description="“unassigned”, or the owner's username"),
    stale: bool | None = None,
):
    _require(request, "orders.view_order", _("orders"))
    filters = OrderListFilters(
        q=q,
        main_status=main_status.value if main_status else "",
        state=state.value if state else "",
        channel=channel.value if channel else "",
        priority=priority,
        brand=brand,
        warehouse=warehouse,
        warehouse_stage=warehouse_stage.value if warehouse_stage else "",
        owner=owner,
        stale=stale,
    )
    try:
        rows, after = order_list_for_api(client=_client(request), filters=filters, after_id=_after(cursor), limit=limit)
    except ApiFilterError as exc:
        raise errors.BadRequest("invalid_filter", str(exc)) from None
    return {"items": [order_summary(o) for o in rows], "next_cursor": cursor_encode(after)}


@api.get("/orders/{number}", response={200: OrderDetail, 404: ErrorOut, **COMMON}, tags=["orders"], summary="One order")
def orders_detail(request, number: str):
    _require(request, "orders.view_order", _("orders"))
    order = order_detail_for_api(client=_client(request), number=number)
    if order is None:
        raise errors.NotFound(_("There is no order %(number)s.") % {"number": number})
    return order_detail(order, actor=request.user)


@api.post(
    "/orders/{number}/actions/{action}",
    response={200: ActionOut, 404: ErrorOut, 409: ErrorOut, **COMMON},
    tags=["orders"],
    summary="Take an action on an order",
    description="The same state machine as people use: the role's rules, the version check (409 stale_version "
    "names who changed the order and when), and the move's legality (409 illegal_transition).",
)
def orders_act(request, number: str, action: ActionName, payload: ActionIn):  # type: ignore[valid-type]
    try:
        event, order = api_order_act(
            client=_client(request),
            number=number,
            action=action.value,
            expected_version=payload.expected_version,
            note=payload.note,
            carrier=payload.carrier.value if payload.carrier else None,
            tracking_number=payload.tracking_number,
            warehouse=payload.warehouse,
        )
    except OrderError as exc:
        raise errors.from_order_error(exc) from None
    return {"event": event_out(event), "order": order_summary(order)}


@api.get("/exceptions", response={200: ExceptionPage, **COMMON}, tags=["exceptions"], summary="Open exceptions")
def exceptions_list(
    request,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    reason: ReasonName | None = None,  # type: ignore[valid-type]
):
    _require(request, "orders.view_exceptionboard", _("the exception queue"))
    rows, after = exception_list_for_api(
        client=_client(request), reason=reason.value if reason else "", after_id=_after(cursor), limit=limit
    )
    return {"items": [exception_out(e) for e in rows], "next_cursor": cursor_encode(after)}


@api.post(
    "/exceptions/{exception_id}/clear",
    response={200: ExceptionOut, 404: ErrorOut, 409: ErrorOut, **COMMON},
    tags=["exceptions"],
    summary="Clear an open exception",
)
def exceptions_clear(request, exception_id: int, payload: ClearIn):
    _require(request, "orders.view_exceptionboard", _("the exception queue"))
    try:
        exception = api_exception_clear(client=_client(request), exception_id=exception_id, note=payload.note)
    except OrderError as exc:
        raise errors.from_order_error(exc) from None
    return exception_out(exception)


@api.get("/alerts", response={200: AlertPage, **COMMON}, tags=["alerts"], summary="Alerts")
def alerts_list(
    request,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    status: AlertStatusName | None = None,  # type: ignore[valid-type]
):
    _require(request, "alerts.view_alert", _("alerts"))
    rows, after = alert_list_for_api(
        client=_client(request), status=status.value if status else "", after_id=_after(cursor), limit=limit
    )
    return {"items": [alert_out(a) for a in rows], "next_cursor": cursor_encode(after)}


@api.get("/returns", response={200: ReturnPage, **COMMON}, tags=["returns"], summary="Returns")
def returns_list(
    request,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    status: ReturnStatusName | None = None,  # type: ignore[valid-type]
):
    _require(request, "aftersales.view_returnrequest", _("returns"))
    rows, after = return_list_for_api(
        client=_client(request), status=status.value if status else "", after_id=_after(cursor), limit=limit
    )
    return {"items": [return_out(r) for r in rows], "next_cursor": cursor_encode(after)}
