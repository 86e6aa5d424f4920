"""The return pages with order lines, end to end through Django's test client: customer service
picks the lines and units coming back (what was ordered and already returned shown beside
them), the return's page shows them with the refund they propose, and finance's refund page
starts from that proposal, shows how it was computed, and still pays exactly once."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from aftersales.models import DuplicateRefundAttempt, Refund, ReturnLine, ReturnRequest, ReturnSource, ReturnStatus
from aftersales.services.returns import return_review
from orders.models import Order, OrderEvent, OutboxMessage

pytestmark = pytest.mark.django_db

ADD = reverse("admin:aftersales_returnrequest_add")
REFUND_ADD = reverse("admin:aftersales_refund_add")
_emails = itertools.count(1)

LINES = [
    {"sku": "CUP-01", "name": "保温杯", "quantity": 3, "unit_price": "10.00", "discount": "0.01", "currency": "CNY"},
    {"sku": "LID-02", "name": "杯盖", "quantity": 2, "unit_price": "5.00", "currency": "CNY"},
]


@pytest.fixture
def login(users):
    def make(username) -> Client:
        client = Client()
        client.force_login(users[username])
        return client

    return make


@pytest.fixture
def order(make_order):
    """Delivered, 29.99 + 10.00 of lines and 8.00 shipping, one cup already back on an earlier
    (refunded) return and a lid on a rejected one."""
    order = make_order(
        "delivered", lines=LINES, amount="47.99", shipping_fee="8.00", buyer_email=f"adm{next(_emails)}@example.com"
    )
    for status, sku in ((ReturnStatus.REFUNDED, "CUP-01"), (ReturnStatus.REJECTED, "LID-02")):
        case = ReturnRequest.objects.create(order=order, status=status, reason="之前的退货", source=ReturnSource.HUB)
        ReturnLine.objects.create(return_request=case, order_line=order.lines.get(sku=sku), quantity=1)
    return order


def field(order, sku) -> str:
    return f"line_{order.lines.get(sku=sku).pk}"


def review_url(case) -> str:
    return reverse("admin:aftersales_returnrequest_review", args=[case.pk])


def snapshot() -> dict:
    return {
        "orders": sorted(Order.objects.values_list("pk", "state", "version")),
        "returns": ReturnRequest.objects.count(),
        "lines": ReturnLine.objects.count(),
        "events": OrderEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
    }


def row(html: str, sku: str) -> str:
    """The table row of `sku` on a page, tags stripped to its cells' text."""
    match = re.search(rf"<tr data-line=\"\d+\">(?:(?!</tr>).)*{sku}(?:(?!</tr>).)*</tr>", html, re.S)
    assert match, f"no row for {sku}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(0)).split())


