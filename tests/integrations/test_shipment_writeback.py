"""Shipments written back to Shopify (integrations.services.writeback), one outbox delivery at a
time against the local Shopify Admin GraphQL server."""

from __future__ import annotations

import itertools

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertKind
from integrations.events import CHANNEL_WRITTEN_BACK, SHOPIFY_FULFILMENT_WRITE
from integrations.models import ChannelWriteBack, ShopifyAdminAccount, WriteBackStatus
from orders.models import OrderEvent, OutboxMessage, OutboxStatus, Shipment
from orders.outbox.services import outbox_deliver
from orders.services.shops import shop_default_for_channel
from orders.services.transition import order_transition
from tests.fakes.shopify_admin import FakeShopifyAdmin

TOKEN = "shpat_writeback_test_token"
_external_ids = itertools.count(820982911946154508)


@pytest.fixture
def shopify():
    with FakeShopifyAdmin(access_token=TOKEN) as fake:
        yield fake


@pytest.fixture
def account(shopify, db):
    shop = shop_default_for_channel("shopify")
    shop.external_shop_id = "hub-test.myshopify.com"
    shop.save(update_fields=["external_shop_id"])
    return ShopifyAdminAccount.objects.create(
        shop=shop, access_token=TOKEN, api_version="2025-01", base_url=shopify.base_url
    )


@pytest.fixture
def packed(make_order, shopify):
    """A packed Shopify order that the fake shop has too (one open fulfilment order)."""

    def make(**fields):
        external_id = str(next(_external_ids))
        order = make_order("packed", external_id=external_id, **fields)
        shopify.add_order(external_id)
        return order

    return make


def ship(order, users, tracking="SF1000000000001", carrier="sf", action="ship", note=""):
    event = order_transition(order.pk, action, actor=users["wh1"], carrier=carrier, tracking_number=tracking, note=note)
    return event, OutboxMessage.objects.filter(event=event, kind=SHOPIFY_FULFILMENT_WRITE).first()


def make_due(message):
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def gid(order) -> str:
    return f"gid://shopify/Order/{order.external_id}"


@pytest.mark.django_db
def test_a_shipment_creates_the_fulfilment_with_our_tracking_number(account, shopify, packed, users):
    order = packed()
    event, message = ship(order, users, tracking="SF1000000000001")
    assert message is not None and message.idempotency_key == f"event:{event.pk}:kind:{SHOPIFY_FULFILMENT_WRITE}"
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    (fulfilment,) = shopify.orders[gid(order)].fulfilments
    assert [(t.company, t.number) for t in fulfilment.tracking] == [("SF Express", "SF1000000000001")]
    assert fulfilment.notify_customer is True
    row = ChannelWriteBack.objects.get(shipment__event=event)
    assert (row.status, row.operation, row.channel_fulfilment_id, row.attempts) == (
        WriteBackStatus.ACKNOWLEDGED,
        ChannelWriteBack.Operation.CREATED,
        fulfilment.id,
        1,
    )
    assert row.acknowledged_at is not None
    written = OrderEvent.objects.get(order=order, action=CHANNEL_WRITTEN_BACK)
    assert written.actor is None and written.data["fulfilment_id"] == fulfilment.id
    assert "SF1000000000001" in written.note


@pytest.mark.django_db
def test_delivered_twice_writes_back_once(account, shopify, packed, users):
    order = packed()
    _event, message = ship(order, users)
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    assert outbox_deliver(message.pk) == OutboxStatus.DONE  # done rows are not run again
    assert len(shopify.mutations("fulfillmentCreate")) == 1
    assert OrderEvent.objects.filter(order=order, action=CHANNEL_WRITTEN_BACK).count() == 1


