"""Returns name the order's lines and units that come back: the return service checks them (each
refusal changes nothing), the Shopify webhook's items are matched to the lines, and the refund
proposed is computed from the lines, to the cent, capped at what is left to refund; the refund
itself is still paid exactly once."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from aftersales.models import Refund, ReturnLine, ReturnRequest, ReturnSource, ReturnStatus
from aftersales.selectors import (
    order_lines_returnable,
    order_lines_returned,
    return_refund_proposal,
    return_refund_proposed,
)
from aftersales.services.refunds import AlreadyRefunded, RefundRefused, refund_request
from aftersales.services.returns import return_request_create, return_review
from integrations.models import InboundDelivery
from orders.exceptions import InvalidActionData
from orders.models import Order, OrderEvent, OrderLine, OutboxMessage
from tests.fakes.shopify import shopify_body, shopify_headers

pytestmark = pytest.mark.django_db

_emails = itertools.count(1)

# 保温杯 3 × 10.00 less 0.01 = 29.99 (one unit 9.996…), 杯盖 2 × 5.00 = 10.00, a free sticker,
# and 8.00 shipping: 47.99 in all.
LINES = [
    {"platform_line_id": "5001", "sku": "CUP-01", "name": "保温杯", "quantity": 3, "unit_price": "10.00",
     "discount": "0.01", "currency": "CNY"},
    {"platform_line_id": "5002", "sku": "LID-02", "name": "杯盖", "quantity": 2, "unit_price": "5.00",
     "currency": "CNY"},
    {"platform_line_id": "5003", "sku": "STICKER", "name": "贴纸", "quantity": 1, "unit_price": "0.00",
     "currency": "CNY", "is_gift": True},
]  # fmt: skip
AMOUNT, SHIPPING = "47.99", "8.00"


@pytest.fixture
def lined(make_order):
    """A delivered order with LINES (of a buyer of its own: the repeat-customer rule stays out)."""

    def make(*, lines=LINES, amount=AMOUNT, shipping_fee=SHIPPING, **fields):
        fields.setdefault("buyer_email", f"lines{next(_emails)}@example.com")
        return make_order("delivered", lines=lines, amount=amount, shipping_fee=shipping_fee, **fields)

    return make


def line(order, sku) -> OrderLine:
    return order.lines.get(sku=sku)


def ask(order, user, **kwargs):
    kwargs.setdefault("reason", "杯子有裂纹")
    return return_request_create(order_id=order.pk, actor=user, **kwargs)


def snapshot() -> dict:
    return {
        "orders": sorted(Order.objects.values_list("pk", "state", "version")),
        "returns": sorted(ReturnRequest.objects.values_list("pk", "status", "version")),
        "lines": ReturnLine.objects.count(),
        "events": OrderEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
    }


def refused(call, match: str):
    before = snapshot()
    with pytest.raises(InvalidActionData, match=match) as info:
        call()
    assert snapshot() == before, "a refused return must change nothing"
    return info.value


def earlier_return(order, *, status=ReturnStatus.REFUNDED, **units):
    """A return requested before, written directly (its order stays delivered, as after a
    rejection; the hub's own flow reaches a second return only that way): `units` by SKU."""
    case = ReturnRequest.objects.create(order=order, status=status, reason="之前的退货", source=ReturnSource.HUB)
    for sku, quantity in units.items():
        ReturnLine.objects.create(return_request=case, order_line=line(order, sku.replace("_", "-")), quantity=quantity)
    return case


# ---------------------------------------------------------------------------------------------
# What a return records


def test_the_lines_coming_back_are_recorded_with_the_items_and_on_the_request_event(lined, users):
    order = lined()
    cup, lid = line(order, "CUP-01"), line(order, "LID-02")
    case = ask(order, users["cs1"], lines=[{"line": lid.pk, "quantity": 1}, {"line": str(cup.pk), "quantity": "2"}])

    assert [(r.order_line, r.quantity) for r in case.lines.order_by("order_line__position")] == [(cup, 2), (lid, 1)]
    # The text of the items follows the lines, in line order, for every reader of `items`.
    assert case.items == [
        {"sku": "CUP-01", "name": "保温杯", "quantity": 2},
        {"sku": "LID-02", "name": "杯盖", "quantity": 1},
    ]
    assert case.request_event.data["lines"] == [
        {"line": cup.pk, "sku": "CUP-01", "quantity": 2},
        {"line": lid.pk, "sku": "LID-02", "quantity": 1},
    ]
    assert order_lines_returned(order_id=order.pk) == {cup.pk: 2, lid.pk: 1}
    assert [(ln.sku, returned) for ln, returned in order_lines_returnable(order_id=order.pk)] == [
        ("CUP-01", 2),
        ("LID-02", 1),
        ("STICKER", 0),
    ]


def test_an_order_without_lines_keeps_its_items_as_text(make_order, users):
    order = make_order("delivered", buyer_email=f"old{next(_emails)}@example.com")
    case = ask(order, users["cs1"], items=[{"sku": "CUP-01", "name": "保温杯", "quantity": 1, "platform_line_id": "9"}])
    assert case.items == [{"sku": "CUP-01", "name": "保温杯", "quantity": 1}]
    assert not case.lines.exists() and "lines" not in case.request_event.data
    # Items as text have no price: a person types the refund.
    proposal = return_refund_proposal(case)
    assert proposal.priced is False and proposal.amount == 0


# ---------------------------------------------------------------------------------------------
# Refusals: each a clear message, each leaving everything as it was


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        (lambda order, other: [{"line": line(other, "CUP-01").pk, "quantity": 1}], r"is not a line of order"),
        (lambda order, other: [{"line": line(order, "CUP-01").pk, "quantity": 0}], r"whole number from 1 to"),
        (lambda order, other: [{"line": line(order, "CUP-01").pk, "quantity": -1}], r"whole number from 1 to"),
        (lambda order, other: [{"line": line(order, "CUP-01").pk, "quantity": "two"}], r"whole number from 1 to"),
        (lambda order, other: [{"line": line(order, "CUP-01").pk, "quantity": True}], r"whole number from 1 to"),
        (lambda order, other: [{"line": "CUP-01", "quantity": 1}], r"does not name a line"),
        (
            lambda order, other: [
                {"line": line(order, "CUP-01").pk, "quantity": 1},
                {"line": line(order, "CUP-01").pk, "quantity": 1},
            ],
            r"names a line already named",
        ),
        (
            lambda order, other: [{"line": line(order, "LID-02").pk, "quantity": 3}],
            r"#2 LID-02 杯盖: 3 coming back is more than is left to return on order .* \(2 ordered, 0 already on "
            r"earlier returns, 2 left\)",
        ),
        (lambda order, other: [], r"has lines: say which of them come back"),
        (lambda order, other: {"line": 1, "quantity": 1}, r"must be a list"),
    ],
    ids=["other-order", "zero", "negative", "not-a-number", "bool", "no-line-id", "twice", "too-many", "none", "dict"],
)
def test_a_bad_line_is_refused_and_changes_nothing(lined, users, lines, match):
    order, other = lined(), lined()
    refused(lambda: ask(order, users["cs1"], lines=lines(order, other)), match)
    assert Order.objects.get(pk=order.pk).state == "delivered"


