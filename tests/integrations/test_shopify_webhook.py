"""Shopify order webhooks: signed, deduplicated, applied whole by the intake service or refused whole."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from integrations.channels.shopify import shopify_order_from_payload, shopify_recipient_name
from integrations.models import InboundDelivery, WebhookSource
from integrations.signing import signature_matches_base64
from orders.models import Order, OrderEvent, OutboxMessage
from tests.fakes.shopify import shopify_body, shopify_headers, shopify_order, shopify_signature

SECRET = "shpss_webhook_secret"
URL = "/webhooks/shopify/orders"
SHOPIFY_ID = "820982911946154508"


@pytest.fixture(autouse=True)
def shopify_secret(settings):
    settings.SHOPIFY_WEBHOOK_SECRET = SECRET


def post(client, payload=None, *, body: bytes | None = None, topic="orders/create", **header_overrides):
    body = shopify_body(payload if payload is not None else shopify_order()) if body is None else body
    headers = shopify_headers(body, SECRET, topic=topic)
    headers.update(header_overrides)
    return client.post(URL, data=body, content_type="application/json", **headers)


def database_state():
    """Everything a delivery could write, to assert that a refusal wrote nothing."""
    return {
        "orders": sorted(Order.objects.values_list("pk", "state", "version")),
        "events": OrderEvent.objects.count(),
        "history": Order.history.count(),
        "outbox": OutboxMessage.objects.count(),
        "deliveries": InboundDelivery.objects.count(),
    }


def test_shopify_signature_vector_from_the_api_notes():
    body = b'{"id":820982911946154508,"name":"#1001"}'
    expected = "uW+cWyvqk8j3d+4fTNATtAaJshs7iMFSwdo5HotZFtU="
    assert shopify_signature(body, "shpss_test") == expected
    assert signature_matches_base64(body, expected, ["other", "shpss_test"])
    assert not signature_matches_base64(body, expected, ["shpss_tesT"])
    assert not signature_matches_base64(body + b" ", expected, ["shpss_test"])


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [("伟", "张", "张伟"), ("Ada", "Lovelace", "Ada Lovelace"), ("", "Cher", "Cher"), (" 小明", "欧阳 ", "欧阳小明")],
)
def test_recipient_names(first, last, expected):
    assert shopify_recipient_name(first, last) == expected


def test_payload_mapping_without_a_shipping_address():
    parsed = shopify_order_from_payload(shopify_order(shipping_address=None, email=None, phone=None))
    assert parsed.external_id == SHOPIFY_ID
    assert parsed.fields["buyer_email"] == "buyer@example.com"  # from the customer
    assert parsed.fields["recipient_name"] == parsed.fields["ship_address"] == ""


@pytest.mark.django_db
def test_url_is_the_documented_one():
    assert reverse("webhooks:shopify_orders") == URL


@pytest.mark.django_db
def test_orders_create_creates_the_order_with_its_address(client):
    response = post(client)
    assert response.status_code == 200, response.content
    order = Order.objects.get()
    assert response.json() == {"order": order.number, "outcome": "created", "actions": []}
    assert (order.channel, order.external_id, order.state, order.version) == ("shopify", SHOPIFY_ID, "submitted", 1)
    assert (str(order.amount), order.currency) == ("199.00", "CNY")
    assert (order.buyer_email, order.buyer_phone) == ("buyer@example.com", "+8613800138000")
    assert order.ordered_at.isoformat() == "2026-01-28T06:05:00+00:00"
    assert (order.recipient_name, order.recipient_phone) == ("张伟", "13900139000")
    assert (order.ship_province, order.ship_city, order.ship_district) == ("上海市", "上海市", "浦东新区")
    assert (order.ship_address, order.ship_postcode) == ("张江路 88 弄 6 号", "201203")
    created = order.events.get()
    assert (created.action, created.actor_id, created.actor_role) == ("created", None, "system")
    assert "orders/create" in created.note and "#1001" in created.note
    delivery = InboundDelivery.objects.get()
    assert (delivery.source, delivery.topic, delivery.order_id) == ("shopify", "orders/create", order.pk)


@pytest.mark.django_db
def test_a_paid_order_is_created_and_paid_by_the_system(client):
    line = {**shopify_order()["line_items"][0], "price": "1299.90"}
    payload = shopify_order(financial_status="paid", total_price="1299.90", line_items=[line])
    response = post(client, payload, topic="orders/paid")
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "created" and response.json()["actions"] == ["pay"]
    order = Order.objects.get()
    assert (order.state, order.version, order.payment_status, order.priority) == ("paid", 2, "paid", 1)
    timeline = list(order.events.order_by("id").values_list("action", "from_state", "to_state", "actor_role"))
    assert timeline == [("created", "", "submitted", "system"), ("pay", "submitted", "paid", "system")]
    assert not order.events.exclude(actor=None).exists()
    assert list(order.history.order_by("history_id").values_list("history_type", "state")) == [
        ("+", "submitted"),
        ("~", "paid"),
    ]


@pytest.mark.django_db
def test_an_english_name_keeps_its_order(client):
    address = {**shopify_order()["shipping_address"], "first_name": "Ada", "last_name": "Lovelace", "address2": None}
    assert post(client, shopify_order(shipping_address=address)).status_code == 200
    order = Order.objects.get()
    assert (order.recipient_name, order.ship_district) == ("Ada Lovelace", "")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_SHOPIFY_HMAC_SHA256": "AAAA"},
        {"HTTP_X_SHOPIFY_HMAC_SHA256": ""},
        "wrong-secret",
        "missing",
    ],
)
def test_bad_signatures_are_refused_and_change_nothing(client, headers):
    body = shopify_body(shopify_order(financial_status="paid"))
    if headers == "wrong-secret":
        headers = {"HTTP_X_SHOPIFY_HMAC_SHA256": shopify_signature(body, "not-the-secret")}
    elif headers == "missing":
        headers = shopify_headers(body, SECRET)
        del headers["HTTP_X_SHOPIFY_HMAC_SHA256"]
        response = client.post(URL, data=body, content_type="application/json", **headers)
        assert response.status_code == 401
        assert database_state() == {"orders": [], "events": 0, "history": 0, "outbox": 0, "deliveries": 0}
        return
    response = post(client, body=body, **headers)
    assert response.status_code == 401 and response.json() == {"error": "bad signature"}
    assert database_state() == {"orders": [], "events": 0, "history": 0, "outbox": 0, "deliveries": 0}


@pytest.mark.django_db
def test_a_body_changed_after_signing_is_refused(client):
    body = shopify_body(shopify_order())
    headers = shopify_headers(body, SECRET)
    tampered = body.replace(b'"199.00"', b'"1.00"', 1)
    assert client.post(URL, data=tampered, content_type="application/json", **headers).status_code == 401
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_no_secret_configured_refuses_everything(client, settings):
    settings.SHOPIFY_WEBHOOK_SECRET = ""
    body = shopify_body(shopify_order())
    for signature in (shopify_signature(body, ""), shopify_signature(body, SECRET)):
        response = post(client, body=body, HTTP_X_SHOPIFY_HMAC_SHA256=signature)
        assert response.status_code == 401
    assert database_state() == {"orders": [], "events": 0, "history": 0, "outbox": 0, "deliveries": 0}


@pytest.mark.django_db
def test_a_secret_from_the_admin_is_accepted_and_a_disabled_one_is_not(client, settings):
    settings.SHOPIFY_WEBHOOK_SECRET = ""
    WebhookSource.objects.create(kind="shopify", name="old store", secret="old-secret", enabled=False)
    WebhookSource.objects.create(kind="shopify", name="store", secret="admin-secret")
    body = shopify_body(shopify_order())
    assert post(client, body=body, HTTP_X_SHOPIFY_HMAC_SHA256=shopify_signature(body, "old-secret")).status_code == 401
    assert (
        post(client, body=body, HTTP_X_SHOPIFY_HMAC_SHA256=shopify_signature(body, "admin-secret")).status_code == 200
    )
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_a_replay_is_acknowledged_and_changes_nothing(client):
    body = shopify_body(shopify_order(financial_status="paid"))
    headers = shopify_headers(body, SECRET, topic="orders/paid", webhook_id="replayed-delivery-1")
    assert client.post(URL, data=body, content_type="application/json", **headers).status_code == 200
    before = database_state()
    response = client.post(URL, data=body, content_type="application/json", **headers)
    assert response.status_code == 200 and response.json() == {"duplicate": True}
    assert database_state() == before


@pytest.mark.django_db
def test_the_same_order_in_a_new_delivery_changes_nothing(client):
    assert post(client, shopify_order(financial_status="paid"), topic="orders/paid").status_code == 200
    before = database_state()
    response = post(client, shopify_order(financial_status="paid"), topic="orders/updated")
    assert response.status_code == 200 and response.json()["outcome"] == "unchanged"
    after = database_state()
    assert after.pop("deliveries") == before.pop("deliveries") + 1
    assert after == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"), [(b"{not json", "not JSON"), (b"[1, 2]", "JSON object"), (b"", "not JSON")]
)
def test_malformed_json_is_400_and_changes_nothing(client, body, message):
    response = post(client, body=body)
    assert response.status_code == 400 and message in response.json()["error"]
    assert database_state() == {"orders": [], "events": 0, "history": 0, "outbox": 0, "deliveries": 0}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id": None}, "id"),
        ({"id": -5}, "id"),
        ({"id": "12ab"}, "id"),
        ({"total_price": None}, "total_price"),
        ({"total_price": 199.0}, "total_price"),
        ({"total_price": "abc"}, "total_price"),
        ({"total_price": "-1.00"}, "total_price"),
        ({"total_price": "1.001"}, "total_price"),
        ({"currency": None}, "currency"),
        ({"currency": "RMB1"}, "currency"),
        ({"created_at": None}, "created_at"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"created_at": "2026-01-28T14:05:00"}, "created_at"),
        ({"email": "not-an-email"}, "email"),
        ({"shipping_address": "somewhere"}, "shipping_address"),
        ({"shipping_address": {"address1": "x" * 201}}, "shipping_address.address1"),
        ({"shipping_address": {"zip": {"code": 1}}}, "shipping_address.zip"),
    ],
)
def test_missing_or_invalid_fields_are_400_naming_the_field(client, overrides, field):
    payload = shopify_order(**overrides)
    if "id" in overrides and overrides["id"] is None:
        del payload["id"]
    response = post(client, payload)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field and response.json()["error"]
    assert database_state() == {"orders": [], "events": 0, "history": 0, "outbox": 0, "deliveries": 0}


@pytest.mark.django_db
def test_a_delivery_without_its_id_is_400(client):
    body = shopify_body(shopify_order())
    headers = shopify_headers(body, SECRET)
    del headers["HTTP_X_SHOPIFY_WEBHOOK_ID"]
    response = client.post(URL, data=body, content_type="application/json", **headers)
    assert response.status_code == 400 and response.json()["field"] == "X-Shopify-Webhook-Id"
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_orders_paid_pays_an_existing_order(client, make_order):
    order = make_order("submitted", channel="shopify", external_id=SHOPIFY_ID)
    response = post(client, shopify_order(financial_status="paid"), topic="orders/paid")
    assert response.status_code == 200, response.content
    assert response.json() == {"order": order.number, "outcome": "updated", "actions": ["pay"]}
    order.refresh_from_db()
    assert (order.state, order.version) == ("paid", 2)
    pay = order.events.get(action="pay")
    assert pay.actor is None and pay.actor_role == "system" and "orders/paid" in pay.note
    assert Order.objects.count() == 1
    assert InboundDelivery.objects.get().order_id == order.pk


@pytest.mark.django_db
def test_orders_paid_after_a_failed_payment(client, make_order):
    order = make_order("payment_failed", channel="shopify", external_id=SHOPIFY_ID)
    assert post(client, shopify_order(financial_status="paid"), topic="orders/paid").status_code == 200
    assert Order.objects.get(pk=order.pk).state == "paid"


@pytest.mark.django_db
def test_a_late_orders_create_does_not_move_a_paid_order_back(client):
    assert post(client, shopify_order(financial_status="paid"), topic="orders/paid").status_code == 200
    before = database_state()
    response = post(client, shopify_order(financial_status="pending"), topic="orders/create")
    assert response.status_code == 200 and response.json()["outcome"] == "unchanged"
    assert database_state()["orders"] == before["orders"]
    assert Order.objects.get().state == "paid"


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["submitted", "paid", "reviewed"])
def test_orders_cancelled_cancels_with_a_note(client, make_order, state):
    order = make_order(state, channel="shopify", external_id=SHOPIFY_ID)
    payload = shopify_order(
        financial_status="voided", cancelled_at="2026-01-29T09:00:00+08:00", cancel_reason="customer"
    )
    response = post(client, payload, topic="orders/cancelled")
    assert response.status_code == 200, response.content
    assert response.json()["actions"] == ["cancel"]
    order.refresh_from_db()
    assert order.state == "cancelled"
    cancel = order.events.get(action="cancel")
    assert cancel.actor_role == "system" and "cancelled on the channel" in cancel.note and "customer" in cancel.note
    # Shopify sends orders/updated for the same change: nothing more happens.
    before = database_state()
    assert post(client, payload, topic="orders/updated").json()["outcome"] == "unchanged"
    assert database_state()["orders"] == before["orders"]


@pytest.mark.django_db
def test_a_new_order_that_arrives_cancelled(client):
    payload = shopify_order(financial_status="paid", cancelled_at="2026-01-29T09:00:00+08:00")
    response = post(client, payload, topic="orders/cancelled")
    assert response.json()["actions"] == ["pay", "cancel"]
    order = Order.objects.get()
    assert list(order.events.order_by("id").values_list("action", flat=True)) == ["created", "pay", "cancel"]
    assert order.state == "cancelled" and order.version == 3


@pytest.mark.django_db
def test_cancelled_after_delivery_is_409_and_changes_nothing(client, make_order):
    make_order("delivered", channel="shopify", external_id=SHOPIFY_ID)
    payload = shopify_order(financial_status="paid", cancelled_at="2026-01-29T09:00:00+08:00")
    before = database_state()
    response = post(client, payload, topic="orders/cancelled")
    assert response.status_code == 409
    assert "Cancel order" in response.json()["error"] and "not possible" in response.json()["error"]
    assert database_state() == before
    # Shopify retries the same delivery: the same answer, still nothing written.
    assert post(client, payload, topic="orders/cancelled").status_code == 409
    assert database_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["allocated", "packed", "shipped"])
def test_cancelled_while_the_warehouse_has_it_is_customer_services_exception(client, make_order, state):
    """平台取消: the parcel may be packed or on its way, so the order is not cancelled by itself:
    customer service gets the exception (tell the buyer), once; before it leaves the warehouse is
    asked at once to pull it (截单), on the carrier's way customer service decides."""
    from orders.models import Interception, OrderException

    order = make_order(state, channel="shopify", external_id=SHOPIFY_ID)
    payload = shopify_order(financial_status="paid", cancelled_at="2026-01-29T09:00:00+08:00", cancel_reason="customer")
    response = post(client, payload, topic="orders/cancelled")
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "updated" and response.json()["actions"] == []
    order.refresh_from_db()
    if state == "shipped":
        assert order.state == state and not Interception.objects.exists()
    else:
        assert order.state == "intercept_requested"
        interception = Interception.objects.get(order=order)
        assert (interception.route, interception.from_state, interception.requested_by) == ("warehouse", state, None)
        assert "cancelled on the channel" in interception.reason
    exception = OrderException.objects.get(order=order)
    assert (exception.reason, exception.owner_role) == ("channel_refund", "customer_service")
    assert "cancelled on the channel" in exception.detail and "customer" in exception.detail
    # orders/updated for the same change: the exception is open already, nothing more.
    assert post(client, payload, topic="orders/updated").json()["outcome"] == "unchanged"
    assert OrderException.objects.filter(order=order).count() == 1
    assert Interception.objects.filter(order=order).count() == (0 if state == "shipped" else 1)


