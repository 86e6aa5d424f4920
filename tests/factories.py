"""factory-boy factories for the models tests build most.

Plain reference rows (users, brands, shops, warehouses, carrier accounts, return cases) are
made by the ORM, like any other row. Orders and their timeline are not: an order's state only
changes through `orders.services.transition.order_transition`, so

* `OrderFactory(state="packed")` creates the order through `order_create` (state `submitted`,
  its "created" event) and walks `orders.demo.PATHS[state]` through the transition service, each
  step by its role's demo user, exactly as the `make_order` fixture always has;
* `OrderEventFactory(order=…, action="pay")` is the event one more transition writes;
* `ShipmentFactory(order=…)` ships a packed order and returns the shipment the service wrote.

None of them can be `build()`-ed: an unsaved order, event or shipment would be one the services
never made.
"""

from __future__ import annotations

import datetime as dt
import random
from contextlib import nullcontext
from unittest import mock

import factory
from django.contrib.auth.models import Group
from factory.django import DjangoModelFactory, Password

from aftersales.models import ReturnRequest, ReturnSource, ReturnStatus
from demo.seed import AFTER_SALES_STEPS
from integrations.models import CarrierAccount
from orders.demo import DEMO_WAREHOUSES, demo_address, demo_users_ensure, demo_warehouses_ensure, order_move_to
from orders.models import Brand, Order, OrderEvent, Shipment, Shop, Warehouse
from orders.services.orders import order_create
from orders.services.split_merge import order_merge
from orders.services.transition import order_transition
from orders.states import Carrier, Channel, Role, State

TEST_PASSWORD = "x"


def _at(moment: dt.datetime | None):
    """The services' clock (timezone.now) reads `moment` meanwhile; no moment, the real clock."""
    if moment is None:
        return nullcontext()
    return mock.patch("django.utils.timezone.now", return_value=moment)


class _ServiceMade:
    """For factories of rows only the services write: build() would give a row they never made."""

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise TypeError(f"{model_class.__name__} rows are made by the services: use {cls.__name__}() (create)")


class UserFactory(DjangoModelFactory):
    """A staff user; `role=Role.X` puts them in that role's group (made by setup_roles, i.e. the
    `roles` fixture), `brands=[…]` on those brands' customer service."""

    class Meta:
        model = "auth.User"
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "测试"
    last_name = factory.Sequence(lambda n: f"用户{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    is_staff = True
    password = Password(TEST_PASSWORD)

    @factory.post_generation
    def role(user, create, extracted, **kwargs):
        if extracted is not None:
            user.groups.set([Group.objects.get(name=Role(extracted).value)])

    @factory.post_generation
    def brands(user, create, extracted, **kwargs):
        for brand in extracted or ():
            brand.staff.add(user)


class BrandFactory(DjangoModelFactory):
    class Meta:
        model = Brand
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"brand-{n}")
    name = factory.LazyAttribute(lambda brand: brand.code.replace("-", " ").title())

    @factory.post_generation
    def staff(brand, create, extracted, **kwargs):
        if extracted:
            brand.staff.add(*extracted)


class ShopFactory(DjangoModelFactory):
    """A brand's shop on one channel (Shopify unless told)."""

    class Meta:
        model = Shop

    brand = factory.SubFactory(BrandFactory)
    channel = Channel.SHOPIFY
    code = factory.LazyAttribute(lambda shop: f"{shop.brand.code}-{shop.channel}")
    name = factory.LazyAttribute(lambda shop: f"{shop.brand.name} {Channel(shop.channel).label}")


class WarehouseFactory(DjangoModelFactory):
    """Got by code when it exists (as `demo_warehouses_ensure` does), made otherwise."""

    class Meta:
        model = Warehouse
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"wh-{n}")
    name = factory.LazyAttribute(lambda warehouse: f"仓库 {warehouse.code}")


def demo_warehouses() -> list[Warehouse]:
    """The demo's three warehouses, through WarehouseFactory (the same rows as
    orders.demo.demo_warehouses_ensure)."""
    fields = ("code", "name", "contact_name", "contact_phone", "province", "city", "district", "address")
    return [WarehouseFactory(**dict(zip(fields, row, strict=True))) for row in DEMO_WAREHOUSES]


class CarrierAccountFactory(DjangoModelFactory):
    """A carrier account; `warehouses=[…]` are the warehouses it serves."""

    class Meta:
        model = CarrierAccount
        skip_postgeneration_save = True

    name = factory.LazyAttribute(lambda account: Carrier(account.carrier).label)
    carrier = Carrier.SF
    endpoint = "http://127.0.0.1:9/carrier"
    app_key = "key"
    app_secret = "secret"

    @factory.post_generation
    def warehouses(account, create, extracted, **kwargs):
        if extracted:
            account.warehouses.set(extracted)