@pytest.mark.django_db
def test_a_lost_answer_after_shopify_created_it_adopts_that_fulfilment(account, shopify, packed, users, settings):
    settings.ORDERHUB_SHOPIFY_ADMIN_TIMEOUT = 0.5
    order = packed()
    event, message = ship(order, users, tracking="SF1000000000002")
    shopify.answers.extend(["ok", "lose_response"])  # the read answers; the create is done, its answer lost
    assert outbox_deliver(message.pk) == OutboxStatus.PENDING
    assert len(shopify.orders[gid(order)].fulfilments) == 1  # Shopify has it
    row = ChannelWriteBack.objects.get(shipment__event=event)
    assert row.status == WriteBackStatus.PENDING and row.attempts == 1 and "no answer" in row.last_error
    make_due(message)
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    (fulfilment,) = shopify.orders[gid(order)].fulfilments  # still one: adopted, not created again
    row.refresh_from_db()
    assert (row.operation, row.channel_fulfilment_id, row.attempts) == ("adopted", fulfilment.id, 2)
    assert len(shopify.mutations("fulfillmentCreate")) == 1


@pytest.mark.django_db
def test_fulfilled_by_hand_with_our_number_is_success(account, shopify, packed, users):
    order = packed()
    by_hand = shopify.fulfil_by_hand(gid(order), number="SF1000000000003")
    _event, message = ship(order, users, tracking="SF1000000000003")
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    assert shopify.mutations() == []
    assert ChannelWriteBack.objects.get(order=order).channel_fulfilment_id == by_hand.id


@pytest.mark.django_db
def test_fulfilled_elsewhere_with_another_number_fails_clearly_and_alerts(account, shopify, packed, users):
    order = packed()
    shopify.fulfil_by_hand(gid(order), number="OTHER0000001")
    _event, message = ship(order, users, tracking="SF1000000000004")
    assert outbox_deliver(message.pk) == OutboxStatus.FAILED
    message.refresh_from_db()
    assert "nothing left to fulfil" in message.last_error and "OTHER0000001" in message.last_error
    row = ChannelWriteBack.objects.get(order=order)
    assert row.status == WriteBackStatus.FAILED and "SF1000000000004" in row.last_error
    failure = OrderEvent.objects.get(order=order, action="reaction_failed")
    assert failure.data["integration"] is True and failure.data["reaction"] == SHOPIFY_FULFILMENT_WRITE
    alert = Alert.objects.get(order=order, kind=AlertKind.INTEGRATION_FAILURE)
    assert SHOPIFY_FULFILMENT_WRITE in alert.title
    assert OutboxMessage.objects.filter(event=failure, kind="notify").exists()  # the tech lead's notice
    assert TOKEN not in message.last_error


@pytest.mark.django_db
def test_user_errors_fail_with_shopifys_message(account, shopify, packed, users):
    order = packed()
    _event, message = ship(order, users)
    shopify.answers.extend(["ok", "user_error", "ok"])  # read, refused create, read again
    assert outbox_deliver(message.pk) == OutboxStatus.FAILED
    message.refresh_from_db()
    assert "the shop refused it" in message.last_error
    assert shopify.orders[gid(order)].fulfilments == []


@pytest.mark.django_db
def test_throttled_waits_what_the_cost_extension_says(account, shopify, packed, users, settings):
    settings.ORDERHUB_OUTBOX_BACKOFF_BASE = 300  # the back-off would wait minutes
    settings.ORDERHUB_OUTBOX_BACKOFF_CAP = 600
    order = packed()
    _event, message = ship(order, users)
    shopify.throttle_status = (2.0, 4.0)  # (12 - 2) / 4 = 2.5 s
    shopify.answers.append("throttled")
    started = timezone.now()
    assert outbox_deliver(message.pk) == OutboxStatus.PENDING
    message.refresh_from_db()
    assert 2.0 <= (message.next_attempt_at - started).total_seconds() <= 3.0
    assert "throttled" in message.last_error
    make_due(message)
    assert outbox_deliver(message.pk) == OutboxStatus.DONE


