"""The exception queues (异常订单): each role sees the reasons it owns, with counts by reason,
and clears them from the card; operations see every queue; another brand's never."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import OrderException
from orders.services.intake import order_intake
from tests.factories import CLEAN_ADDRESS, BrandFactory, ShopFactory, channel_order

pytestmark = pytest.mark.django_db

URL = "/boards/exceptions/"


def intake(external_id, **fields):
    return channel_order(external_id, **fields)


def numbers(html: str) -> list[str]:
    return re.findall(r'<article class="oh-card[^"]*" id="order-([^"]+)"', html)


def counts(html: str) -> dict[str, int]:
    start = html.index('class="oh-groups"')
    nav = html[start : html.index("</nav>", start)]
    links = re.findall(r'data-reason="([a-z_]+)"[^>]*>.*?<strong>(\d+)</strong>', nav, re.S)
    return {reason: int(count) for reason, count in links}


@pytest.fixture
def queue(users):
    remark = intake("1", buyer_remark="请发顺丰")
    address = intake("2", ship_city="")
    zero = intake("3", amount="0.00")
    return {"remark": remark, "address": address, "zero": zero}


def test_each_role_sees_its_reasons_and_operations_all(client, users, queue):
    client.force_login(users["cs1"])
    html = client.get(URL).content.decode()
    assert sorted(numbers(html)) == sorted([queue["remark"].number, queue["address"].number])
    assert counts(html) == {
        "buyer_remark": 1,
        "address_incomplete": 1,
        "suspected_duplicate": 0,
        "channel_refund": 0,
    }
    assert "请发顺丰" in html and "Remark read and accepted" in html
    client.force_login(users["fin1"])
    html = client.get(URL).content.decode()
    assert numbers(html) == [queue["zero"].number]
    assert counts(html) == {"amount_anomaly": 1, "totals_mismatch": 0}
    client.force_login(users["ops1"])
    html = client.get(URL).content.decode()
    assert len(numbers(html)) == 3 and counts(html)["amount_anomaly"] == 1
    client.force_login(users["wh1"])
    assert numbers(client.get(URL).content.decode()) == []
    client.force_login(users["tech1"])
    assert client.get(URL).status_code == 403


def test_filtering_by_reason_keeps_the_counts(client, users, queue):
    client.force_login(users["cs1"])
    html = client.get(URL, {"reason": "address_incomplete"}).content.decode()
    assert numbers(html) == [queue["address"].number]
    assert counts(html)["buyer_remark"] == 1 and 'aria-current="true"' in html


def test_the_owner_clears_from_the_card_and_it_leaves_the_queue(client, users, queue):
    client.force_login(users["cs1"])
    exception = OrderException.objects.get(order=queue["remark"])
    response = client.post(f"{URL}{exception.pk}/clear/", {"note": "已备注", "next": URL}, follow=True)
    assert response.status_code == 200
    assert "Remark read and accepted" in response.content.decode()
    assert queue["remark"].number not in numbers(response.content.decode())
    exception.refresh_from_db()
    assert exception.cleared_by == users["cs1"] and exception.cleared_note == "已备注"


def test_another_roles_exception_cannot_be_cleared_and_a_bad_clear_changes_nothing(client, users, queue):
    zero = OrderException.objects.get(order=queue["zero"])
    client.force_login(users["cs1"])
    response = client.post(f"{URL}{zero.pk}/clear/", {"next": URL}, follow=True)
    assert "not" in response.content.decode() and OrderException.objects.get(pk=zero.pk).cleared_at is None
    address = OrderException.objects.get(order=queue["address"])
    response = client.post(f"{URL}{address.pk}/clear/", {"next": URL}, follow=True)
    assert "still incomplete" in response.content.decode()
    assert OrderException.objects.get(pk=address.pk).cleared_at is None
    assert client.get(f"{URL}{address.pk}/clear/").status_code == 405


def test_another_brands_exceptions_are_not_seen_or_cleared(client, users, queue):
    beta = BrandFactory(code="beta", name="Beta", staff=[users["cs2"]])
    shop = ShopFactory(brand=beta, name="Beta Shopify", external_shop_id="beta.myshopify.com")
    theirs = order_intake(
        channel="shopify",
        external_id="beta-1",
        fields={"amount": "100.00", "currency": "CNY", **CLEAN_ADDRESS, "buyer_remark": "beta"},
        paid=True,
        cancelled=False,
        source_note="",
        shop=shop,
    ).order
    raised = OrderException.objects.get(order=theirs)
    client.force_login(users["cs1"])
    assert theirs.number not in numbers(client.get(URL).content.decode())
    assert client.post(f"{URL}{raised.pk}/clear/").status_code == 404
    client.force_login(users["cs2"])
    assert numbers(client.get(URL).content.decode()) == [theirs.number]


def test_the_queue_reads_in_a_constant_number_of_queries(client, users, queue):
    client.force_login(users["ops1"])
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for number in range(10):
        intake(f"more-{number}", buyer_remark=f"留言 {number}")
    with CaptureQueriesContext(connection) as many:
        html = client.get(URL).content.decode()
    assert len(numbers(html)) == 13 and len(many) == len(few)
