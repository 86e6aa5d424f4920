"""The board pages (customer service, warehouse, operations) and their live fragment: which
orders each shows and in which order, the filters and the one search box, stale and priority
marks, who may open what, one-tap transitions, the 204 poll, constant query counts, and (on
PostgreSQL) that the board and search queries run on their indexes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEvent, Shipment
from orders.selectors import BoardClock, board_change_token, order_list_for_warehouse_board, order_search
from orders.services.orders import order_update_details
from orders.services.transition import order_transition

# The hub settings' other fields, as the admin form posts them.
HUB_SETTINGS_REST = {"amount_anomaly_factor": 5, "duplicate_window_hours": 6}

pytestmark = pytest.mark.django_db

CS, WAREHOUSE, OPS = "/boards/cs/", "/boards/warehouse/", "/boards/ops/"
# How the demo users appear in messages (orders.demo.DEMO_USERS; the test settings use English).
WHO = {
    "cs1": "张明 (Customer service)",
    "cs2": "李娜 (Customer service)",
    "wh1": "王强 (Warehouse)",
    "ops1": "刘洋 (Operations)",
}


def rows_url(board: str) -> str:
    return reverse("orders:board_rows", args=[board])


def tap_url(order, action: str) -> str:
    return reverse("orders:board_transition", args=[order.number, action])


def numbers(html: str) -> list[str]:
    """The order numbers of the cards on a page, top to bottom."""
    return re.findall(r'<article\b[^>]*\bid="order-([A-Z0-9-]+)"', html)


def _card_tag(html: str, order) -> re.Match:
    match = re.search(rf'<article\b[^>]*\bid="order-{re.escape(order.number)}"[^>]*>', html)
    assert match, f"{order.number} is not on the page"
    return match


def card_classes(html: str, order) -> set[str]:
    return set(re.search(r'\bclass="([^"]*)"', _card_tag(html, order).group(0)).group(1).split())


def card_html(html: str, order) -> str:
    start = _card_tag(html, order).start()
    return html[start : html.index("</article>", start)]


def group_counts(html: str) -> dict[str, int]:
    """The warehouse page's stage counts, from the links above the groups."""
    nav = html[html.index('class="oh-groups"') :]
    nav = nav[: nav.index("</nav>")]
    links = re.findall(r'<a\b[^>]*\bdata-stage="([a-z_]+)"[^>]*>(.*?)</a>', nav, re.S)
    return {stage: int(re.search(r"<strong>(\d+)</strong>", inner).group(1)) for stage, inner in links}


def page_token(html: str) -> str:
    return re.search(r'<section\b[^>]*\bid="board-rows"[^>]*\bdata-token="([^"]+)"', html).group(1)


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def ago(**delta):
    return timezone.now() - timedelta(**delta)


def age_state(order, **delta) -> None:
    """The order has waited this long in its state (allowed: only state/version are guarded)."""
    Order.objects.filter(pk=order.pk).update(state_changed_at=ago(**delta))


def event_count(order) -> int:
    return OrderEvent.objects.filter(order_id=order.pk).count()


@pytest.fixture
def login(client, users):
    def as_user(username):
        client.force_login(users[username])
        return client

    return as_user


@pytest.fixture
def page(login):
    def get(username, url, params=None, status=200):
        response = login(username).get(url, params or {})
        assert response.status_code == status, (username, url, params, response.status_code)
        return response.content.decode()

    return get


# ---------------------------------------------------------------------------------------------
# What each page lists, in which order


def test_cs_page_lists_pending_review_and_awaiting_shipment_newest_first(page, make_order):
    oldest = make_order("paid", ordered_at=ago(hours=5))
    newest = make_order("submitted", ordered_at=ago(minutes=5))
    middle = make_order("packed", ordered_at=ago(hours=2))
    held = make_order("risk_hold", ordered_at=ago(hours=3))
    allocated = make_order("allocated", ordered_at=ago(hours=4))
    for state in ("reviewed", "shipped", "delivered", "cancelled"):
        make_order(state, ordered_at=ago(minutes=1))
    assert numbers(page("cs1", CS)) == [n.number for n in (newest, middle, held, allocated, oldest)]