@pytest.mark.django_db
def test_a_refund_on_the_channel_before_shipping_is_an_exception_too(client, make_order):
    from orders.models import OrderException

    order = make_order("reviewed", channel="shopify", external_id=SHOPIFY_ID)
    response = post(client, shopify_order(financial_status="partially_refunded"), topic="orders/updated")
    assert response.status_code == 200 and response.json()["outcome"] == "updated"
    assert Order.objects.get(pk=order.pk).state == "reviewed"
    exception = OrderException.objects.get(order=order, cleared_at__isnull=True)
    assert exception.reason == "channel_refund" and "refunded on the channel" in exception.detail


@pytest.mark.django_db
def test_paid_for_an_order_the_hub_cancelled_unpaid_is_409(client, make_order, users):
    from orders.services.transition import order_transition

    order = make_order("submitted", channel="shopify", external_id=SHOPIFY_ID)
    order_transition(order.pk, "cancel", actor=users["cs1"], note="买家申请取消订单")
    before = database_state()
    response = post(client, shopify_order(financial_status="paid"), topic="orders/paid")
    assert response.status_code == 409 and "Confirm payment" in response.json()["error"]
    assert database_state() == before


@pytest.mark.django_db
def test_an_update_for_an_order_paid_then_cancelled_in_the_hub_changes_nothing(client, make_order):
    order = make_order("cancelled", channel="shopify", external_id=SHOPIFY_ID)  # paid, then cancelled by CS
    before = database_state()
    response = post(client, shopify_order(financial_status="paid"), topic="orders/updated")
    assert response.status_code == 200 and response.json() == {
        "order": order.number,
        "outcome": "unchanged",
        "actions": [],
    }
    assert database_state()["orders"] == before["orders"]