@pytest.mark.parametrize(
    ("items", "match"),
    [
        ([{"sku": "MUG-99", "name": "马克杯", "quantity": 1}], r"Item 1 \(MUG-99 马克杯\) is not on order"),
        ([{"sku": "CUP-01", "name": "", "quantity": 0}], r"quantity must be a whole number"),
        ([{"sku": "CUP-01", "quantity": 4}], r"Item 1 \(CUP-01\): 4 coming back is more than is left"),
        (
            [{"sku": "CUP-01", "quantity": 1}, {"sku": "", "name": "保温杯", "quantity": 1}],
            r"Item 2 names the same line as item 1 \(#1 CUP-01 保温杯\)",
        ),
        ([], r"has lines: say which of them come back"),
    ],
    ids=["unknown-sku", "zero", "too-many", "twice", "nothing"],
)
def test_items_that_do_not_fit_the_order_lines_are_refused(lined, users, items, match):
    order = lined()
    refused(lambda: ask(order, users["cs1"], items=items), match)


def test_an_order_without_lines_cannot_be_given_lines(make_order, lined, users):
    order = make_order("delivered", buyer_email=f"old{next(_emails)}@example.com")
    other = lined()
    refused(
        lambda: ask(order, users["cs1"], lines=[{"line": line(other, "CUP-01").pk, "quantity": 1}]),
        "has no lines",
    )