def test_warehouse_page_groups_by_stage_priority_lane_first_then_oldest(page, make_order):
    packing_old = make_order("allocated", ordered_at=ago(hours=5))
    packing_priority = make_order("allocated", amount="899.00", ordered_at=ago(hours=1))
    packing_new = make_order("allocated", ordered_at=ago(hours=3))
    labelling = make_order("packed", ordered_at=ago(hours=9))
    pickup_old = make_order("shipped", ordered_at=ago(hours=6))
    pickup_priority = make_order("shipped", amount="1299.00", ordered_at=ago(hours=2))
    for state in ("paid", "reviewed", "picked_up", "delivered"):
        make_order(state)
    html = page("wh1", WAREHOUSE)
    expected = [packing_priority, packing_old, packing_new, labelling, pickup_priority, pickup_old]
    assert numbers(html) == [o.number for o in expected]
    assert group_counts(html) == {"packing": 3, "labelling": 1, "awaiting_pickup": 2}
    # The awaiting-pickup card shows the tracking number it waits with.
    tracking = pickup_old.shipments.get().tracking_number
    assert tracking in card_html(html, pickup_old)


def test_warehouse_group_counts_follow_the_filters_but_not_the_stage_picked(page, make_order):
    make_order("allocated", amount="899.00")
    make_order("allocated")
    labelling = make_order("packed")
    make_order("shipped", amount="899.00")
    html = page("wh1", WAREHOUSE, {"warehouse_stage": "labelling"})
    assert numbers(html) == [labelling.number]
    assert group_counts(html) == {"packing": 2, "labelling": 1, "awaiting_pickup": 1}
    html = page("wh1", WAREHOUSE, {"priority": "1"})
    assert group_counts(html) == {"packing": 1, "labelling": 0, "awaiting_pickup": 1}
    assert len(numbers(html)) == 2


def test_ops_page_lists_stale_contested_and_held_orders_longest_waiting_first(page, make_order):
    stale = make_order("packed")
    age_state(stale, hours=5)
    held = make_order("risk_hold")
    age_state(held, minutes=30)
    # customer service approved, the warehouse shipped, finance asked for the invoice: 3 roles.
    contested = make_order("invoice_requested")
    age_state(contested, minutes=10)
    fresh = make_order("paid")
    two_roles = make_order("delivered")  # customer service and the warehouse only
    archived = make_order("archived")  # three roles, but closed: nothing to untangle
    delivered_long_ago = make_order("delivered")
    age_state(delivered_long_ago, days=3)  # waiting on nobody: never stale
    html = page("ops1", OPS)
    assert numbers(html) == [stale.number, held.number, contested.number]
    for order in (fresh, two_roles, archived, delivered_long_ago):
        assert order.number not in html
    assert "oh-stale" in card_classes(html, stale)
    assert "oh-badge-conflict" in card_html(html, contested)
    assert "oh-badge-conflict" not in card_html(html, held)
    assert "oh-stale" not in card_classes(html, held)


def test_ops_kind_filter(page, make_order):
    stale = make_order("allocated")
    age_state(stale, hours=3)
    held = make_order("risk_hold")
    contested = make_order("invoice_requested")
    assert numbers(page("ops1", OPS, {"kind": "stale"})) == [stale.number]
    assert numbers(page("ops1", OPS, {"kind": "risk_hold"})) == [held.number]
    assert numbers(page("ops1", OPS, {"kind": "conflicting"})) == [contested.number]
    assert set(numbers(page("ops1", OPS, {"kind": ""}))) == {stale.number, held.number, contested.number}


# ---------------------------------------------------------------------------------------------
# Filters and search


def test_cs_page_starts_from_my_orders(page, make_order):
    mine = make_order("paid", cs_owner="cs1")
    theirs = make_order("paid", cs_owner="cs2")
    nobody = make_order("paid", cs_owner=None)
    assert numbers(page("cs1", CS)) == [mine.number]
    assert numbers(page("cs2", CS)) == [theirs.number]
    # Another filter alone still means "mine".
    assert numbers(page("cs1", CS, {"channel": "shopify"})) == [mine.number]
    assert numbers(page("cs1", CS, {"owner": "unassigned"})) == [nobody.number]
    assert set(numbers(page("cs1", CS, {"owner": "all"}))) == {mine.number, theirs.number, nobody.number}


