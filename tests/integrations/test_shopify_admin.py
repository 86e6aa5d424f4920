"""The Shopify Admin GraphQL adapter (integrations.channels.shopify_admin) against the local
GraphQL server that checks the token, the path and the documents as Shopify would."""

from __future__ import annotations

import pytest

from integrations.channels.shopify_admin import (
    ShopifyAdmin,
    ShopifyAdminCredentials,
    ShopifyGiveUp,
    ShopifyRetryLater,
    ShopifyUserErrors,
    TrackingInfo,
    shopify_order_gid,
    throttle_wait_seconds,
)
from tests.fakes.shopify_admin import FakeShopifyAdmin

TOKEN = "shpat_0123456789abcdef"
TRACKING = TrackingInfo(company="SF Express", number="SF1234567890123", url="https://example.invalid/SF1234567890123")


@pytest.fixture
def shopify():
    with FakeShopifyAdmin(access_token=TOKEN) as fake:
        yield fake


def admin_for(fake: FakeShopifyAdmin, *, token: str = TOKEN, timeout: float = 5.0) -> ShopifyAdmin:
    credentials = ShopifyAdminCredentials(
        shop_domain="hub-test.myshopify.com", access_token=token, api_version="2025-01", base_url=fake.base_url
    )
    return ShopifyAdmin(credentials, timeout=timeout)


def test_the_endpoint_is_the_shops_admin_graphql_url():
    credentials = ShopifyAdminCredentials(shop_domain="tea.myshopify.com", access_token=TOKEN, api_version="2025-01")
    assert credentials.endpoint == "https://tea.myshopify.com/admin/api/2025-01/graphql.json"
    assert TOKEN not in repr(credentials)


def test_order_gid_from_our_external_id():
    assert shopify_order_gid("820982911946154508") == "gid://shopify/Order/820982911946154508"
    assert shopify_order_gid("gid://shopify/Order/5") == "gid://shopify/Order/5"
    with pytest.raises(ShopifyGiveUp, match="not a Shopify order id"):
        shopify_order_gid("TB-1001")


def test_reads_the_orders_fulfilment_orders_with_the_token(shopify):
    gid = shopify.add_order(820982911946154508, fulfilment_orders=2)
    state = admin_for(shopify).order_fulfilments(gid)
    assert [fo.status for fo in state.fulfilment_orders] == ["OPEN", "OPEN"]
    assert state.fulfilments == ()
    (received,) = shopify.requests
    assert received.headers["x-shopify-access-token"] == TOKEN
    assert received.path == "/admin/api/2025-01/graphql.json"
    assert received.operation == "query OrderFulfilments"
    assert received.variables == {"id": gid}


def test_creates_a_fulfilment_over_the_open_fulfilment_orders(shopify):
    gid = shopify.add_order(1001, fulfilment_orders=2)
    admin = admin_for(shopify)
    open_ids = [fo.id for fo in admin.order_fulfilments(gid).fulfillable]
    created = admin.fulfilment_create(fulfilment_order_ids=open_ids, tracking=TRACKING, notify_customer=True)
    assert created.id.startswith("gid://shopify/Fulfillment/") and created.has_number("SF1234567890123")
    sent = shopify.requests[-1]
    assert sent.root_field == "fulfillmentCreate"
    assert sent.variables["fulfillment"] == {
        "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_id} for fo_id in open_ids],
        "notifyCustomer": True,
        "trackingInfo": {"company": "SF Express", "number": "SF1234567890123", "url": TRACKING.url},
    }
    after = admin.order_fulfilments(gid)
    assert after.fulfillable == () and after.fulfilment_with_number("sf1234567890123").id == created.id


def test_updates_the_tracking_of_a_fulfilment(shopify):
    gid = shopify.add_order(1002)
    admin = admin_for(shopify)
    created = admin.fulfilment_create(
        fulfilment_order_ids=[fo.id for fo in admin.order_fulfilments(gid).fulfillable],
        tracking=TRACKING,
        notify_customer=False,
    )
    new = TrackingInfo(company="ZTO Express", number="73100000000011")
    updated = admin.fulfilment_tracking_update(fulfilment_id=created.id, tracking=new, notify_customer=True)
    assert updated.id == created.id and updated.has_number("73100000000011") and not updated.has_number(TRACKING.number)
    assert shopify.requests[-1].variables == {
        "fulfillmentId": created.id,
        "trackingInfoInput": {"company": "ZTO Express", "number": "73100000000011"},
        "notifyCustomer": True,
    }