@pytest.mark.django_db
def test_a_server_error_is_retried_with_the_back_off(account, shopify, packed, users):
    order = packed()
    _event, message = ship(order, users)
    shopify.answers.append("server_error")
    assert outbox_deliver(message.pk) == OutboxStatus.PENDING
    message.refresh_from_db()
    assert message.attempts == 1 and "HTTP 500" in message.last_error
    make_due(message)
    assert outbox_deliver(message.pk) == OutboxStatus.DONE


@pytest.mark.django_db
def test_a_reshipment_updates_the_fulfilment_its_predecessor_created(account, shopify, packed, users):
    order = packed()
    _first_event, first = ship(order, users, tracking="SF1000000000005")
    assert outbox_deliver(first.pk) == OutboxStatus.DONE
    second_event, second = ship(
        order, users, tracking="73100000000005", carrier="zto", action="reship", note="包裹破损，重发"
    )
    assert second is not None
    assert outbox_deliver(second.pk) == OutboxStatus.DONE
    (fulfilment,) = shopify.orders[gid(order)].fulfilments
    assert [(t.company, t.number) for t in fulfilment.tracking] == [("ZTO Express", "73100000000005")]
    assert shopify.mutations()[-1].root_field == "fulfillmentTrackingInfoUpdate"
    row = ChannelWriteBack.objects.get(shipment__event=second_event)
    assert (row.operation, row.channel_fulfilment_id) == ("tracking_updated", fulfilment.id)


@pytest.mark.django_db
def test_a_reshipment_waits_for_its_predecessors_write_back(account, shopify, packed, users):
    order = packed()
    _first_event, first = ship(order, users, tracking="SF1000000000006")
    _second_event, second = ship(order, users, tracking="SF1000000000007", action="reship", note="丢件重发")
    assert outbox_deliver(second.pk) == OutboxStatus.PENDING
    second.refresh_from_db()
    assert "SF1000000000006" in second.last_error and shopify.requests == []
    assert outbox_deliver(first.pk) == OutboxStatus.DONE
    make_due(second)
    assert outbox_deliver(second.pk) == OutboxStatus.DONE
    (fulfilment,) = shopify.orders[gid(order)].fulfilments
    assert fulfilment.tracking[0].number == "SF1000000000007"


@pytest.mark.django_db
def test_only_shopify_shops_with_an_enabled_account_are_written_back(account, shopify, packed, make_order, users):
    taobao = make_order("packed", channel="taobao", external_id="TB20260128001")
    _event, message = ship(taobao, users, tracking="SF1000000000008")
    assert message is None
    account.enabled = False
    account.save()
    order = packed()
    _event, message = ship(order, users, tracking="SF1000000000009")
    assert message is None
    assert not ChannelWriteBack.objects.exists()


@pytest.mark.django_db
def test_an_order_without_a_shopify_id_fails_clearly(account, shopify, make_order, users):
    order = make_order("packed", external_id="")
    _event, message = ship(order, users)
    assert outbox_deliver(message.pk) == OutboxStatus.FAILED
    assert "not a Shopify order id" in OutboxMessage.objects.get(pk=message.pk).last_error
    assert shopify.requests == []


@pytest.mark.django_db
def test_the_timeline_shows_the_write_back(client, account, shopify, packed, users):
    order = packed()
    _event, message = ship(order, users, tracking="SF1000000000010")
    client.force_login(users["cs1"])
    page = client.get(f"/orders/{order.number}/").content.decode()
    assert 'data-writeback="none"' in page
    outbox_deliver(message.pk)
    page = client.get(f"/orders/{order.number}/").content.decode()
    row = ChannelWriteBack.objects.get(order=order)
    assert 'data-writeback="acknowledged"' in page and row.channel_fulfilment_id in page
    assert Shipment.objects.get(order=order).tracking_number in page