def test_customer_service_picks_lines_and_finance_refunds_the_proposal_once(login, order, users):
    cs = login("cs1")
    page = cs.get(ADD, {"order": order.number}).content.decode()
    # Each line: SKU, name, ordered, already returned (the rejected return's lid stayed), a quantity.
    assert row(page, "CUP-01") == "CUP-01 保温杯 3 1"
    assert row(page, "LID-02") == "LID-02 杯盖 2 0"
    assert f'name="{field(order, "CUP-01")}"' in page and 'max="2"' in page
    # The items as text are for orders without lines.
    assert 'name="items"' not in page

    response = cs.post(
        ADD,
        {
            "order": order.number,
            "reason": "杯子有裂纹",
            field(order, "CUP-01"): "2",
            field(order, "LID-02"): "0",
            "expected_version": order.version,
        },
    )
    case = ReturnRequest.objects.get(order=order, status=ReturnStatus.REQUESTED)
    assert response.status_code == 302 and response["Location"] == review_url(case)
    assert [(r.order_line.sku, r.quantity) for r in case.lines.all()] == [("CUP-01", 2)]
    assert case.request_event.data["lines"] == [
        {"line": order.lines.get(sku="CUP-01").pk, "sku": "CUP-01", "quantity": 2}
    ]

    # The order's timeline lists its returns with the lines coming back.
    timeline = cs.get(reverse("orders:timeline", args=[order.number])).content.decode()
    returns = timeline[timeline.index('class="tl-section tl-returns"') :].split("</section>", 1)[0]
    card = returns.split(f'data-return="{case.pk}"', 1)[1].split("</li>\n", 1)[0]
    assert "CUP-01" in card and "保温杯" in card and "× 2" in card and review_url(case) in card

    # The return's page: the lines coming back and the refund they propose. The cups are the
    # line's last two units: 29.99 less the 10.00 the first one proposed.
    html = cs.get(review_url(case)).content.decode()
    assert row(html, "CUP-01").startswith("CUP-01 保温杯 2 3")
    assert "Refund proposed: 19.99 CNY" in html
    return_review(return_id=case.pk, actor=users["cs1"], approve=True)

    fin = login("fin1")
    html = fin.get(review_url(case)).content.decode()
    link = f"{REFUND_ADD}?order={order.number}&amp;return_id={case.pk}"
    assert link in html

    page = fin.get(REFUND_ADD, {"order": order.number, "return_id": case.pk}).content.decode()
    assert re.search(r'name="amount" value="19.99"', page)
    breakdown = row(page, "CUP-01")
    assert breakdown == "CUP-01 保温杯 2 of 3 (1 on earlier returns) 29.99 9.9967 19.99 (the rest of the line)"
    key = re.search(r'name="request_key" value="([^"]+)"', page).group(1)
    form = {"order": order.number, "return_id": case.pk, "amount": "19.99", "reason": "退货退款", "request_key": key}
    response = fin.post(REFUND_ADD, form)
    refund = Refund.objects.get(order=order)
    assert response.status_code == 302 and refund.amount == Decimal("19.99")
    assert refund.return_request == case and refund.request_event.data["proposed"] == "19.99"

    # Sent again (a second click): refused as a duplicate, nothing paid twice.
    again = fin.post(REFUND_ADD, form)
    assert again.status_code == 200 and "Already refunded: 19.99 CNY" in again.content.decode()
    assert Refund.objects.filter(order=order).count() == 1 and DuplicateRefundAttempt.objects.count() == 1


def test_finance_may_change_the_proposal_within_what_is_left(login, order, users):
    case = ReturnRequest.objects.create(
        order=order, status=ReturnStatus.APPROVED, reason="整单退", source=ReturnSource.HUB
    )
    for sku, units in (("CUP-01", 2), ("LID-02", 2)):
        ReturnLine.objects.create(return_request=case, order_line=order.lines.get(sku=sku), quantity=units)
    fin = login("fin1")
    page = fin.get(REFUND_ADD, {"return_id": case.pk}).content.decode()
    # Every unit is back now: the shipping fee comes with it (19.99 + 10.00 + 8.00).
    assert re.search(r'name="amount" value="37.99"', page) and "Shipping fee (the whole order is back)" in page
    assert f'value="{order.number}"' in page
    key = re.search(r'name="request_key" value="([^"]+)"', page).group(1)
    form = {"order": order.number, "return_id": case.pk, "reason": "整单退款", "request_key": key}
    too_much = fin.post(REFUND_ADD, {**form, "amount": "48.00"})
    assert too_much.status_code == 200 and "is more than is left" in too_much.content.decode()
    assert not Refund.objects.exists()
    # The shipping back too, say: more than proposed, within what the order has left.
    response = fin.post(REFUND_ADD, {**form, "amount": "40.00"})
    refund = Refund.objects.get()
    assert response.status_code == 302 and refund.amount == Decimal("40.00")
    assert refund.request_event.data["proposed"] == "37.99"


@pytest.mark.parametrize(
    ("quantities", "text"),
    [
        ({"CUP-01": "0", "LID-02": "0"}, "Give the number of units coming back for at least one line."),
        ({"CUP-01": "3"}, "3 coming back is more than is left to return"),
        ({"CUP-01": "-1"}, "greater than or equal to 0"),
    ],
    ids=["nothing", "more-than-left", "negative"],
)
def test_a_request_with_bad_quantities_says_why_and_changes_nothing(login, order, quantities, text):
    before = snapshot()
    post = {"order": order.number, "reason": "破损", "expected_version": order.version}
    post.update({field(order, sku): value for sku, value in quantities.items()})
    response = login("cs1").post(ADD, post)
    assert response.status_code == 200
    assert text in response.content.decode()
    assert snapshot() == before


def test_an_order_typed_on_the_blank_form_shows_its_lines_to_choose(login, order):
    before = snapshot()
    response = login("cs1").post(ADD, {"order": order.number.lower(), "reason": "破损"})
    html = response.content.decode()
    assert response.status_code == 200 and "Give the number of units coming back" in html
    assert row(html, "CUP-01") == "CUP-01 保温杯 3 1"
    assert snapshot() == before
