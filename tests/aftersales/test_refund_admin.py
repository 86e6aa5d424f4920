"""Refunds in the admin: finance asks through the service (a resent form is a duplicate, not a
second refund), everyone else only reads; the gateway account's keys are never shown back."""

from __future__ import annotations

import contextlib
import re

import pytest
from django.urls import reverse

from aftersales.models import DuplicateRefundAttempt, Refund
from integrations.models import PaymentGatewayAccount

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:aftersales_refund_add")
LIST_URL = reverse("admin:aftersales_refund_changelist")


@pytest.fixture
def login(client, users):
    def as_user(username):
        client.force_login(users[username])
        return client

    return as_user


def request_key(html: str) -> str:
    return re.search(r'name="request_key" value="([^"]+)"', html).group(1)


def test_finance_requests_a_refund_and_a_resent_form_pays_nothing_twice(login, approved_return):
    order = approved_return.order
    client = login("fin1")
    page = client.get(ADD_URL, {"order": order.number, "return_id": approved_return.pk}).content.decode()
    key = request_key(page)
    assert order.number in page
    form = {
        "order": order.number.lower(),
        "return_id": approved_return.pk,
        "amount": "88.00",
        "reason": "商品破损，退货退款",
        "request_key": key,
    }

    response = client.post(ADD_URL, form, follow=True)
    refund = Refund.objects.get(order=order)
    assert response.redirect_chain[-1][0] == reverse("admin:aftersales_refund_change", args=[refund.pk])
    assert f"Refund #{refund.pk} of 88.00 CNY for order {order.number} is recorded" in response.content.decode()
    assert refund.idempotency_key == key and refund.requested_by.username == "fin1"

    again = client.post(ADD_URL, form)
    assert again.status_code == 200
    assert "Already refunded: 88.00 CNY on" in again.content.decode()
    assert Refund.objects.count() == 1
    assert DuplicateRefundAttempt.objects.get().idempotency_key == key


def test_a_refused_request_shows_why_and_writes_nothing(login, make_order):
    order = make_order("delivered", amount="50.00")
    client = login("fin1")
    key = request_key(client.get(ADD_URL).content.decode())
    response = client.post(ADD_URL, {"order": order.number, "amount": "60.00", "reason": "退款", "request_key": key})
    assert "more than is left" in response.content.decode()
    missing = client.post(ADD_URL, {"order": "OH19990101-00001", "amount": "1", "reason": "x", "request_key": key})
    assert "There is no order OH19990101-00001" in missing.content.decode()
    assert Refund.objects.count() == 0


def test_other_roles_read_refunds_but_cannot_ask_for_one(login, make_order, users):
    from aftersales.services.refunds import refund_request

    order = make_order("delivered")
    refund = refund_request(order_id=order.pk, actor=users["fin1"], amount="10.00", reason="补偿")
    cs = login("cs1")
    assert cs.get(ADD_URL).status_code == 403
    listing = cs.get(LIST_URL, {"q": order.number}).content.decode()
    assert order.number in listing and "10.00 CNY" in listing
    detail = cs.get(reverse("admin:aftersales_refund_change", args=[refund.pk])).content.decode()
    assert 'name="_save"' not in detail
    assert cs.post(reverse("admin:aftersales_refund_delete", args=[refund.pk])).status_code == 403
    assert login("wh1").get(LIST_URL).status_code == 403


def test_operations_see_duplicate_attempts(login, approved_return, users):
    from aftersales.services.refunds import AlreadyRefunded, refund_request

    order = approved_return.order
    for _ in range(2):
        with contextlib.suppress(AlreadyRefunded):
            refund_request(
                order_id=order.pk, actor=users["fin1"], amount="88.00", reason="退货", return_id=approved_return.pk
            )
    page = login("ops1").get(reverse("admin:aftersales_duplicaterefundattempt_changelist")).content.decode()
    assert order.number in page and "陈静" in page and f"#{approved_return.pk}" in page


def test_the_gateway_accounts_keys_are_write_only(login, merchant_keys):
    client = login("tech1")
    url = reverse("admin:integrations_paymentgatewayaccount_add")
    response = client.post(
        url,
        {
            "name": "支付宝",
            "gateway": "alipay",
            "endpoint": "https://openapi.alipay.com/gateway.do",
            "app_id": "2021000000000001",
            "private_key": merchant_keys[0],
            "gateway_public_key": merchant_keys[1],
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account = PaymentGatewayAccount.objects.get()
    assert account.private_key == merchant_keys[0].strip()
    change = reverse("admin:integrations_paymentgatewayaccount_change", args=[account.pk])
    page = client.get(change).content.decode()
    body_line = merchant_keys[0].splitlines()[1]
    assert body_line not in page and merchant_keys[1].splitlines()[1] not in page
    # Saved again with the key fields empty: the keys are kept.
    client.post(
        change,
        {
            "name": "支付宝（正式）",
            "gateway": "alipay",
            "endpoint": "https://openapi.alipay.com/gateway.do",
            "app_id": "2021000000000001",
            "private_key": "",
            "gateway_public_key": "",
            "enabled": "on",
        },
    )
    account.refresh_from_db()
    assert account.name == "支付宝（正式）" and account.private_key == merchant_keys[0].strip()
    refused = client.post(
        change,
        {
            "name": "x",
            "gateway": "alipay",
            "endpoint": "https://a.example",
            "app_id": "1",
            "private_key": merchant_keys[1],
            "gateway_public_key": "",
            "enabled": "on",
        },
    )
    assert "private key cannot be read" in refused.content.decode()
    assert login("ops1").get(change).status_code == 200
    assert login("fin1").get(change).status_code == 403