def test_a_wrong_token_is_given_up_and_never_echoed(shopify):
    gid = shopify.add_order(1003)
    with pytest.raises(ShopifyGiveUp, match="401") as refused:
        admin_for(shopify, token="shpat_wrong_token").order_fulfilments(gid)
    assert "shpat_wrong_token" not in refused.value.message


def test_an_unknown_order_is_given_up(shopify):
    with pytest.raises(ShopifyGiveUp, match="no order gid://shopify/Order/404"):
        admin_for(shopify).order_fulfilments("gid://shopify/Order/404")


@pytest.mark.parametrize("answer", ["throttled", "throttled_429"])
def test_throttled_is_retried_when_the_bucket_has_refilled(shopify, answer):
    gid = shopify.add_order(1004)
    shopify.throttle_status = (2.0, 50.0)  # the query asks 12 points: (12 - 2) / 50 = 0.2 s
    shopify.answers.append(answer)
    with pytest.raises(ShopifyRetryLater, match="throttled") as throttled:
        admin_for(shopify).order_fulfilments(gid)
    assert throttled.value.retry_after == pytest.approx(0.2)


def test_the_throttle_wait_comes_from_the_cost_extension():
    cost = {"requestedQueryCost": 502, "throttleStatus": {"currentlyAvailable": 2.0, "restoreRate": 100.0}}
    assert throttle_wait_seconds({"cost": cost}) == 5.0
    # Enough already (a race with the restore): a short wait, never zero or negative.
    cost["throttleStatus"]["currentlyAvailable"] = 900.0
    assert throttle_wait_seconds({"cost": cost}) == 0.1
    # No cost extension at all: a second, Shopify's standard restore of any of our queries.
    assert throttle_wait_seconds(None) == 1.0
    assert throttle_wait_seconds({"cost": {"requestedQueryCost": 1e9, "throttleStatus": cost["throttleStatus"]}}) == 60


@pytest.mark.parametrize("answer", ["server_error", "bad_json"])
def test_server_trouble_is_retried_with_the_outbox_back_off(shopify, answer):
    gid = shopify.add_order(1005)
    shopify.answers.append(answer)
    with pytest.raises(ShopifyRetryLater) as trouble:
        admin_for(shopify).order_fulfilments(gid)
    assert trouble.value.retry_after is None


def test_no_answer_is_retried(shopify):
    gid = shopify.add_order(1006)
    shopify.answers.append("timeout")
    with pytest.raises(ShopifyRetryLater, match="no answer"):
        admin_for(shopify, timeout=0.3).order_fulfilments(gid)


def test_user_errors_are_given_up_with_shopifys_words(shopify):
    gid = shopify.add_order(1007)
    admin = admin_for(shopify)
    admin.fulfilment_create(
        fulfilment_order_ids=[fo.id for fo in admin.order_fulfilments(gid).fulfillable],
        tracking=TRACKING,
        notify_customer=False,
    )
    closed = [fo.id for fo in admin.order_fulfilments(gid).fulfilment_orders]
    with pytest.raises(ShopifyUserErrors, match="unfulfillable status= closed"):
        admin.fulfilment_create(fulfilment_order_ids=closed, tracking=TRACKING, notify_customer=False)


def test_the_fake_refuses_a_document_shopify_would_refuse(shopify):
    """The fake is strict: a wrong variable type or an unknown input field is an error, so the
    adapter's documents are checked, not just echoed."""
    import requests

    url = f"{shopify.base_url}/admin/api/2025-01/graphql.json"
    headers = {"X-Shopify-Access-Token": TOKEN, "Content-Type": "application/json"}
    payload = "{ fulfillment { id } userErrors { field message } }"
    wrong_type = f"mutation M($f: FulfillmentV2Input!) {{ fulfillmentCreate(fulfillment: $f) {payload} }}"
    answer = requests.post(url, json={"query": wrong_type, "variables": {"f": {}}}, headers=headers, timeout=5).json()
    assert answer["errors"][0]["extensions"]["code"] == "variableMismatch"
    unknown_field = f"mutation M($f: FulfillmentInput!) {{ fulfillmentCreate(fulfillment: $f) {payload} }}"
    bad_input = {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": "x"}], "trackingNumber": "1"}
    answer = requests.post(
        url, json={"query": unknown_field, "variables": {"f": bad_input}}, headers=headers, timeout=5
    ).json()
    assert answer["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    not_there = "mutation M($id: ID!) { fulfillmentCreateV3(id: $id) { userErrors { field message } } }"
    answer = requests.post(url, json={"query": not_there, "variables": {"id": "1"}}, headers=headers, timeout=5).json()
    assert answer["errors"][0]["extensions"]["code"] == "undefinedField"