def test_cs_page_filters_channel_status_priority_and_stale(page, make_order):
    shopify = make_order("paid", channel="shopify")
    amazon = make_order("paid", channel="amazon", amount="899.00")
    waiting = make_order("allocated", channel="amazon")
    age_state(waiting, hours=4)
    assert set(numbers(page("cs1", CS, {"channel": "amazon"}))) == {amazon.number, waiting.number}
    assert numbers(page("cs1", CS, {"main_status": "awaiting_shipment"})) == [waiting.number]
    assert set(numbers(page("cs1", CS, {"main_status": "pending_review"}))) == {shopify.number, amazon.number}
    assert numbers(page("cs1", CS, {"priority": "1"})) == [amazon.number]
    assert set(numbers(page("cs1", CS, {"priority": "0"}))) == {shopify.number, waiting.number}
    assert numbers(page("cs1", CS, {"stale": "yes"})) == [waiting.number]
    assert set(numbers(page("cs1", CS, {"stale": "no"}))) == {shopify.number, amazon.number}
    # A value that is not a choice shows nothing rather than everything.
    assert numbers(page("cs1", CS, {"channel": "ebay"})) == []


def test_search_box_finds_what_a_customer_quotes(page, make_order):
    target = make_order(
        "paid",
        channel="amazon",
        external_id="113-5550101-7788",
        buyer_email="wei.zhang@example.com",
        buyer_phone="13812345678",
    )
    other = make_order("paid", external_id="113-0000000-0000", buyer_phone="13900000000")

    def found(term):
        return numbers(page("cs1", CS, {"q": term}))

    assert found(target.number) == [target.number]
    assert found(target.number.lower()) == [target.number]
    assert found(f"  {target.number}\n") == [target.number]
    assert found("113-5550101-7788") == [target.number]
    assert found("wei.zhang@example.com") == [target.number]
    assert found("Wei.Zhang@Example.com") == [target.number]
    assert found("13812345678") == [target.number]
    # Exact matches only: a fragment finds nothing.
    assert found("113-5550101") == []
    assert found("138123") == []
    assert other.number in page("cs1", CS)


def test_warehouse_search_by_tracking_number(page, make_order):
    shipped = make_order("shipped")
    make_order("shipped")
    tracking = shipped.shipments.get().tracking_number
    assert numbers(page("wh1", WAREHOUSE, {"q": tracking})) == [shipped.number]
    # Typed by hand in lower case, as the ship form also accepts it.
    assert numbers(page("wh1", WAREHOUSE, {"q": tracking.lower()})) == [shipped.number]
    assert numbers(page("wh1", WAREHOUSE, {"q": tracking[:-1]})) == []


def test_ops_search_and_channel(page, make_order):
    stale_amazon = make_order("packed", channel="amazon", external_id="AMZ-STALE-1")
    stale_shopify = make_order("packed", channel="shopify")
    for order in (stale_amazon, stale_shopify):
        age_state(order, hours=6)
    assert numbers(page("ops1", OPS, {"channel": "amazon"})) == [stale_amazon.number]
    assert numbers(page("ops1", OPS, {"q": "AMZ-STALE-1"})) == [stale_amazon.number]
    assert numbers(page("ops1", OPS, {"q": stale_shopify.number.lower()})) == [stale_shopify.number]


# ---------------------------------------------------------------------------------------------
# Stale and priority marks


def test_stale_card_is_red_and_priority_badge_shown(page, make_order):
    waiting = make_order("paid", amount="899.00")
    fresh = make_order("paid")
    age_state(waiting, minutes=121)
    html = page("cs1", CS)
    assert {"oh-stale", "oh-priority"} <= card_classes(html, waiting)
    assert "oh-badge-priority" in card_html(html, waiting)
    assert "oh-badge-stale" in card_html(html, waiting)
    assert "oh-stale" not in card_classes(html, fresh)
    assert "oh-badge-priority" not in card_html(html, fresh)


def test_states_nobody_owes_are_never_stale(page, make_order):
    submitted = make_order("submitted")  # the buyer has not paid
    age_state(submitted, days=2)
    html = page("cs1", CS)
    assert "oh-stale" not in card_classes(html, submitted)