class OrderFactory(_ServiceMade, DjangoModelFactory):
    """OrderFactory(state="packed", amount="88.00", …) -> an order created by `order_create` and
    brought to `state` by the transition service along orders.demo.PATHS, one demo user per
    step (`users`: username -> user, as the `users` fixture gives them). `rng` picks the
    shipping address, the warehouse, carrier and tracking number; share one between orders for
    a reproducible series. Any other keyword is a field for `order_create` (and overrides the
    picked address)."""

    class Meta:
        model = Order

    # What _create needs besides the fields (it takes them out before order_create).
    state = State.SUBMITTED
    users = factory.LazyFunction(demo_users_ensure)
    warehouses = factory.LazyFunction(demo_warehouses_ensure)
    rng = factory.LazyFunction(lambda: random.Random(7))
    after_sales = False
    # Picked before the order is made, even when a field overrides part of it, so a shared rng
    # advances the same way for every order.
    address = factory.LazyAttribute(lambda o: demo_address(o.rng))

    channel = Channel.SHOPIFY
    amount = "199.00"
    cs_owner = factory.LazyAttribute(lambda o: o.users["cs1"])
    buyer_email = "buyer@example.com"

    @classmethod
    def _create(cls, model_class, *, state, users, warehouses, rng, after_sales, address, **fields):
        if state == State.MERGED:
            # Made by the merge service, not a path: a first order of the same buyer takes it in.
            twin = {**address, **fields, "external_id": ""}
            kept = order_move_to(
                order_create(actor=None, **twin), State.PAID, users=users, warehouses=warehouses, rng=rng
            )
            order = order_move_to(
                order_create(actor=None, **{**address, **fields}),
                State.PAID,
                users=users,
                warehouses=warehouses,
                rng=rng,
            )
            order_merge(order_ids=[kept.pk, order.pk], actor=users["cs1"])
            return Order.objects.get(pk=order.pk)
        order = order_create(actor=None, **{**address, **fields})
        steps = AFTER_SALES_STEPS if after_sales else None  # returns and refunds as the demo makes them
        return order_move_to(order, state, users=users, warehouses=warehouses, rng=rng, steps=steps)


class OrderEventFactory(_ServiceMade, DjangoModelFactory):
    """OrderEventFactory(order=…, action="pay", actor=…, at=…, **data) -> the event that
    transition writes (`at`: the services' clock reads it meanwhile). Without an order, a new
    submitted one is paid by the system."""

    class Meta:
        model = OrderEvent

    order = factory.SubFactory(OrderFactory)
    action = "pay"
    actor = None
    note = ""
    at = None

    @classmethod
    def _create(cls, model_class, *, order, action, actor, note, at, **data):
        with _at(at):
            return order_transition(order.pk, action, actor=actor, note=note, **data)


class ShipmentFactory(_ServiceMade, DjangoModelFactory):
    """ShipmentFactory(order=<packed order>, carrier=…, tracking_number=…, actor=…) -> the
    shipment the "ship" transition wrote (by the demo warehouse user unless told)."""

    class Meta:
        model = Shipment

    order = factory.SubFactory(OrderFactory, state=State.PACKED)
    carrier = Carrier.SF
    tracking_number = factory.Sequence(lambda n: f"SF{n:012d}")
    actor = factory.LazyFunction(lambda: demo_users_ensure()["wh1"])
    at = None

    @classmethod
    def _create(cls, model_class, *, order, actor, at, **data):
        with _at(at):
            event = order_transition(order.pk, "ship", actor=actor, **data)
        return Shipment.objects.get(event=event)


class ReturnRequestFactory(DjangoModelFactory):
    """A return case written directly (not through the return service), approved unless told,
    on an order in return_approved."""

    class Meta:
        model = ReturnRequest

    order = factory.SubFactory(OrderFactory, state=State.RETURN_APPROVED)
    status = ReturnStatus.APPROVED
    reason = "商品破损"
    source = ReturnSource.HUB


def reaction_rule(
    *,
    trigger: str,
    reaction: str = "notify",
    name: str = "",
    params: dict | None = None,
    cs_owner: bool = False,
    role: str = "",
    users=(),
    robots=(),
    email: bool = False,
    enabled: bool = True,
):
    """A rule with no condition and one outbox action (what the built-in reactions are):
    `reaction="notify"` tells people and robots, any other code runs that reaction."""
    from rules.models import Rule, RuleAction

    rule = Rule.objects.create(
        name=name or f"{trigger} → {reaction} #{Rule.objects.count() + 1}", trigger=trigger, enabled=enabled, position=5
    )
    if reaction == "notify":
        action = RuleAction.objects.create(rule=rule, kind="notify", notify_cs_owner=cs_owner, role=role, email=email)
        action.users.set(users)
        action.robots.set(robots)
    else:
        RuleAction.objects.create(rule=rule, kind="reaction", reaction=reaction, params=params or {})
    return rule


# A complete Chinese address: an order with it raises no address exception.
CLEAN_ADDRESS = {
    "recipient_name": "王伟",
    "recipient_phone": "13800138000",
    "ship_province": "浙江省",
    "ship_city": "杭州市",
    "ship_district": "余杭区",
    "ship_address": "文一西路 1 号",
}


def channel_order(external_id, *, paid=True, lines=(), channel="shopify", amount="100.00", **fields):
    """An order as a channel brings it in (order_intake, as the system), with a clean address
    unless `fields` say otherwise; the lines need not add up (as a webhook's)."""
    from orders.services.intake import order_intake

    return order_intake(
        channel=channel,
        external_id=external_id,
        fields={"amount": amount, "currency": "CNY", **CLEAN_ADDRESS, **fields},
        paid=paid,
        cancelled=False,
        source_note="",
        lines=list(lines),
        lines_must_add_up=False,
    ).order
