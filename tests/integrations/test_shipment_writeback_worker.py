"""The Shopify write-back delivered by a real Celery worker on the real Redis broker and
PostgreSQL, against the local Shopify Admin GraphQL server: retries, a lost answer, a final
failure that reaches the tech lead."""

from __future__ import annotations

import itertools

import pytest

from integrations.events import CHANNEL_WRITTEN_BACK, SHOPIFY_FULFILMENT_WRITE
from integrations.models import ChannelWriteBack, ShopifyAdminAccount, WriteBackStatus
from notifications.models import Notification
from orders.models import OrderEvent, OutboxMessage, OutboxStatus
from orders.services.shops import shop_default_for_channel
from orders.services.transition import order_transition
from tests.conftest import wait_for
from tests.fakes.shopify_admin import FakeShopifyAdmin

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TOKEN = "shpat_worker_test_token"
_external_ids = itertools.count(720982911946154508)


@pytest.fixture
def shopify():
    with FakeShopifyAdmin(access_token=TOKEN) as fake:
        yield fake


@pytest.fixture
def account(shopify, transactional_db):
    shop = shop_default_for_channel("shopify")
    shop.external_shop_id = "hub-worker.myshopify.com"
    shop.save(update_fields=["external_shop_id"])
    return ShopifyAdminAccount.objects.create(shop=shop, access_token=TOKEN, base_url=shopify.base_url)


def packed_in_shop(make_order, shopify):
    external_id = str(next(_external_ids))
    order = make_order("packed", external_id=external_id)
    return order, shopify.add_order(external_id)


def settled(event):
    row = ChannelWriteBack.objects.filter(shipment__event=event).first()
    message = OutboxMessage.objects.get(event=event, kind=SHOPIFY_FULFILMENT_WRITE)
    return row if message.status != OutboxStatus.PENDING and row is not None else None


def test_retried_through_the_worker_until_shopify_acknowledges(live_worker, account, shopify, make_order, users):
    order, gid = packed_in_shop(make_order, shopify)
    shopify.answers.extend(["server_error", "throttled"])  # attempt 1: HTTP 500; attempt 2: throttled
    event = order_transition(order.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF2000000000001")
    row = wait_for(lambda: settled(event), what="the write-back to settle")
    assert row.status == WriteBackStatus.ACKNOWLEDGED and row.attempts == 3
    (fulfilment,) = shopify.orders[gid].fulfilments
    assert row.channel_fulfilment_id == fulfilment.id and fulfilment.tracking[0].number == "SF2000000000001"
    assert OrderEvent.objects.filter(order=order, action=CHANNEL_WRITTEN_BACK).count() == 1
    # (The waybill upload of the same shipment fails: no carrier account here. Not ours.)
    assert not OrderEvent.objects.filter(
        order=order, action="reaction_failed", data__reaction=SHOPIFY_FULFILMENT_WRITE
    ).exists()


def test_an_answer_lost_after_the_create_is_adopted_not_created_twice(
    live_worker, account, shopify, make_order, users, settings
):
    settings.ORDERHUB_SHOPIFY_ADMIN_TIMEOUT = 0.5
    order, gid = packed_in_shop(make_order, shopify)
    shopify.answers.extend(["ok", "lose_response"])
    event = order_transition(order.pk, "ship", actor=users["wh1"], carrier="zto", tracking_number="73100000002002")
    row = wait_for(lambda: settled(event), what="the write-back to settle")
    assert row.status == WriteBackStatus.ACKNOWLEDGED and row.operation == ChannelWriteBack.Operation.ADOPTED
    assert len(shopify.orders[gid].fulfilments) == 1
    assert len(shopify.mutations("fulfillmentCreate")) == 1


def test_a_refusal_fails_for_good_and_tells_the_tech_lead(live_worker, account, shopify, make_order, users):
    order, gid = packed_in_shop(make_order, shopify)
    shopify.answers.extend(["ok", "user_error", "ok"])
    event = order_transition(order.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF2000000000003")
    row = wait_for(lambda: settled(event), what="the write-back to settle")
    assert row.status == WriteBackStatus.FAILED and "refused" in row.last_error
    failure = OrderEvent.objects.get(order=order, action="reaction_failed", data__reaction=SHOPIFY_FULFILMENT_WRITE)
    assert failure.data["integration"] is True
    notice = wait_for(
        lambda: Notification.objects.filter(recipient=users["tech1"], event=failure).first(),
        what="the tech lead's alert",
    )
    assert order.number in notice.text
    assert shopify.orders[gid].fulfilments == []