def test_stale_threshold_edited_in_hub_settings_applies_on_the_next_request(page, make_order, login, users):
    from orders.models import HubSettings
    from orders.selectors import hub_settings_get

    order = make_order("paid")
    age_state(order, minutes=45)
    assert "oh-stale" not in card_classes(page("cs1", CS), order)

    settings_row = hub_settings_get()
    ops = login("ops1")
    url = reverse("admin:orders_hubsettings_change", args=[settings_row.pk])
    assert ops.get(url).status_code == 200
    response = ops.post(
        url,
        {
            "stale_after_minutes": 30,
            "conflict_role_count": 3,
            "conflict_window_hours": 24,
            "archive_after_days": 15,
            **HUB_SETTINGS_REST,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    assert "oh-stale" in card_classes(page("cs1", CS), order)
    record = HubSettings.history.order_by("-history_id").first()
    assert (record.stale_after_minutes, record.history_user) == (30, users["ops1"])


# ---------------------------------------------------------------------------------------------
# Who may open what


@pytest.mark.parametrize(
    ("username", "cs", "warehouse", "ops"),
    [
        ("cs1", 200, 403, 403),
        ("cs2", 200, 403, 403),
        ("wh1", 403, 200, 403),
        ("fin1", 403, 403, 403),
        ("ops1", 200, 200, 200),
        ("tech1", 403, 403, 403),
    ],
)
def test_each_role_opens_only_its_pages(login, username, cs, warehouse, ops):
    client = login(username)
    got = {
        "cs": client.get(CS).status_code,
        "warehouse": client.get(WAREHOUSE).status_code,
        "ops": client.get(OPS).status_code,
        "cs rows": client.get(rows_url("cs")).status_code,
        "warehouse rows": client.get(rows_url("warehouse")).status_code,
        "ops rows": client.get(rows_url("ops")).status_code,
    }
    expected = {"cs": cs, "warehouse": warehouse, "ops": ops}
    expected.update({f"{k} rows": v for k, v in list(expected.items())})
    assert got == expected


def test_finance_has_no_page_but_its_admin_list(login):
    client = login("fin1")
    assert client.get(reverse("admin:finance_invoicerequest_changelist")).status_code == 200


def test_anonymous_is_sent_to_login(client, make_order):
    order = make_order("paid")
    login_url = reverse("admin:login")
    for url in (CS, WAREHOUSE, OPS, rows_url("cs")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(login_url)
    response = client.post(tap_url(order, "approve"), {"expected_version": order.version})
    assert response.status_code == 302 and response["Location"].startswith(login_url)
    assert Order.objects.get(pk=order.pk).state == "paid"


def test_unknown_board_is_404(login):
    assert login("ops1").get(rows_url("finance")).status_code == 404


def test_another_roles_action_cannot_be_reached_by_url(login, make_order):
    paid, allocated = make_order("paid"), make_order("allocated")
    before = {o.pk: (o.state, o.version, event_count(o)) for o in (paid, allocated)}

    wh = login("wh1")
    response = wh.post(tap_url(paid, "approve"), {"expected_version": paid.version, "next": WAREHOUSE})
    assert response.status_code == 302
    assert any("may not take the action" in m for m in flash(response))

    cs = login("cs1")
    response = cs.post(tap_url(allocated, "pack"), {"expected_version": allocated.version, "next": CS})
    assert any("may not take the action" in m for m in flash(response))
    # Nor a transition that does not exist.
    response = cs.post(tap_url(paid, "teleport"), {"expected_version": paid.version, "next": CS})
    assert any("teleport" in m for m in flash(response))

    for order in (paid, allocated):
        fresh = Order.objects.get(pk=order.pk)
        assert (fresh.state, fresh.version, event_count(fresh)) == before[order.pk]


def test_taps_are_post_only(login, make_order):
    order = make_order("allocated")
    assert login("wh1").get(tap_url(order, "pack")).status_code == 405
    assert Order.objects.get(pk=order.pk).state == "allocated"


# ---------------------------------------------------------------------------------------------
# One tap


def test_warehouse_packs_ships_with_a_scanned_number_and_hands_over(login, make_order, users):
    order = make_order("allocated")
    wh = login("wh1")
    html = wh.get(WAREHOUSE).content.decode()
    assert 'data-action="pack"' in card_html(html, order)

    response = wh.post(tap_url(order, "pack"), {"expected_version": order.version, "next": WAREHOUSE})
    assert response["Location"] == WAREHOUSE
    assert any(f"{WHO['wh1']} packed" in m for m in flash(response))
    packed = Order.objects.get(pk=order.pk)
    assert (packed.state, packed.version) == ("packed", order.version + 1)
    last = OrderEvent.objects.filter(order=order).last()
    assert (last.action, last.actor, last.order_version) == ("pack", users["wh1"], packed.version)

    # A handheld scanner: the code with stray spaces and the Enter it sends.
    response = wh.post(
        tap_url(order, "ship"),
        {
            "expected_version": packed.version,
            "carrier": "zto",
            "tracking_number": "  zt7700112233\r\n",
            "next": WAREHOUSE,
        },
    )
    shipped = Order.objects.get(pk=order.pk)
    assert (shipped.state, shipped.version) == ("shipped", packed.version + 1), flash(response)
    shipment = Shipment.objects.get(order=order)
    assert (shipment.carrier, shipment.tracking_number, shipment.created_by) == ("zto", "ZT7700112233", users["wh1"])
    # The carrier chosen last is the default on the next ship form.
    other = make_order("packed")
    assert '<option value="zto" selected>' in card_html(wh.get(WAREHOUSE).content.decode(), other)

    wh.post(tap_url(order, "pick_up"), {"expected_version": shipped.version, "next": WAREHOUSE})
    picked = Order.objects.get(pk=order.pk)
    assert (picked.state, picked.version) == ("picked_up", shipped.version + 1)
    assert OrderEvent.objects.filter(order=order, action="pick_up", actor=users["wh1"]).count() == 1


def test_a_tap_from_an_old_page_is_refused_naming_who_changed_it(login, make_order, users):
    order = make_order("allocated")
    shown = order.version
    order_update_details(order_id=order.pk, actor=users["ops1"], expected_version=None, priority=1)
    events = event_count(order)
    response = login("wh1").post(tap_url(order, "pack"), {"expected_version": shown, "next": WAREHOUSE})
    [message] = flash(response)
    assert f"was changed by {WHO['ops1']}" in message
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.state, fresh.version, event_count(fresh)) == ("allocated", shown + 1, events)


def test_a_used_tracking_number_is_refused(login, make_order):
    first, second = make_order("shipped"), make_order("packed")
    used = first.shipments.get()
    events = event_count(second)
    response = login("wh1").post(
        tap_url(second, "ship"),
        {"expected_version": second.version, "carrier": used.carrier, "tracking_number": used.tracking_number},
    )
    [message] = flash(response)
    assert used.tracking_number in message and f"already used by order {first.number}" in message
    fresh = Order.objects.get(pk=second.pk)
    assert (fresh.state, fresh.version, event_count(fresh)) == ("packed", second.version, events)
    assert not Shipment.objects.filter(order=second).exists()


def test_ship_without_a_tracking_number_changes_nothing(login, make_order):
    order = make_order("packed")
    response = login("wh1").post(tap_url(order, "ship"), {"expected_version": order.version, "carrier": "sf"})
    assert flash(response)
    assert Order.objects.get(pk=order.pk).state == "packed"


def test_take_assigns_the_order_to_me(login, make_order, users):
    order = make_order("paid", cs_owner=None)
    html = login("cs2").get(CS, {"owner": "unassigned"}).content.decode()
    assert tap_url(order, "take") in card_html(html, order)
    response = login("cs2").post(tap_url(order, "take"), {"expected_version": order.version, "next": CS})
    assert response.status_code == 302
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.cs_owner, fresh.version, fresh.state) == (users["cs2"], order.version + 1, "paid")
    last = OrderEvent.objects.filter(order=order).last()
    assert (last.action, last.actor) == ("details_updated", users["cs2"])
    assert numbers(login("cs2").get(CS).content.decode()) == [order.number]


def test_take_is_refused_to_roles_that_cannot_edit_orders(login, make_order):
    order = make_order("paid", cs_owner=None)
    response = login("wh1").post(tap_url(order, "take"), {"expected_version": order.version})
    assert any("may not" in m for m in flash(response))
    fresh = Order.objects.get(pk=order.pk)
    assert (fresh.cs_owner, fresh.version) == (None, order.version)


def test_hold_needs_a_reason(login, make_order):
    order = make_order("paid")
    cs = login("cs1")
    response = cs.post(tap_url(order, "flag_risk"), {"expected_version": order.version, "note": "  "})
    assert any("reason" in m for m in flash(response))
    assert Order.objects.get(pk=order.pk).state == "paid"
    cs.post(tap_url(order, "flag_risk"), {"expected_version": order.version, "note": "收货地址可疑"})
    assert Order.objects.get(pk=order.pk).state == "risk_hold"
    assert OrderEvent.objects.filter(order=order, action="flag_risk").get().note == "收货地址可疑"


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example.com/boards/cs/", "//evil.example.com/", "http://evil.example.com", "javascript:alert(1)"],
)
def test_next_refuses_foreign_hosts(login, make_order, next_url):
    order = make_order("paid")
    response = login("cs1").post(tap_url(order, "approve"), {"expected_version": order.version, "next": next_url})
    assert response["Location"] == reverse("admin:index")
    assert Order.objects.get(pk=order.pk).state == "reviewed"