def test_units_on_earlier_returns_are_not_left_to_return_unless_the_return_was_rejected(lined, users):
    order = lined()
    earlier_return(order, CUP_01=2)
    earlier_return(order, status=ReturnStatus.REJECTED, CUP_01=1, LID_02=2)
    cup, lid = line(order, "CUP-01"), line(order, "LID-02")
    error = refused(
        lambda: ask(order, users["cs1"], lines=[{"line": cup.pk, "quantity": 2}]),
        r"2 coming back is more than is left to return",
    )
    assert "(3 ordered, 2 already on earlier returns, 1 left)" in error.message
    # The rejected return's units stayed with the buyer: both lids may come back.
    case = ask(order, users["cs1"], lines=[{"line": cup.pk, "quantity": 1}, {"line": lid.pk, "quantity": 2}])
    assert case.status == ReturnStatus.REQUESTED


# ---------------------------------------------------------------------------------------------
# Items matched to lines: the channel's line id, else the SKU, else the name


def test_items_are_matched_by_line_id_then_sku_then_name(lined, users):
    order = lined()
    case = ask(
        order,
        users["cs1"],
        items=[
            # A line id that names the line wins over a SKU that does not match it.
            {"sku": "OLD-SKU", "name": "", "quantity": 1, "platform_line_id": "5002"},
            {"sku": "", "name": "保温杯", "quantity": 3},
        ],
    )
    assert sorted((r.order_line.sku, r.quantity) for r in case.lines.all()) == [("CUP-01", 3), ("LID-02", 1)]


def test_units_of_a_sku_on_several_lines_go_to_them_in_line_order(lined, users):
    lines = [
        {"sku": "TEA-1", "name": "龙井", "quantity": 2, "unit_price": "30.00", "currency": "CNY"},
        {"sku": "TEA-1", "name": "龙井（促销）", "quantity": 2, "unit_price": "20.00", "currency": "CNY"},
    ]
    order = lined(lines=lines, amount="100.00", shipping_fee="0")
    first, second = order.lines.order_by("position")
    case = ask(order, users["cs1"], items=[{"sku": "TEA-1", "quantity": 3}])
    assert sorted((r.order_line_id, r.quantity) for r in case.lines.all()) == [(first.pk, 2), (second.pk, 1)]
    assert return_refund_proposed(case) == Decimal("80.00")


# ---------------------------------------------------------------------------------------------
# The refund proposed


def propose(order, user, **units) -> tuple[ReturnRequest, object]:
    lines = [{"line": line(order, sku.replace("_", "-")).pk, "quantity": q} for sku, q in units.items()]
    case = ask(order, user, lines=lines)
    return case, return_refund_proposal(case)


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        ({"CUP_01": 1}, "10.00"),  # 29.99 / 3 = 9.996…: 10.00
        ({"CUP_01": 2}, "19.99"),  # 19.993…: 19.99
        ({"CUP_01": 3}, "29.99"),  # every unit: exactly the line
        ({"LID_02": 1}, "5.00"),
        ({"CUP_01": 1, "LID_02": 2}, "20.00"),
        ({"STICKER": 1}, "0.00"),  # a gift line proposes nothing
    ],
)
def test_partial_and_full_lines_are_proposed_to_the_cent(lined, users, units, expected):
    case, proposal = propose(lined(), users["cs1"], **units)
    assert proposal.amount == Decimal(expected) and proposal.priced and proposal.shipping_fee == 0
    assert return_refund_proposed(case) == Decimal(expected)
    assert proposal.lines_total == sum(p.amount for p in proposal.lines)