@pytest.mark.django_db
@pytest.mark.parametrize("topic", ["orders/fulfilled", "refunds/create", "products/update", ""])
def test_other_topics_are_ignored(client, topic):
    response = post(client, shopify_order(financial_status="paid"), topic=topic)
    assert response.status_code == 200 and response.json() == {"ignored": topic}
    assert database_state() == {"orders": [], "events": 0, "history": 0, "outbox": 0, "deliveries": 0}


@pytest.mark.django_db
def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_create_and_paid_at_the_same_moment_make_one_paid_order(roles):
    """Shopify sends orders/create and orders/paid within milliseconds: both find no order, one
    creates it, the other's insert waits, is refused, and its second try pays the order."""
    payload = shopify_order(financial_status="paid")
    body = shopify_body(payload)
    deliveries = [("orders/create", "race-create"), ("orders/paid", "race-paid"), ("orders/paid", "race-paid")]
    barrier = threading.Barrier(len(deliveries))
    responses, errors = [], []

    def deliver(topic, webhook_id):
        try:
            barrier.wait()
            headers = shopify_headers(body, SECRET, topic=topic, webhook_id=webhook_id)
            responses.append(Client().post(URL, data=body, content_type="application/json", **headers))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=d) for d in deliveries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.status_code for r in responses) == [200, 200, 200]
    assert sum(r.json() == {"duplicate": True} for r in responses) >= 1
    order = Order.objects.get()
    assert (order.state, order.version) == ("paid", 2)
    assert list(order.events.order_by("id").values_list("action", flat=True)) == ["created", "pay"]
    assert sorted(InboundDelivery.objects.values_list("delivery_id", flat=True)) == ["race-create", "race-paid"]


