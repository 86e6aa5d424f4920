"""The factories make what the services make: orders only through order_create and the
transition service, in the state asked for, with the timeline to match."""

from __future__ import annotations

import pytest

from orders.demo import PATHS
from orders.models import Order
from orders.states import Role, State
from tests.factories import (
    BrandFactory,
    OrderEventFactory,
    OrderFactory,
    ReturnRequestFactory,
    ShipmentFactory,
    ShopFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("state", [State.SUBMITTED, State.RISK_HOLD, State.PACKED, State.DELIVERED])
def test_an_order_walks_the_demo_path_to_its_state(users, warehouses, state):
    order = OrderFactory(state=state, users=users, warehouses=warehouses, amount="88.00")
    assert order.state == state
    assert str(order.amount) == "88.00"
    assert order.cs_owner == users["cs1"]
    # The transitions of its path (a risk hold also raises operations' exception on the way).
    actions = list(
        order.events.exclude(action__startswith="exception_").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["created", *(action for action, _who in PATHS[state])]


def test_events_and_shipments_come_from_transitions(users, warehouses):
    order = OrderFactory(state=State.PACKED, users=users, warehouses=warehouses)
    shipment = ShipmentFactory(order=order, actor=users["wh1"], tracking_number="SF1234567890")
    assert shipment.event.action == "ship" and shipment.tracking_number == "SF1234567890"
    event = OrderEventFactory(order=order, action="pick_up")
    assert event.action == "pick_up" and event.order_version == order.version + 2
    assert Order.objects.get(pk=order.pk).state == State.PICKED_UP


def test_service_made_rows_cannot_be_built():
    with pytest.raises(TypeError, match="made by the services"):
        OrderFactory.build()


def test_users_brands_shops(roles):
    brand = BrandFactory(code="tea")
    cs = UserFactory(role=Role.CUSTOMER_SERVICE, brands=[brand])
    shop = ShopFactory(brand=brand)
    assert shop.code == "tea-shopify" and shop.channel == "shopify"
    assert list(cs.groups.values_list("name", flat=True)) == [Role.CUSTOMER_SERVICE.value]
    assert list(brand.staff.all()) == [cs]
    assert cs.check_password("x") and cs.is_staff


def test_a_return_case_on_an_order_in_return_approved(users, warehouses):
    case = ReturnRequestFactory(order=OrderFactory(state=State.RETURN_APPROVED, users=users, warehouses=warehouses))
    assert case.status == "approved" and case.order.state == State.RETURN_APPROVED
