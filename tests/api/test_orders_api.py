"""The open API's orders: list (filters, keyset cursor), detail, actions through the
transition service, and what a token may and may not do."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from api.models import ApiClient
from api.services.clients import api_client_revoke, token_hash
from orders.models import Order, OrderEvent
from orders.services.transition import order_transition
from orders.states import Role

pytestmark = pytest.mark.django_db


def test_list_pages_newest_first_with_a_cursor_until_the_end(make_caller, make_order):
    numbers = [make_order("paid").number for _ in range(5)]
    caller = make_caller(Role.OPERATIONS)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = caller.get("/api/v1/orders", **params)
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [row["number"] for row in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(numbers))


def test_a_row_added_while_paging_does_not_shift_the_pages(make_caller, make_order):
    first = [make_order("paid").number for _ in range(3)]
    caller = make_caller(Role.OPERATIONS)
    page1 = caller.get("/api/v1/orders", limit=2).json()
    make_order("paid")  # newer than everything: never on a later page
    page2 = caller.get("/api/v1/orders", limit=2, cursor=page1["next_cursor"]).json()
    assert [r["number"] for r in page1["items"] + page2["items"]] == list(reversed(first))


def test_filters_of_the_boards(make_caller, make_order, brands):
    paid_alpha = make_order("paid", shop=brands["alpha"])
    make_order("allocated", shop=brands["beta"])
    caller = make_caller(Role.OPERATIONS)
    by_status = caller.get("/api/v1/orders", main_status="pending_review").json()["items"]
    assert [r["number"] for r in by_status] == [paid_alpha.number]
    by_brand = caller.get("/api/v1/orders", brand="alpha").json()["items"]
    assert [r["number"] for r in by_brand] == [paid_alpha.number]
    assert by_brand[0]["brand"] == "alpha"
    found = caller.get("/api/v1/orders", q=paid_alpha.number.lower()).json()["items"]
    assert [r["number"] for r in found] == [paid_alpha.number]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"brand": "nobody"}, "invalid_filter"),
        ({"warehouse": "nowhere"}, "invalid_filter"),
        ({"main_status": "lost"}, "invalid_request"),
        ({"limit": 0}, "invalid_request"),
        ({"limit": 201}, "invalid_request"),
    ],
)
def test_bad_list_parameters_are_a_clear_422(make_caller, params, code):
    response = make_caller(Role.OPERATIONS).get("/api/v1/orders", **params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_detail_has_lines_shipments_and_the_timeline(make_caller, make_order):
    order = make_order("shipped")
    body = make_caller(Role.WAREHOUSE).get(f"/api/v1/orders/{order.number}").json()
    assert body["number"] == order.number
    assert body["version"] == order.version
    assert [s["tracking_number"] for s in body["shipments"]] == list(
        order.shipments.values_list("tracking_number", flat=True)
    )
    assert [e["action"] for e in body["events"]] == list(
        OrderEvent.objects.filter(order=order).order_by("occurred_at", "id").values_list("action", flat=True)
    )
    assert "pick_up" in body["available_actions"]


def test_a_token_of_brand_a_never_sees_brand_b(make_caller, make_order, brands):
    mine = make_order("paid", shop=brands["alpha"])
    theirs = make_order("paid", shop=brands["beta"])
    caller = make_caller(Role.CUSTOMER_SERVICE, brands=[brands["alpha"].brand])
    listed = {r["number"] for r in caller.get("/api/v1/orders", limit=200).json()["items"]}
    assert listed == {mine.number}
    assert caller.get(f"/api/v1/orders/{theirs.number}").status_code == 404
    # Asked by brand, by number, or acted on: nothing of B shows, nothing of B changes.
    assert caller.get("/api/v1/orders", brand="beta").status_code == 422
    assert caller.get("/api/v1/orders", q=theirs.number).json()["items"] == []
    response = caller.post(f"/api/v1/orders/{theirs.number}/actions/approve", {"expected_version": theirs.version})
    assert response.status_code == 404
    assert Order.objects.get(pk=theirs.pk).state == "paid"
    # The same answer as for an order that does not exist.
    assert caller.get("/api/v1/orders/OH20990101-99999").json()["error"]["code"] == "not_found"


def test_an_action_goes_through_the_transition_service_with_the_client_as_actor(make_caller, make_order):
    order = make_order("paid")
    caller = make_caller(Role.CUSTOMER_SERVICE, brands=[order.shop.brand], name="ERP 接口")
    response = caller.post(f"/api/v1/orders/{order.number}/actions/approve", {"expected_version": order.version})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["order"]["state"] == "reviewed"
    assert body["order"]["version"] == order.version + 1
    event = OrderEvent.objects.get(pk=body["event"]["id"])
    assert event.action == "approve"
    assert event.actor == caller.api_client.service_user
    assert event.actor_name == "ERP 接口"
    assert event.actor_role == Role.CUSTOMER_SERVICE


def test_a_stale_version_is_409_naming_who_changed_it_and_when(make_caller, make_order, users):
    order = make_order("paid")
    order_transition(order.pk, "approve", actor=users["ops1"], expected_version=order.version)
    response = make_caller(Role.OPERATIONS).post(
        f"/api/v1/orders/{order.number}/actions/flag_risk", {"expected_version": order.version, "note": "odd"}
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "stale_version"
    assert error["expected_version"] == order.version
    assert error["current_version"] == order.version + 1
    assert "刘洋" in error["changed_by"]
    assert error["changed_at"]
    assert Order.objects.get(pk=order.pk).state == "reviewed"


def test_an_illegal_move_is_409_and_missing_data_422(make_caller, make_order):
    order = make_order("paid")
    caller = make_caller(Role.WAREHOUSE)
    response = caller.post(f"/api/v1/orders/{order.number}/actions/pack", {"expected_version": order.version})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "illegal_transition"
    response = caller.post(f"/api/v1/orders/{order.number}/actions/ship", {"expected_version": order.version})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_action_data"
    response = caller.post(f"/api/v1/orders/{order.number}/actions/fly", {"expected_version": order.version})
    assert response.status_code == 422
    assert Order.objects.get(pk=order.pk).version == order.version


def test_an_action_the_role_may_not_take_is_403(make_caller, make_order):
    order = make_order("paid")
    response = make_caller(Role.FINANCE).post(
        f"/api/v1/orders/{order.number}/actions/approve", {"expected_version": order.version}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert Order.objects.get(pk=order.pk).state == "paid"


def test_no_token_a_wrong_one_and_a_revoked_one_are_401(make_caller, users):
    caller = make_caller(Role.OPERATIONS)
    assert caller.get("/api/v1/me").status_code == 200
    for token in ("", "ohk_nothing_here", caller.token + "x", "Basic abc"):
        caller_with = type(caller)(token=token, client=caller.client)
        response = caller_with.get("/api/v1/me")
        assert response.status_code == 401, token
        assert response.json()["error"]["code"] == "unauthorized"
        assert response["WWW-Authenticate"].startswith("Bearer")
    api_client_revoke(client_id=caller.api_client.pk, actor=users["tech1"])
    assert caller.get("/api/v1/me").status_code == 401


def test_the_token_is_stored_only_as_its_hash_and_last_use_is_shown(make_caller):
    caller = make_caller(Role.OPERATIONS)
    client = ApiClient.objects.get(pk=caller.api_client.pk)
    assert client.last_used_at is None
    assert client.token_hash == token_hash(caller.token)
    assert caller.token not in str(ApiClient.objects.filter(pk=client.pk).values().get())
    caller.get("/api/v1/me")
    assert ApiClient.objects.get(pk=client.pk).last_used_at is not None


def test_over_the_limit_is_429_with_retry_after(make_caller):
    caller = make_caller(Role.OPERATIONS, rate_limit=3)
    # 20 s into a minute, the clock held: the window cannot turn between the calls.
    with time_machine.travel(dt.datetime(2026, 1, 28, 6, 22, 20, tzinfo=dt.UTC), tick=False):
        statuses = [caller.get("/api/v1/me").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        response = caller.get("/api/v1/me")
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "rate_limited"
        assert response["Retry-After"] == "40"
        # Another client has its own budget.
        assert make_caller(Role.OPERATIONS, name="other").get("/api/v1/me").status_code == 200
    # The next minute is a new window.
    with time_machine.travel(dt.datetime(2026, 1, 28, 6, 23, 1, tzinfo=dt.UTC), tick=False):
        assert caller.get("/api/v1/me").status_code == 200


def test_the_document_and_the_docs_page_are_served(client):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.")
    assert "/api/v1/orders/{number}/actions/{action}" in document.json()["paths"]
    assert client.get("/api/v1/docs").status_code == 200