# -- lines ---------------------------------------------------------------------------------------

DISCOUNTED_ORDER = {
    "total_price": "253.00",
    "taxes_included": False,
    "total_tax": "13.00",
    "note": "请周末送货",
    "shipping_lines": [{"title": "顺丰", "price": "20.00", "discounted_price": "12.00"}],
    "line_items": [
        {
            "id": 11,
            "title": "保温杯",
            "sku": "CUP-01",
            "quantity": 2,
            "price": "99.00",
            "total_discount": "0.00",
            # An order-level code is shared out over the lines: their allocations count.
            "discount_allocations": [{"amount": "10.00", "discount_application_index": 0}],
            "grams": 350,
        },
        {"id": 12, "title": "杯套", "sku": "SLV-01", "quantity": 1, "price": "40.00", "total_discount": "0.00"},
        {"id": 13, "title": "Gift card", "sku": "", "quantity": 1, "price": "0.00", "gift_card": True},
    ],
}


@pytest.mark.django_db
def test_line_items_discounts_shipping_and_tax_become_the_orders_lines(client):
    response = post(client, shopify_order(**DISCOUNTED_ORDER))
    assert response.status_code == 200, response.content
    order = Order.objects.get()
    assert (order.shipping_fee, order.tax_amount, order.buyer_remark) == (12, 13, "请周末送货")
    assert [
        (line.platform_line_id, line.sku, line.quantity, str(line.unit_price), str(line.discount), line.is_gift)
        for line in order.lines.all()
    ] == [
        ("11", "CUP-01", 2, "99.00", "10.00", False),
        ("12", "SLV-01", 1, "40.00", "0.00", False),
        ("13", "", 1, "0.00", "0.00", True),
    ]
    assert order.lines.first().weight_grams == 350
    assert "totals_mismatch" not in order.events.get(action="created").data


