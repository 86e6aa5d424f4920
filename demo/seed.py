"""The demo hub of `seed_demo`: orders of the demo brands' shops in every state, each taken
there as people would take it. The order's own moves are the transition service's (the paths
and demo users in orders/demo.py, which the tests share); returns and refunds go through the
after-sales services, with the demo answering as the payment gateway, which is why this lives
above every app instead of in orders."""

from __future__ import annotations

import random
from decimal import Decimal

from aftersales.models import ReturnRequest
from aftersales.services.refunds import refund_mark_paid, refund_request
from aftersales.services.returns import return_request_create, return_review
from integrations.payments.base import RefundResult
from orders.demo import DEMO_BRAND_STAFF, NOTES, demo_address, order_move_to
from orders.models import SHIPPING_FIELDS, Order, Shop
from orders.services.orders import order_create
from orders.services.split_merge import order_merge
from orders.states import Channel, State


def _demo_request_return(order: Order, *, actor, users: dict) -> None:
    # The whole order comes back (the demo refunds all of it): every unit of every line, or an
    # item as text on an order without lines.
    lines = [{"line": line.pk, "quantity": line.quantity} for line in order.lines.order_by("position")]
    return_request_create(
        order_id=order.pk,
        actor=actor,
        reason=NOTES["request_return"],
        **({"lines": lines} if lines else {"items": [{"sku": "CUP-01", "name": "保温杯", "quantity": 1}]}),
    )


def _demo_approve_return(order: Order, *, actor, users: dict) -> None:
    case = ReturnRequest.objects.filter(order=order).latest("id")
    if case.status == "requested":  # a repeat customer's return is approved by the rule already
        return_review(return_id=case.pk, actor=actor, approve=True)


def _demo_refund(order: Order, *, actor, users: dict) -> None:
    case = ReturnRequest.objects.filter(order=order).latest("id")
    refund = refund_request(
        order_id=order.pk, actor=users["fin1"], amount=order.amount, reason=NOTES["request_return"], return_id=case.pk
    )
    # The demo has no payment gateway: it answers as one would.
    result = RefundResult(gateway_reference=f"DEMO{refund.pk:08d}", money_moved=True)
    refund_mark_paid(refund_id=refund.pk, result=result, gateway="demo")


# The moves of orders.demo.PATHS that people make through after-sales (a return record, its
# review, a refund) rather than as a bare transition.
AFTER_SALES_STEPS = {
    "request_return": _demo_request_return,
    "approve_return": _demo_approve_return,
    "refund": _demo_refund,
}


# What the demo shops sell: (SKU, name, price of one).
DEMO_CATALOGUE = (
    ("TEA-LJ-250", "西湖龙井 250g", Decimal("88.00")),
    ("TEA-PE-357", "普洱茶饼 357g", Decimal("129.00")),
    ("CUP-GL-300", "双层玻璃杯 300ml", Decimal("39.90")),
    ("OUT-TENT-2", "双人帐篷", Decimal("399.00")),
    ("OUT-BAG-40", "登山包 40L", Decimal("268.00")),
    ("HOME-LAMP", "木质台灯", Decimal("199.00")),
    ("HOME-TRAY", "胡桃木托盘", Decimal("59.00")),
)


def demo_lines(amount: Decimal, rng: random.Random) -> list[dict]:
    """One to three lines that add up to `amount`: the last lines at catalogue prices, the
    first one taking the rest (as one unit of a bundle); a gift order's one line is free."""
    if amount == 0:
        sku, name, _price = rng.choice(DEMO_CATALOGUE)
        return [{"sku": sku, "name": f"{name}（赠品）", "quantity": 1, "unit_price": "0"}]
    picks = rng.sample(DEMO_CATALOGUE, rng.randint(1, 3))
    lines, rest = [], amount
    for sku, name, price in picks[1:]:
        quantity = rng.randint(1, 2)
        if price * quantity >= rest:
            continue
        lines.append({"sku": sku, "name": name, "quantity": quantity, "unit_price": str(price)})
        rest -= price * quantity
    sku, name, _price = picks[0]
    return [{"sku": sku, "name": name, "quantity": 1, "unit_price": str(rest)}, *lines]


def demo_order_create(
    target: str, *, users: dict, warehouses: list, rng: random.Random, shops: list[Shop] | None = None
) -> Order:
    """A demo order brought to `target`; with `shops`, of one of them (its channel), owned by
    someone who works its brand."""
    if target == State.MERGED:
        return _demo_merged(users=users, warehouses=warehouses, rng=rng, shops=shops)
    shop = rng.choice(shops) if shops else None
    if shop is not None:
        cs = users[rng.choice(DEMO_BRAND_STAFF.get(shop.brand.code) or ["cs1", "cs2"])]
        channel = shop.channel
    else:
        cs = users[rng.choice(["cs1", "cs2"])]
        channel = rng.choice(Channel.values)
    amount = Decimal(rng.choice([39, 59, 88, 129, 199, 268, 399, 520, 688, 899, 1299])) + Decimal("0.90")
    external_id = "" if channel == Channel.MANUAL else f"{channel.upper()}-{rng.randrange(10**9, 10**10)}"
    main = None
    if rng.random() < 0.08:
        # A gift follows a main order of the same shop (so the same brand's people see both).
        candidates = Order.objects.filter(main_order__isnull=True, channel=channel)
        if shop is not None:
            candidates = candidates.filter(shop=shop)
        main = candidates.order_by("?").first()
    order = order_create(
        actor=None,
        channel=channel,
        amount=Decimal("0.00") if main else amount,
        external_id=external_id,
        buyer_email=f"buyer{rng.randrange(1000, 9999)}@example.com",
        buyer_phone=f"138{rng.randrange(10**7, 10**8)}",
        cs_owner=cs,
        main_order=main,
        shop=shop,
        lines=demo_lines(Decimal("0.00") if main else amount, rng),
        **demo_address(rng),
    )
    return order_move_to(order, target, users=users, warehouses=warehouses, rng=rng, steps=AFTER_SALES_STEPS)


def _demo_merged(*, users: dict, warehouses: list, rng: random.Random, shops) -> Order:
    """合单 as customer service does it: the buyer of an earlier paid demo order ordered again
    to the same address; the new order goes into the first one's parcel. Returns the merged one."""
    kept = (
        Order.objects.filter(state=State.PAID, main_order__isnull=True, gifts__isnull=True, merged_parts__isnull=True)
        .exclude(buyer_email="")
        .order_by("pk")
        .first()
    )
    if kept is None:
        kept = demo_order_create(State.PAID, users=users, warehouses=warehouses, rng=rng, shops=shops)
    amount = Decimal(rng.choice([39, 59, 88, 129])) + Decimal("0.90")
    again = order_create(
        actor=None,
        channel=kept.channel,
        shop=kept.shop,
        amount=amount,
        external_id="" if kept.channel == Channel.MANUAL else f"{kept.channel.upper()}-{rng.randrange(10**9, 10**10)}",
        buyer_email=kept.buyer_email,
        buyer_phone=kept.buyer_phone,
        cs_owner=kept.cs_owner,
        lines=demo_lines(amount, rng),
        **{name: getattr(kept, name) for name in SHIPPING_FIELDS},
    )
    again = order_move_to(again, State.PAID, users=users, warehouses=warehouses, rng=rng)
    order_merge(order_ids=[kept.pk, again.pk], actor=kept.cs_owner, note=NOTES.get("merge", "同一买家，合并发货"))
    return Order.objects.get(pk=again.pk)
