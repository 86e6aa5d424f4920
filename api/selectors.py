"""Reads of the open API. An API client sees what a person of its role sees, narrowed to its
brands when it has some (a customer-service client always has): `api_shop_ids`. Lists are
keyset-paginated newest first by primary key (the index every table has), so a page costs the
same on page 1 and page 10,000, and rows added while a client pages never shift it."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from aftersales.models import ReturnRequest
from alerts.models import Alert
from orders.models import Order, OrderEvent, OrderException, OrderLine, Shipment, Shop, Warehouse
from orders.selectors import BoardClock, open_exceptions_for, order_filter_owner, order_filter_stale, order_search

from .models import ApiClient

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class ApiFilterError(ValueError):
    """A filter value that names nothing (an unknown brand or warehouse): a clear 422."""


def api_shop_ids(client: ApiClient) -> list[int] | None:
    """The shops whose orders the client may see: its brands' shops, or None for every shop
    (a client of a role that sees every brand, with no brands chosen). A customer-service
    client must have brands (api_client_create), so it never sees everything."""
    cache = client.__dict__
    if "_api_shop_ids" in cache:
        return cache["_api_shop_ids"]
    brand_ids = list(client.brands.values_list("pk", flat=True))
    shop_ids = sorted(Shop.objects.filter(brand_id__in=brand_ids).values_list("pk", flat=True)) if brand_ids else None
    cache["_api_shop_ids"] = shop_ids
    return shop_ids


def api_order_q(client: ApiClient, *, prefix: str = "") -> Q:
    shop_ids = api_shop_ids(client)
    return Q() if shop_ids is None else Q(**{f"{prefix}shop_id__in": shop_ids})


@dataclass(frozen=True)
class OrderListFilters:
    """The boards' filters (orders/filters.py), as the API takes them."""

    q: str = ""
    main_status: str = ""
    state: str = ""
    channel: str = ""
    priority: int | None = None
    brand: str = ""
    warehouse: str = ""
    warehouse_stage: str = ""
    owner: str = ""  # "unassigned", or a username
    stale: bool | None = None


def _page(queryset: QuerySet, *, after_id: int | None, limit: int) -> tuple[list, int | None]:
    """One keyset page, newest first: rows with id below `after_id`, and the id to continue
    after (None on the last page)."""
    if after_id is not None:
        queryset = queryset.filter(pk__lt=after_id)
    rows = list(queryset.order_by("-pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].pk if more else None)


def order_list_for_api(
    *, client: ApiClient, filters: OrderListFilters, after_id: int | None = None, limit: int = DEFAULT_PAGE_SIZE
) -> tuple[list[Order], int | None]:
    """The client's orders matching `filters`, newest first, one keyset page; each row's
    shop, brand, warehouse, owner and main order prefetched (a constant number of queries)."""
    queryset: QuerySet[Order] = Order.objects.filter(api_order_q(client))
    if filters.brand:
        shop_ids = set(Shop.objects.filter(brand__code=filters.brand).values_list("pk", flat=True))
        visible = api_shop_ids(client)
        if not shop_ids or (visible is not None and not shop_ids & set(visible)):
            raise ApiFilterError(_("brand: there is no brand “%(code)s” among yours") % {"code": filters.brand})
        queryset = queryset.filter(shop_id__in=sorted(shop_ids))
    if filters.warehouse:
        warehouse_id = Warehouse.objects.filter(code=filters.warehouse).values_list("pk", flat=True).first()
        if warehouse_id is None:
            raise ApiFilterError(_("warehouse: there is no warehouse “%(code)s”") % {"code": filters.warehouse})
        queryset = queryset.filter(warehouse_id=warehouse_id)
    for name in ("main_status", "state", "channel", "warehouse_stage"):
        value = getattr(filters, name)
        if value:
            queryset = queryset.filter(**{name: value})
    if filters.priority is not None:
        queryset = queryset.filter(priority=filters.priority)
    if filters.owner == "unassigned":
        queryset = order_filter_owner(queryset, user=None, owner="unassigned")
    elif filters.owner:
        queryset = queryset.filter(cs_owner__username=filters.owner)
    if filters.stale is not None:
        queryset = order_filter_stale(queryset, clock=BoardClock.read(), stale=filters.stale)
    if filters.q:
        queryset = order_search(queryset, term=filters.q)
    queryset = queryset.prefetch_related("shop__brand", "warehouse", "cs_owner", "main_order")
    return _page(queryset, after_id=after_id, limit=limit)


def order_detail_for_api(*, client: ApiClient, number: str) -> Order | None:
    """The order with this number if the client may see it (another brand's answers as a
    missing one), with its lines, shipments and timeline prefetched."""
    return (
        Order.objects.filter(api_order_q(client), number=(number or "").strip().upper())
        .prefetch_related(
            "shop__brand",
            "warehouse",
            "cs_owner",
            "main_order",
            Prefetch("lines", queryset=OrderLine.objects.order_by("position")),
            Prefetch("shipments", queryset=Shipment.objects.order_by("sequence")),
            Prefetch("events", queryset=OrderEvent.objects.order_by("occurred_at", "id")),
        )
        .first()
    )


def order_id_for_api(*, client: ApiClient, number: str) -> int | None:
    return (
        Order.objects.filter(api_order_q(client), number=(number or "").strip().upper())
        .values_list("pk", flat=True)
        .first()
    )


def exception_list_for_api(
    *, client: ApiClient, reason: str = "", after_id: int | None = None, limit: int = DEFAULT_PAGE_SIZE
) -> tuple[list[OrderException], int | None]:
    """The open exceptions in the queues of the client's role (operations: every queue), on the
    orders it sees, newest first."""
    queryset = open_exceptions_for(client.service_user).filter(api_order_q(client, prefix="order__"))
    if reason:
        queryset = queryset.filter(reason=reason)
    return _page(queryset.select_related("order"), after_id=after_id, limit=limit)


def exception_for_api(*, client: ApiClient, exception_id: int) -> OrderException | None:
    return (
        OrderException.objects.filter(api_order_q(client, prefix="order__"), pk=exception_id)
        .select_related("order")
        .first()
    )


def alert_list_for_api(
    *, client: ApiClient, status: str = "", after_id: int | None = None, limit: int = DEFAULT_PAGE_SIZE
) -> tuple[list[Alert], int | None]:
    """Alerts about an integration, and about the orders the client sees; newest first."""
    about_order = api_order_q(client, prefix="order__")
    queryset = Alert.objects.all() if not about_order else Alert.objects.filter(Q(order__isnull=True) | about_order)
    if status:
        queryset = queryset.filter(status=status)
    return _page(queryset.select_related("order"), after_id=after_id, limit=limit)


def return_list_for_api(
    *, client: ApiClient, status: str = "", after_id: int | None = None, limit: int = DEFAULT_PAGE_SIZE
) -> tuple[list[ReturnRequest], int | None]:
    """Returns of the orders the client sees, newest first."""
    queryset = ReturnRequest.objects.filter(api_order_q(client, prefix="order__"))
    if status:
        queryset = queryset.filter(status=status)
    return _page(queryset.select_related("order"), after_id=after_id, limit=limit)