def test_the_whole_order_proposes_exactly_its_lines_and_the_shipping_fee(lined, users):
    order = lined()
    _case, proposal = propose(order, users["cs1"], CUP_01=3, LID_02=2, STICKER=1)
    assert [(p.line.sku, p.amount, p.takes_last_unit) for p in proposal.lines] == [
        ("CUP-01", Decimal("29.99"), True),
        ("LID-02", Decimal("10.00"), True),
        ("STICKER", Decimal("0.00"), False),
    ]
    assert [p.unit_amount for p in proposal.lines] == [Decimal("9.9967"), Decimal("5.00"), Decimal("0.00")]
    assert proposal.lines_total == Decimal("39.99") and proposal.shipping_fee == Decimal(SHIPPING)
    assert proposal.amount == order.amount == Decimal(AMOUNT) and not proposal.capped


def test_returns_of_one_unit_each_add_up_to_the_line_exactly(lined, users):
    # 0.05 over three units: 0.0166… each. 0.02 + 0.02 would leave 0.01 for the last.
    lines = [{"sku": "PIN", "name": "徽章", "quantity": 3, "unit_price": "0.02", "discount": "0.01", "currency": "CNY"}]
    order = lined(lines=lines, amount="0.05", shipping_fee="0")
    pin = line(order, "PIN")
    first = earlier_return(order, PIN=1)
    second = earlier_return(order, PIN=1)
    third = ask(order, users["cs1"], lines=[{"line": pin.pk, "quantity": 1}])
    parts = [return_refund_proposed(case) for case in (first, second, third)]
    assert parts == [Decimal("0.02"), Decimal("0.02"), Decimal("0.01")] and sum(parts) == Decimal("0.05")
    (row,) = return_refund_proposal(third).lines
    assert row.earlier == 2 and row.takes_last_unit


def test_the_shipping_fee_comes_with_the_return_that_completes_the_order(lined, users):
    order = lined()
    earlier_return(order, CUP_01=3, STICKER=1)
    _case, proposal = propose(order, users["cs1"], LID_02=2)
    assert proposal.lines_total == Decimal("10.00") and proposal.shipping_fee == Decimal(SHIPPING)
    assert proposal.amount == Decimal("18.00")
    # Not when the gift stays with the buyer: part of the order came to keep.
    _case, partial = propose(lined(), users["cs1"], CUP_01=3, LID_02=2)
    assert partial.shipping_fee == 0 and partial.amount == Decimal("39.99")


def test_the_proposal_is_capped_at_what_is_left_to_refund(lined, users):
    order = lined()
    refund_request(order_id=order.pk, actor=users["fin1"], amount="40.00", reason="补偿运费和差价")
    _case, proposal = propose(order, users["cs1"], CUP_01=3)
    assert proposal.subtotal == Decimal("29.99") and proposal.refundable == Decimal("7.99")
    assert proposal.amount == Decimal("7.99") and proposal.capped


def test_an_order_without_lines_proposes_what_is_left_when_the_whole_order_comes_back(make_order, users):
    order = make_order("delivered", amount="88.00", buyer_email=f"old{next(_emails)}@example.com")
    case = ask(order, users["cs1"])
    proposal = return_refund_proposal(case)
    assert proposal.whole_order and proposal.priced and proposal.amount == Decimal("88.00")


# ---------------------------------------------------------------------------------------------
# The refund: the proposal is where it starts, the service's checks and exactly-once still hold