@pytest.mark.django_db
def test_operations_add_the_account_in_the_admin_only_for_a_shopify_shop(client, users, make_order):
    from django.urls import reverse

    shopify_shop = shop_default_for_channel("shopify")
    taobao_shop = shop_default_for_channel("taobao")
    client.force_login(users["ops1"])
    add_url = reverse("admin:integrations_shopifyadminaccount_add")
    fields = {
        "access_token": "shpat_from_the_admin_1",
        "api_version": "2025-01",
        "notify_customer": "on",
        "enabled": "on",
    }
    refused = client.post(add_url, {**fields, "shop": taobao_shop.pk})
    assert refused.status_code == 200 and not ShopifyAdminAccount.objects.exists()
    # The Shopify shop needs its domain first.
    assert client.post(add_url, {**fields, "shop": shopify_shop.pk}).status_code == 200
    shopify_shop.external_shop_id = "tea.myshopify.com"
    shopify_shop.save()
    assert client.post(add_url, {**fields, "shop": shopify_shop.pk}).status_code == 302
    account = ShopifyAdminAccount.objects.get()
    assert account.access_token == "shpat_from_the_admin_1"
    change_url = reverse("admin:integrations_shopifyadminaccount_change", args=[account.pk])
    assert "shpat_from_the_admin_1" not in client.get(change_url).content.decode()
    # Saved again with the token left empty: it keeps the stored one.
    assert client.post(change_url, {**fields, "access_token": "", "shop": shopify_shop.pk}).status_code == 302
    account.refresh_from_db()
    assert account.access_token == "shpat_from_the_admin_1"


SPLIT_LINES = [
    {"platform_line_id": "11", "sku": "TEA-1", "name": "龙井 250g", "quantity": 3, "unit_price": "40.00"},
    {"platform_line_id": "12", "sku": "CUP-2", "name": "茶杯", "quantity": 1, "unit_price": "34.00"},
]


def to_packed(order, users, warehouses):
    """A paid order approved, allocated and packed by the demo users."""
    order_transition(order.pk, "approve", actor=users["cs1"])
    order_transition(order.pk, "allocate", actor=users["wh1"], warehouse=warehouses[0])
    order_transition(order.pk, "pack", actor=users["wh1"])


@pytest.mark.django_db
def test_split_parcels_fulfil_their_own_units_of_the_one_shopify_order(account, shopify, users, warehouses):
    from orders.services.split_merge import order_split
    from tests.factories import channel_order

    order = channel_order("8201", lines=SPLIT_LINES, amount="154.00")
    gid_ = shopify.add_order("8201", lines={"11": 3, "12": 1})
    tea, cup = order.lines.order_by("position")
    part = order_split(order_id=order.pk, actor=users["cs1"], lines={tea.pk: 1, cup.pk: 1}, note="茶杯先发")
    to_packed(part, users, warehouses)
    _event, message = ship(part, users, tracking="SF1000000000021")
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    (first,) = shopify.orders[gid_].fulfilments
    (fo,) = shopify.orders[gid_].fulfilment_orders.values()
    assert {line.line_item_id: line.remaining for line in fo.lines} == {
        "gid://shopify/LineItem/11": 2,
        "gid://shopify/LineItem/12": 0,
    }
    assert fo.status == "IN_PROGRESS"
    sent = shopify.mutations("fulfillmentCreate")[-1].variables["fulfillment"]["lineItemsByFulfillmentOrder"]
    assert [sorted(e["quantity"] for e in item["fulfillmentOrderLineItems"]) for item in sent] == [[1, 1]]
    # The original ships the rest, with its own number: a second fulfilment, the order done.
    to_packed(order, users, warehouses)
    _event, message = ship(order, users, tracking="SF1000000000022")
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    assert [f.tracking[0].number for f in shopify.orders[gid_].fulfilments] == ["SF1000000000021", "SF1000000000022"]
    assert fo.status == "CLOSED" and first.id != shopify.orders[gid_].fulfilments[1].id