@pytest.mark.django_db
def test_lines_that_do_not_add_up_keep_the_order_and_say_so(client):
    response = post(client, shopify_order(**{**DISCOUNTED_ORDER, "total_price": "260.00"}))
    assert response.status_code == 200, response.content
    created = Order.objects.get().events.get(action="created")
    assert "253.00" in created.data["totals_mismatch"] and "260.00" in created.data["totals_mismatch"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"quantity": -1}, "line_items[0].quantity"),
        ({"quantity": "2"}, "line_items[0].quantity"),
        ({"price": "-5.00"}, "line_items[0].price"),
        ({"price": 5}, "line_items[0].price"),
        ({"discount_allocations": [{"amount": "500.00"}]}, "line_items[0].discount_allocations"),
        ({"sku": "", "title": ""}, "line_items[0].sku"),
    ],
)
def test_a_bad_line_item_is_400_naming_it_and_changes_nothing(client, line, field):
    item = {**shopify_order()["line_items"][0], **line}
    response = post(client, shopify_order(line_items=[item]))
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert database_state() == {"orders": [], "events": 0, "history": 0, "outbox": 0, "deliveries": 0}


@pytest.mark.django_db
def test_who_sent_a_delivery_is_kept_a_while_and_forgotten_when_operations_change_it(client, settings):
    """The shop and the admin's secrets are read once per ORDERHUB_RULES_CACHE_SECONDS: a
    delivery after the first asks the database for neither; disabling a secret in the admin
    refuses its deliveries at once (the save clears what this process kept)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.ORDERHUB_RULES_CACHE_SECONDS = 60
    settings.SHOPIFY_WEBHOOK_SECRET = ""
    source = WebhookSource.objects.create(kind="shopify", name="store", secret="admin-secret")
    first = shopify_body(shopify_order())
    assert (
        post(client, body=first, HTTP_X_SHOPIFY_HMAC_SHA256=shopify_signature(first, "admin-secret")).status_code == 200
    )
    second = shopify_body(shopify_order(id=820982911946154509, name="#1002"))
    with CaptureQueriesContext(connection) as queries:
        response = post(client, body=second, HTTP_X_SHOPIFY_HMAC_SHA256=shopify_signature(second, "admin-secret"))
    assert response.status_code == 200
    asked = " ".join(q["sql"] for q in queries.captured_queries)
    assert "integrations_webhooksource" not in asked and '"orders_shop"' not in asked

    source.enabled = False
    source.save()
    third = shopify_body(shopify_order(id=820982911946154510, name="#1003"))
    assert (
        post(client, body=third, HTTP_X_SHOPIFY_HMAC_SHA256=shopify_signature(third, "admin-secret")).status_code == 401
    )
    assert Order.objects.count() == 2