def test_the_refund_of_a_return_records_its_proposal_and_is_paid_once(lined, users):
    order = lined()
    case, proposal = propose(order, users["cs1"], CUP_01=2)
    return_review(return_id=case.pk, actor=users["cs1"], approve=True)
    fin = users["fin1"]
    # More than the order has left is refused whatever the proposal.
    with pytest.raises(RefundRefused, match="more than is left"):
        refund_request(order_id=order.pk, actor=fin, amount="48.00", reason="退货退款", return_id=case.pk)
    # A person may change the proposal (here: the shipping back as well).
    refund = refund_request(
        order_id=order.pk, actor=fin, amount="27.99", reason="退货退款", return_id=case.pk, idempotency_key="ret-key-1"
    )
    assert refund.request_event.data["proposed"] == str(proposal.amount) == "19.99"
    with pytest.raises(AlreadyRefunded):
        refund_request(order_id=order.pk, actor=fin, amount="19.99", reason="退货退款", return_id=case.pk)
    with pytest.raises(AlreadyRefunded):
        refund_request(
            order_id=order.pk, actor=fin, amount="27.99", reason="退货退款", return_id=case.pk,
            idempotency_key="ret-key-1",
        )  # fmt: skip
    assert Refund.objects.filter(order=order).count() == 1


# ---------------------------------------------------------------------------------------------
# Shopify's returns/request: its line items matched to the order's lines

SECRET = "shpss_return_lines"
SHOPIFY_ORDER_ID = "820982911946154999"


def shopify_return(*line_items) -> dict:
    return {
        "id": 777,
        "name": "#1002-R1",
        "order": {"id": int(SHOPIFY_ORDER_ID)},
        "return_line_items": [
            {
                "id": 9000 + n,
                "quantity": quantity,
                "return_reason": "defective",
                "fulfillment_line_item": {"line_item": {"id": line_id, "sku": sku, "title": title}},
            }
            for n, (line_id, sku, title, quantity) in enumerate(line_items)
        ],
    }


def post(client, payload, webhook_id):
    body = shopify_body(payload)
    headers = shopify_headers(body, SECRET, topic="returns/request", webhook_id=webhook_id)
    return client.post("/webhooks/shopify/orders", data=body, content_type="application/json", **headers)


@pytest.fixture
def shopify_lined(lined, settings):
    settings.SHOPIFY_WEBHOOK_SECRET = SECRET
    return lined(channel="shopify", external_id=SHOPIFY_ORDER_ID)


def test_a_shopify_return_is_matched_to_the_order_lines_by_line_id_or_sku(client, shopify_lined):
    order = shopify_lined
    payload = shopify_return((5001, "CUP-01-RENAMED", "保温杯", 2), (None, "LID-02", "杯盖", 1))
    response = post(client, payload, "ret-lines-1")
    assert response.status_code == 200 and response.json()["outcome"] == "created", response.content
    case = ReturnRequest.objects.get(order=order)
    assert case.source == ReturnSource.CHANNEL
    assert sorted((r.order_line.sku, r.quantity) for r in case.lines.all()) == [("CUP-01", 2), ("LID-02", 1)]
    assert case.request_event.data["lines"][0] == {"line": line(order, "CUP-01").pk, "sku": "CUP-01", "quantity": 2}
    assert return_refund_proposed(case) == Decimal("24.99")


@pytest.mark.parametrize(
    ("item", "match"),
    [((6001, "MUG-99", "马克杯", 1), "is not on order"), ((5002, "LID-02", "杯盖", 5), "more than is left")],
)
def test_a_shopify_return_of_what_the_order_does_not_hold_is_refused_and_opens_nothing(
    client, shopify_lined, item, match
):
    order = shopify_lined
    response = post(client, shopify_return(item), "ret-lines-bad")
    assert response.status_code == 200 and match in response.json()["refused"]
    assert not ReturnRequest.objects.exists() and not ReturnLine.objects.exists()
    order.refresh_from_db()
    assert order.state == "delivered"
    assert InboundDelivery.objects.get(delivery_id="ret-lines-bad").outcome.startswith("refused: ")
    assert OrderEvent.objects.filter(order=order, action="return_request_refused").count() == 1