@pytest.mark.django_db
def test_a_merged_parcel_fulfils_each_shopify_order_it_carries(account, shopify, users, warehouses):
    from orders.services.split_merge import order_merge
    from tests.factories import channel_order

    buyer = {"buyer_email": "tea-lover@example.com"}
    first = channel_order("8301", lines=[{**SPLIT_LINES[0], "platform_line_id": "31"}], amount="120.00", **buyer)
    second = channel_order("8302", lines=[{**SPLIT_LINES[1], "platform_line_id": "32"}], amount="34.00", **buyer)
    gids = [shopify.add_order("8301", lines={"31": 3}), shopify.add_order("8302", lines={"32": 1})]
    kept = order_merge(order_ids=[first.pk, second.pk], actor=users["cs1"], note="同一买家，合并发货")
    to_packed(kept, users, warehouses)
    event, message = ship(kept, users, tracking="SF1000000000031")
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    for gid_ in gids:
        (fulfilment,) = shopify.orders[gid_].fulfilments
        assert fulfilment.tracking[0].number == "SF1000000000031"
        assert all(fo.status == "CLOSED" for fo in shopify.orders[gid_].fulfilment_orders.values())
    row = ChannelWriteBack.objects.get(shipment__event=event)
    assert [entry["order"] for entry in row.fulfilments] == gids
    # A re-shipment changes the number on both.
    order_transition(
        kept.pk, "reship", actor=users["wh1"], carrier="zto", tracking_number="73100000000031", note="丢件"
    )
    message = OutboxMessage.objects.get(kind=SHOPIFY_FULFILMENT_WRITE, event__action="reship")
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    assert [shopify.orders[g].fulfilments[0].tracking[0].number for g in gids] == ["73100000000031"] * 2


@pytest.mark.django_db
def test_units_no_longer_on_shopify_fail_clearly(account, shopify, users, warehouses):
    from orders.services.split_merge import order_split
    from tests.factories import channel_order

    order = channel_order("8401", lines=SPLIT_LINES, amount="154.00")
    shopify.add_order("8401", lines={"11": 1, "12": 1})  # Shopify has one tea, we ship two
    tea, _cup = order.lines.order_by("position")
    part = order_split(order_id=order.pk, actor=users["cs1"], lines={tea.pk: 2})
    to_packed(part, users, warehouses)
    _event, message = ship(part, users, tracking="SF1000000000041")
    assert outbox_deliver(message.pk) == OutboxStatus.FAILED
    assert "gid://shopify/LineItem/11 × 1" in OutboxMessage.objects.get(pk=message.pk).last_error
    assert shopify.mutations() == []


@pytest.mark.django_db
def test_a_shop_connected_later_writes_back_its_recent_shipments_once(shopify, packed, users, client):
    from django.urls import reverse

    order = packed()
    _event, message = ship(order, users, tracking="SF1000000000051")
    assert message is None  # no account yet
    shop = shop_default_for_channel("shopify")
    shop.external_shop_id = "later.myshopify.com"
    shop.save()
    account = ShopifyAdminAccount.objects.create(shop=shop, access_token=TOKEN, base_url=shopify.base_url)
    client.force_login(users["tech1"])
    changelist = reverse("admin:integrations_shopifyadminaccount_changelist")
    action = {"action": "write_back_recent_shipments", "_selected_action": [account.pk]}
    assert "1 shipments queued" in client.post(changelist, action, follow=True).content.decode()
    message = OutboxMessage.objects.get(kind=SHOPIFY_FULFILMENT_WRITE)
    assert outbox_deliver(message.pk) == OutboxStatus.DONE
    assert shopify.orders[gid(order)].fulfilments[0].tracking[0].number == "SF1000000000051"
    # Again: nothing more to send.
    assert "0 shipments queued" in client.post(changelist, action, follow=True).content.decode()
    assert OutboxMessage.objects.filter(kind=SHOPIFY_FULFILMENT_WRITE).count() == 1
