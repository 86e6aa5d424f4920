"""What an API client does to orders: the hub's own services, called as the client's service
user, so the role × action rules, the version check and the timeline are the people's.

    api_order_act(client=..., number=..., action=..., expected_version=..., ...) -> (event, order)
    api_exception_clear(client=..., exception_id=..., note=...) -> OrderException
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from orders.exceptions import InvalidActionData, OrderError, OrderNotFound
from orders.models import Order, OrderEvent, OrderException, Warehouse
from orders.services.order_exceptions import order_exception_clear
from orders.services.transition import order_transition

from ..models import ApiClient
from ..selectors import exception_for_api, order_id_for_api


class OrderExceptionNotFound(OrderError):
    def __init__(self, exception_id):
        super().__init__(_("Exception #%(id)s does not exist.") % {"id": exception_id})


def api_order_act(
    *,
    client: ApiClient,
    number: str,
    action: str,
    expected_version: int,
    note: str = "",
    carrier: str | None = None,
    tracking_number: str | None = None,
    warehouse: str | None = None,
) -> tuple[OrderEvent, Order]:
    """Take `action` on the client's order `number` through order_transition. An order the
    client may not see is refused as one that does not exist."""
    order_id = order_id_for_api(client=client, number=number)
    if order_id is None:
        raise OrderNotFound(number)
    data: dict = {}
    if carrier is not None:
        data["carrier"] = carrier
    if tracking_number is not None:
        data["tracking_number"] = tracking_number
    if warehouse is not None:
        warehouse_id = Warehouse.objects.filter(code=warehouse).values_list("pk", flat=True).first()
        if warehouse_id is None:
            raise InvalidActionData(_("There is no warehouse “%(code)s”.") % {"code": warehouse})
        data["warehouse"] = warehouse_id
    event = order_transition(
        order_id, action, actor=client.service_user, expected_version=expected_version, note=note, **data
    )
    order = Order.objects.prefetch_related("shop__brand", "warehouse", "cs_owner", "main_order").get(pk=order_id)
    return event, order


def api_exception_clear(*, client: ApiClient, exception_id: int, note: str = "") -> OrderException:
    """Clear an open exception of an order the client sees (the owning role's, or operations')."""
    if exception_for_api(client=client, exception_id=exception_id) is None:
        raise OrderExceptionNotFound(exception_id)
    return order_exception_clear(exception_id=exception_id, actor=client.service_user, note=note)