def test_next_keeps_the_board_and_its_filters(login, make_order):
    order = make_order("paid")
    back = f"{CS}?owner=all&channel=shopify"
    response = login("cs1").post(tap_url(order, "approve"), {"expected_version": order.version, "next": back})
    assert response["Location"] == back


# ---------------------------------------------------------------------------------------------
# Live rows


def _minute() -> int:
    return int(timezone.now().timestamp() // 60)


def _page_then_poll(client, board: str, url: str, params: dict):
    """Open the page and poll with its token at once. The token carries the minute (so stale
    rows turn red by themselves): retry if the clock turned a minute in between."""
    for _attempt in range(3):
        started = _minute()
        token = page_token(client.get(url, params).content.decode())
        response = client.get(rows_url(board), {**params, "since": token})
        if _minute() == started:
            return token, response
    pytest.fail("the minute turned three times in a row")


def test_poll_is_204_until_someone_changes_something(login, make_order, users):
    watched = make_order("paid", cs_owner="cs1")
    client = login("cs1")
    token, response = _page_then_poll(client, "cs", CS, {"owner": "all"})
    assert response.status_code == 204
    assert response.content == b""

    order_transition(watched.pk, "flag_risk", actor=users["cs2"], note="电话核实地址")
    response = client.get(rows_url("cs"), {"owner": "all", "since": token})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-state="risk_hold"' in card_html(html, watched)
    assert page_token(html) != token


def test_poll_without_a_token_gets_the_rows_with_the_filters(login, make_order):
    mine = make_order("paid", cs_owner="cs1")
    theirs = make_order("paid", cs_owner="cs2")
    html = login("cs1").get(rows_url("cs")).content.decode()
    assert numbers(html) == [mine.number]
    html = login("cs1").get(rows_url("cs"), {"owner": "cs2-is-not-a-choice"}).content.decode()
    assert theirs.number not in html


def test_token_changes_when_an_order_is_created(login, make_order):
    make_order("paid")
    client = login("cs1")
    token, response = _page_then_poll(client, "cs", CS, {})
    assert response.status_code == 204
    before = board_change_token()
    new = make_order("submitted")
    assert board_change_token() != before
    response = client.get(rows_url("cs"), {"since": token})
    assert response.status_code == 200
    assert new.number in numbers(response.content.decode())


def test_warehouse_poll_after_a_pack_shows_the_order_in_its_new_stage(login, make_order, users):
    order = make_order("allocated")
    client = login("wh1")
    token, response = _page_then_poll(client, "warehouse", WAREHOUSE, {})
    assert response.status_code == 204
    order_transition(order.pk, "pack", actor=users["wh1"])
    html = client.get(rows_url("warehouse"), {"since": token}).content.decode()
    labelling = html[html.index('id="stage-labelling"') :]
    labelling = labelling[: labelling.index("</section>")]
    assert numbers(labelling) == [order.number]
    assert group_counts(html) == {"packing": 0, "labelling": 1, "awaiting_pickup": 0}


# ---------------------------------------------------------------------------------------------
# Constant query counts


BOARD_REQUESTS = [
    ("cs1", CS, {}),
    ("ops1", CS, {"owner": "all"}),
    ("wh1", WAREHOUSE, {}),
    ("ops1", OPS, {}),
    ("cs1", rows_url("cs"), {"owner": "all"}),
    ("wh1", rows_url("warehouse"), {}),
    ("ops1", rows_url("ops"), {}),
    ("ops1", reverse("admin:orders_customerserviceboard_changelist"), {}),
    ("wh1", reverse("admin:orders_warehouseboard_changelist"), {}),
    ("ops1", reverse("admin:orders_operationsboard_changelist"), {}),
]


def _rows_shown(html: str) -> int:
    return len(numbers(html)) or html.count('class="orderhub-timeline-link"')


def _measure(client, users) -> tuple[dict, dict]:
    counts, rows = {}, {}
    for username, url, params in BOARD_REQUESTS:
        client.force_login(users[username])
        client.get(url, params)  # warm the per-process caches (content types, translations)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)
        assert response.status_code == 200, (username, url)
        key = f"{username} {url} {params}"
        counts[key] = len(queries)
        rows[key] = _rows_shown(response.content.decode())
    return counts, rows


def _board_mix(make_order, index: int):
    """One order of a varied mix: every board, owners, priority, stale, gifts, shipments."""
    state = ["paid", "risk_hold", "allocated", "packed", "shipped", "invoice_requested", "reviewed", "submitted"][
        index % 8
    ]
    order = make_order(
        state,
        # Unassigned orders cannot be approved (the owner approves them in the demo paths).
        cs_owner=None if state in ("paid", "risk_hold", "submitted") and index % 3 == 2 else ["cs1", "cs2"][index % 2],
        amount="899.00" if index % 4 == 0 else "99.00",
        channel=["shopify", "amazon", "taobao"][index % 3],
    )
    if index % 3 == 0:
        age_state(order, hours=5)
    if index % 9 == 0:
        make_order("invoice_requested", main_order=order, amount="0.00")
    return order


def test_board_query_counts_do_not_grow_with_the_rows(client, users, make_order):
    # Three orders that put at least one row on every board.
    age_state(make_order("packed", cs_owner="cs1"), hours=5)
    make_order("invoice_requested", cs_owner="cs2")
    make_order("shipped", amount="899.00", cs_owner="cs1")
    small, small_rows = _measure(client, users)
    assert all(small_rows.values()), small_rows

    for index in range(27):
        _board_mix(make_order, index)
    big, big_rows = _measure(client, users)
    grown = {key for key in big_rows if big_rows[key] > small_rows[key]}
    assert grown == set(big_rows), f"some boards did not get more rows: {small_rows} → {big_rows}"
    assert big == small


def test_query_count_with_a_bound_search(django_assert_max_num_queries, client, users, make_order):
    for _ in range(3):
        make_order("shipped")
    client.force_login(users["wh1"])
    target = Order.objects.filter(state="shipped").first()
    tracking = target.shipments.get().tracking_number
    client.get(WAREHOUSE, {"q": tracking})
    with CaptureQueriesContext(connection) as small:
        client.get(WAREHOUSE, {"q": tracking})
    for _ in range(10):
        make_order("shipped")
    with django_assert_max_num_queries(len(small)):
        response = client.get(WAREHOUSE, {"q": tracking})
    assert numbers(response.content.decode()) == [target.number]


# ---------------------------------------------------------------------------------------------
# Indexes (PostgreSQL)


def _plan(queryset) -> str:
    with connection.cursor() as cursor:
        # A few test rows: a sequential scan would win; forbid it to see which indexes fit.
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


def _explain(sql: str) -> str:
    """EXPLAIN of a query already run (the captured SQL has its parameters inlined)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def _uses_index(plan: str, index: str) -> bool:
    return re.search(rf"(Index Scan|Index Only Scan|Bitmap Index Scan) (using|on) {index}\b", plan) is not None


@pytest.mark.postgres
def test_warehouse_board_runs_on_its_partial_index(make_order):
    """The rows are read stage by stage (warehouse_board_rows): each slice along the board's
    partial index, in working order."""
    from orders.selectors import warehouse_board_rows

    make_order("allocated")
    make_order("shipped")
    # Most orders are out of the warehouse: copies of a delivered one, so the planner sees the
    # board's index hold a few rows of many (on a near-empty table every index of the column
    # costs the same). No ANALYZE: its row count outlives the test's rollback and would steer
    # the plans of the tests after it.
    template = make_order("delivered")
    fields = {
        f.attname: getattr(template, f.attname)
        for f in Order._meta.concrete_fields
        if not f.primary_key and not getattr(f, "generated", False) and f.attname not in ("number", "external_id")
    }
    Order.objects.bulk_create([Order(number=f"{template.number}-{i:04d}", **fields) for i in range(2000)])
    with CaptureQueriesContext(connection) as queries:
        warehouse_board_rows(order_list_for_warehouse_board(clock=BoardClock.read()))
    slices = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith(("SELECT", "(SELECT"))]
    plans = [_explain(sql) for sql in slices if "warehouse_stage" in sql and "orders_order" in sql]
    assert plans and all(_uses_index(plan, "order_wh_board_idx") for plan in plans), plans


@pytest.mark.postgres
def test_search_by_tracking_number_and_external_id_runs_on_indexes(make_order):
    order = make_order("shipped", channel="amazon", external_id="113-4242424-4242")
    tracking = order.shipments.get().tracking_number

    with CaptureQueriesContext(connection) as queries:
        plan = _plan(order_search(Order.objects.all(), term=tracking))
    shipment_plans = [_explain(q["sql"]) for q in queries.captured_queries if "orders_shipment" in q["sql"]]
    assert any(_uses_index(p, "shipment_tracking_idx") for p in [plan, *shipment_plans]), (plan, shipment_plans)
    # Even with sequential scans off, a full read of the orders is what an OR the indexes
    # cannot serve falls back to: the orders must be reached through their indexes.
    assert "Seq Scan on orders_order" not in plan, plan
    assert _uses_index(plan, "orders_order_pkey"), plan

    plan = _plan(order_search(Order.objects.all(), term="113-4242424-4242"))
    assert "Seq Scan on orders_order" not in plan, plan
    assert _uses_index(plan, "order_external_id_idx"), plan

    assert list(order_search(Order.objects.all(), term=tracking)) == [order]
    assert list(order_search(Order.objects.all(), term="113-4242424-4242")) == [order]


@pytest.mark.django_db
def test_take_refuses_an_order_someone_else_owns(client, users, make_order):
    order = make_order("paid", cs_owner="cs2")
    client.force_login(users["cs1"])
    response = client.post(
        reverse("orders:board_transition", args=[order.number, "take"]),
        {"expected_version": order.version, "next": reverse("orders:board_cs")},
        follow=True,
    )
    assert "already belongs to 李娜" in response.content.decode()
    order.refresh_from_db()
    assert order.cs_owner == users["cs2"]


@pytest.mark.django_db
def test_a_state_with_its_own_stale_threshold_turns_red_on_its_own_clock(client, users, make_order):
    from alerts.models import StaleThreshold

    packed = make_order("packed", cs_owner="cs1")
    paid = make_order("paid", cs_owner="cs1")
    ago = timezone.now() - timedelta(minutes=45)
    Order.objects.filter(pk__in=[packed.pk, paid.pk]).update(state_changed_at=ago)
    # Operations: packed orders must be labelled within 30 minutes; the hub default stays 2 h.
    StaleThreshold.objects.create(state="packed", minutes=30)
    client.force_login(users["cs1"])
    page = client.get(reverse("orders:board_cs")).content.decode()
    packed_card = re.search(rf'<article class="([^"]*)" id="order-{packed.number}"', page).group(1)
    paid_card = re.search(rf'<article class="([^"]*)" id="order-{paid.number}"', page).group(1)
    assert "oh-stale" in packed_card and "oh-stale" not in paid_card


def test_the_warehouse_card_is_a_packing_list(page, make_order):
    lines = [
        {"sku": "TEA-01", "name": "龙井", "quantity": 2, "unit_price": "88.00"},
        {"sku": "", "name": "试用装", "quantity": 1, "unit_price": "0"},
    ]
    order = make_order("allocated", amount="176.00", lines=lines)
    plain = make_order("allocated")
    html = page("wh1", WAREHOUSE)
    packing = card_html(html, order)
    assert re.search(r"TEA-01</span> × <strong>2</strong>", packing)
    assert re.search(r"试用装</span> × <strong>1</strong>", packing) and "oh-packing-gift" in packing
    assert "oh-packing" not in card_html(html, plain)
