"""The role boards inside the admin: which orders each changelist lists and in which order, its
list filters and search, the stale and priority badges, who may open which board, and the bulk
actions (through the transition service, one event per order, refusals reported, nothing done
beyond the limit or outside the role)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders import admin_boards
from orders.models import Order, OrderEvent
from orders.selectors import BoardClock, hub_settings_get, order_list_for_ops_board

# The hub settings' other fields, as the admin form posts them.
HUB_SETTINGS_REST = {"amount_anomaly_factor": 5, "duplicate_window_hours": 6}

pytestmark = pytest.mark.django_db

CS_BOARD = reverse("admin:orders_customerserviceboard_changelist")
WAREHOUSE_BOARD = reverse("admin:orders_warehouseboard_changelist")
# Finance's to-invoice list is the finance app's InvoiceRequest admin (tests/finance test it in depth).
FINANCE_BOARD = reverse("admin:finance_invoicerequest_changelist")
OPS_BOARD = reverse("admin:orders_operationsboard_changelist")


def listed(html: str) -> list[str]:
    """The order numbers of the changelist's rows, top to bottom."""
    return re.findall(r'class="orderhub-timeline-link">([A-Z0-9-]+)</a>', html)


def row_html(html: str, order) -> str:
    at = html.index(f">{order.number}</a>")
    start = html.rindex("<tr", 0, at)
    return html[start : html.index("</tr>", at)]


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def ago(**delta):
    return timezone.now() - timedelta(**delta)


def age_state(order, **delta) -> None:
    Order.objects.filter(pk=order.pk).update(state_changed_at=ago(**delta))


def snapshot(*orders) -> dict:
    return {
        o.pk: (o.state, o.version, o.cs_owner_id, OrderEvent.objects.filter(order_id=o.pk).count())
        for o in Order.objects.filter(pk__in=[o.pk for o in orders])
    }


@pytest.fixture
def login(client, users):
    def as_user(username):
        client.force_login(users[username])
        return client

    return as_user


@pytest.fixture
def changelist(login):
    def get(username, url, params=None):
        response = login(username).get(url, params or {})
        assert response.status_code == 200, (username, url, params, response.status_code)
        return response.content.decode()

    return get


def run_action(client, url, action, orders, **extra):
    data = {"action": action, "index": 0, "select_across": 0, "_selected_action": [o.pk for o in orders], **extra}
    return client.post(url, data)


# ---------------------------------------------------------------------------------------------
# What each changelist lists


def test_cs_changelist_lists_pending_review_and_awaiting_shipment_newest_first(changelist, make_order):
    old = make_order("paid", ordered_at=ago(hours=4))
    new = make_order("submitted", ordered_at=ago(minutes=3))
    packed = make_order("packed", ordered_at=ago(hours=1), cs_owner="cs2")
    for state in ("reviewed", "shipped", "delivered"):
        make_order(state)
    assert listed(changelist("cs1", CS_BOARD)) == [new.number, packed.number, old.number]


def test_warehouse_changelist_in_working_order_with_stage_counts(changelist, make_order):
    packing = make_order("allocated", ordered_at=ago(hours=5))
    packing_priority = make_order("allocated", amount="899.00", ordered_at=ago(hours=1))
    labelling = make_order("packed", ordered_at=ago(hours=8))
    pickup = make_order("shipped", ordered_at=ago(hours=9))
    make_order("picked_up")
    html = changelist("wh1", WAREHOUSE_BOARD)
    assert listed(html) == [packing_priority.number, packing.number, labelling.number, pickup.number]
    counts = dict(re.findall(r'data-stage="([a-z_]+)">[^<]*<strong>(\d+)</strong>', html))
    assert counts == {"packing": "2", "labelling": "1", "awaiting_pickup": "1"}


def test_warehouse_changelist_pages_read_stage_by_stage_in_working_order(login, make_order, monkeypatch):
    """Page by page the changelist lists the board in working order (stage, priority lane,
    oldest first, then the older order), each page read a stage at a time on PostgreSQL; pages
    past the sliced ones and a column sort are Django's own sorted query."""
    monkeypatch.setattr(admin_boards.WarehouseBoardAdmin, "list_per_page", 2)
    monkeypatch.setattr(admin_boards, "BOARD_SLICED_PAGES", 3)
    monkeypatch.setattr(admin_boards, "BOARD_SLICED_MIN_ROWS", 0)
    same_time = ago(hours=4)
    packing_old = make_order("allocated", ordered_at=ago(hours=9))
    packing_first = make_order("allocated", ordered_at=same_time)
    packing_second = make_order("allocated", ordered_at=same_time)
    packing_priority = make_order("allocated", amount="899.00", ordered_at=ago(hours=1))
    labelling_new = make_order("packed", ordered_at=ago(hours=3))
    labelling_priority = make_order("packed", amount="899.00", ordered_at=ago(hours=2))
    labelling_old = make_order("packed", ordered_at=ago(hours=8))
    pickup = make_order("shipped", ordered_at=ago(hours=10))
    make_order("picked_up")
    working_order = [
        packing_priority,
        packing_old,
        packing_first,
        packing_second,
        labelling_priority,
        labelling_old,
        labelling_new,
        pickup,
    ]
    client = login("wh1")

    def pages(params):
        rows, unions = [], 0
        for page in (1, 2, 3, 4):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(WAREHOUSE_BOARD, {**params, "p": page})
            assert response.status_code == 200, (params, page)
            rows += listed(response.content.decode())
            unions += sum("UNION ALL" in query["sql"] for query in queries.captured_queries)
        return rows, unions

    rows, unions = pages({})
    assert rows == [order.number for order in working_order]
    # Sorting on the stage column is the working order too.
    assert pages({"o": "2"})[0] == rows
    if connection.vendor == "postgresql":
        assert unions == 3  # the fourth page is past the sliced ones

    # o=1 is the order column (0 is the action checkbox).
    rows, unions = pages({"o": "-1"})
    assert rows == sorted((order.number for order in working_order), reverse=True)
    assert unions == 0


def test_finance_changelist_lists_the_to_invoice_rows_without_gifts(changelist, make_order):
    from orders.models import OutboxMessage
    from orders.outbox.services import outbox_deliver

    second = make_order("packed", channel="amazon")
    first = make_order("packed")
    gift = make_order("packed", main_order=first, amount="0.00")
    make_order("allocated")
    # The packed reaction puts each order on the list, in the order they were packed.
    for order in (second, first, gift):
        outbox_deliver(OutboxMessage.objects.get(event__order=order, kind="invoice_list_add").pk)
    html = changelist("fin1", FINANCE_BOARD)
    assert listed(html) == [second.number, first.number]


def test_ops_changelist_lists_stale_contested_and_held(changelist, make_order):
    stale = make_order("shipped")
    age_state(stale, hours=3)
    held = make_order("risk_hold")
    contested = make_order("invoice_requested")
    make_order("paid")
    make_order("archived")
    html = changelist("ops1", OPS_BOARD)
    assert listed(html) == [stale.number, held.number, contested.number]
    assert "orderhub-badge-stale" in row_html(html, stale)
    assert "orderhub-badge-conflict" in row_html(html, contested)
    assert listed(changelist("ops1", OPS_BOARD, {"kind": "stale"})) == [stale.number]
    assert listed(changelist("ops1", OPS_BOARD, {"kind": "conflicting"})) == [contested.number]
    assert listed(changelist("ops1", OPS_BOARD, {"kind": "risk_hold"})) == [held.number]


def test_ops_changelist_pages_read_slice_by_slice_and_counted_by_parts(login, make_order, monkeypatch):
    """Page by page the changelist lists the board longest-waiting first (then the older order),
    the first pages read a state at a time on PostgreSQL; deeper pages, a filter and another
    sort are Django's own query. The unfiltered board is counted part by part, to the same
    total as COUNT(*) over its condition, a state with a stale threshold of its own included."""
    from alerts.models import StaleThreshold

    monkeypatch.setattr(admin_boards.OperationsBoardAdmin, "list_per_page", 2)
    monkeypatch.setattr(admin_boards, "BOARD_SLICED_MIN_ROWS", 0)
    StaleThreshold.objects.create(state="packed", minutes=300)

    def order(state, hours=None, contested=False):
        made = make_order(state)
        Order.objects.filter(pk=made.pk).update(
            state_changed_at=ago(hours=hours) if hours else timezone.now(),
            contested_until=timezone.now() + timedelta(hours=1) if contested else None,
        )
        made.refresh_from_db()
        return made

    same_time = ago(hours=6)
    on_board = [
        order("shipped", hours=9),
        order("paid", hours=8, contested=True),  # stale and contested: listed once
        order("risk_hold", hours=7),
        order("packed", hours=6),
        order("allocated", hours=5),
        order("delivered", hours=4, contested=True),
        order("risk_hold"),
        order("paid", contested=True),
        order("invoice_requested", contested=True),
    ]
    Order.objects.filter(pk__in=[on_board[1].pk, on_board[2].pk]).update(state_changed_at=same_time)
    order("packed", hours=4)  # its own threshold is five hours
    order("paid")
    order("delivered", hours=9)
    order("archived", contested=True)
    working_order = sorted(
        Order.objects.filter(pk__in=[o.pk for o in on_board]), key=lambda o: (o.state_changed_at, o.pk)
    )
    client = login("ops1")

    def pages(params, last=5):
        rows, unions, counts = [], 0, set()
        for page in range(1, last + 1):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(OPS_BOARD, {**params, "p": page})
            assert response.status_code == 200, (params, page)
            rows += listed(response.content.decode())
            unions += sum("UNION ALL" in query["sql"] for query in queries.captured_queries)
            counts.add(response.context["cl"].result_count)
        return rows, unions, counts

    rows, unions, counts = pages({})
    assert rows == [o.number for o in working_order]
    assert counts == {len(working_order)}
    # Sorting on the waiting-since column is the working order too.
    assert pages({"o": "7"})[0] == rows
    if connection.vendor == "postgresql":
        assert unions == 4  # the fifth page is past the sliced ones

    # o=1 is the order column (0 is the action checkbox).
    rows, unions, _counts = pages({"o": "-1"})
    assert rows == sorted((o.number for o in working_order), reverse=True)
    assert unions == 0

    for kind, expected in (
        ("stale", {"shipped", "paid", "risk_hold", "packed", "allocated"}),
        ("conflicting", {"paid", "delivered", "invoice_requested"}),
        ("risk_hold", {"risk_hold"}),
    ):
        wanted = [o.number for o in working_order if o.state in expected]
        if kind == "stale":
            wanted = [o.number for o in working_order if o.state in expected and o.state_changed_at < ago(hours=2)]
        if kind == "conflicting":
            wanted = [o.number for o in working_order if o.contested_until]
        rows, _unions, counts = pages({"kind": kind}, last=(len(wanted) + 1) // 2)
        assert rows == wanted, kind
        assert counts == {len(wanted)}, kind

    clock = BoardClock.read()
    users = {user.username: user for user in get_user_model().objects.filter(username__in=["ops1", "cs1"])}
    for user in users.values():
        board = order_list_for_ops_board(clock=clock, user=user)
        assert admin_boards._ops_board_count(board, clock=clock, user=user) == board.count()
    board = order_list_for_ops_board(clock=clock, user=users["ops1"])
    assert admin_boards._ops_board_count(board.filter(state="paid"), clock=clock, user=users["ops1"]) is None


def test_conflict_role_count_from_hub_settings(changelist, login, make_order, django_capture_on_commit_callbacks):
    two_roles = make_order("delivered")
    assert two_roles.number not in changelist("ops1", OPS_BOARD)
    # Saved in the admin, the new threshold applies to the orders changed before it.
    url = reverse("admin:orders_hubsettings_change", args=[hub_settings_get().pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = login("ops1").post(
            url,
            {
                "stale_after_minutes": 120,
                "conflict_role_count": 2,
                "conflict_window_hours": 24,
                "archive_after_days": 15,
                **HUB_SETTINGS_REST,
            },
        )
    assert response.status_code == 302
    assert listed(changelist("ops1", OPS_BOARD, {"kind": "conflicting"})) == [two_roles.number]


# ---------------------------------------------------------------------------------------------
# List filters, search, badges


def test_cs_changelist_filters(changelist, make_order):
    mine = make_order("paid", cs_owner="cs1", channel="amazon", amount="899.00")
    theirs = make_order("allocated", cs_owner="cs2")
    nobody = make_order("paid", cs_owner=None)
    age_state(theirs, hours=3)
    everyone = {mine.number, theirs.number, nobody.number}
    assert set(listed(changelist("cs1", CS_BOARD))) == everyone
    assert listed(changelist("cs1", CS_BOARD, {"owner": "mine"})) == [mine.number]
    assert listed(changelist("cs2", CS_BOARD, {"owner": "mine"})) == [theirs.number]
    assert listed(changelist("cs1", CS_BOARD, {"owner": "unassigned"})) == [nobody.number]
    assert listed(changelist("cs1", CS_BOARD, {"stale": "yes"})) == [theirs.number]
    assert set(listed(changelist("cs1", CS_BOARD, {"stale": "no"}))) == {mine.number, nobody.number}
    assert listed(changelist("cs1", CS_BOARD, {"main_status": "awaiting_shipment"})) == [theirs.number]
    assert listed(changelist("cs1", CS_BOARD, {"channel": "amazon"})) == [mine.number]
    assert listed(changelist("cs1", CS_BOARD, {"priority": "1"})) == [mine.number]


def test_warehouse_changelist_stage_and_stale_filters(changelist, make_order):
    packing = make_order("allocated")
    labelling = make_order("packed")
    pickup = make_order("shipped")
    age_state(labelling, hours=5)
    assert listed(changelist("wh1", WAREHOUSE_BOARD, {"warehouse_stage": "packing"})) == [packing.number]
    assert listed(changelist("wh1", WAREHOUSE_BOARD, {"warehouse_stage": "awaiting_pickup"})) == [pickup.number]
    assert listed(changelist("wh1", WAREHOUSE_BOARD, {"stale": "yes"})) == [labelling.number]
    assert set(listed(changelist("wh1", WAREHOUSE_BOARD, {"stale": "no"}))) == {packing.number, pickup.number}


def test_admin_search(changelist, make_order):
    target = make_order("paid", channel="amazon", external_id="113-9998887-0001", buyer_phone="13811112222")
    make_order("paid", external_id="OTHER-1")
    for term in (
        target.number,
        target.number.lower(),
        "113-9998887-0001",
        "13811112222",
        "buyer@example.com ",
    ):
        found = listed(changelist("cs1", CS_BOARD, {"q": term}))
        assert target.number in found, term
    assert listed(changelist("cs1", CS_BOARD, {"q": "113-9998887-0001"})) == [target.number]
    assert listed(changelist("cs1", CS_BOARD, {"q": "113-999"})) == []

    shipped = make_order("shipped")
    tracking = shipped.shipments.get().tracking_number
    assert listed(changelist("wh1", WAREHOUSE_BOARD, {"q": tracking})) == [shipped.number]
    assert listed(changelist("ops1", CS_BOARD, {"q": tracking})) == []  # shipped: not a CS row


def test_badges_for_stale_and_priority(changelist, make_order):
    waiting = make_order("paid", amount="899.00")
    fresh = make_order("paid")
    age_state(waiting, minutes=150)
    html = changelist("cs1", CS_BOARD)
    assert "orderhub-badge-stale" in row_html(html, waiting)
    assert "orderhub-badge-priority" in row_html(html, waiting)
    assert "orderhub-badge-stale" not in row_html(html, fresh)
    assert "orderhub-badge-priority" not in row_html(html, fresh)


def test_hub_settings_threshold_applies_on_the_next_request_and_is_audited(login, changelist, make_order, users):
    order = make_order("paid")
    age_state(order, minutes=20)
    assert "orderhub-badge-stale" not in row_html(changelist("ops1", CS_BOARD), order)

    ops = login("ops1")
    # The list of the one row opens the row.
    response = ops.get(reverse("admin:orders_hubsettings_changelist"))
    url = reverse("admin:orders_hubsettings_change", args=[hub_settings_get().pk])
    assert response["Location"] == url
    response = ops.post(
        url,
        {
            "stale_after_minutes": 15,
            "conflict_role_count": 3,
            "conflict_window_hours": 24,
            "archive_after_days": 15,
            **HUB_SETTINGS_REST,
        },
    )
    assert response.status_code == 302

    html = changelist("ops1", CS_BOARD)
    assert "orderhub-badge-stale" in row_html(html, order)
    assert listed(changelist("ops1", CS_BOARD, {"stale": "yes"})) == [order.number]
    assert listed(changelist("ops1", OPS_BOARD, {"kind": "stale"})) == [order.number]

    record = hub_settings_get().history.order_by("-history_id").first()
    assert (record.stale_after_minutes, record.history_user, record.history_type) == (15, users["ops1"], "~")
    assert ops.get(reverse("admin:orders_hubsettings_history", args=[hub_settings_get().pk])).status_code == 200


def test_only_operations_changes_hub_settings(login, users):
    url = reverse("admin:orders_hubsettings_change", args=[hub_settings_get().pk])
    for username in ("cs1", "wh1", "fin1", "tech1"):
        client = login(username)
        client.post(
            url,
            {
                "stale_after_minutes": 1,
                "conflict_role_count": 2,
                "conflict_window_hours": 1,
                "archive_after_days": 15,
                **HUB_SETTINGS_REST,
            },
        )
        assert client.get(url).status_code == 403, username
    assert hub_settings_get().stale_after_minutes == 120


# ---------------------------------------------------------------------------------------------
# Who may open which board


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("cs1", {"cs": 200, "warehouse": 403, "finance": 403, "ops": 403}),
        ("wh1", {"cs": 403, "warehouse": 200, "finance": 403, "ops": 403}),
        ("fin1", {"cs": 403, "warehouse": 403, "finance": 200, "ops": 403}),
        ("ops1", {"cs": 200, "warehouse": 200, "finance": 200, "ops": 200}),
        ("tech1", {"cs": 403, "warehouse": 403, "finance": 200, "ops": 403}),
    ],
)
def test_each_role_opens_only_its_boards(login, username, expected):
    client = login(username)
    urls = {"cs": CS_BOARD, "warehouse": WAREHOUSE_BOARD, "finance": FINANCE_BOARD, "ops": OPS_BOARD}
    assert {code: client.get(url).status_code for code, url in urls.items()} == expected


def test_anonymous_is_sent_to_login(client):
    response = client.get(CS_BOARD)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_a_board_row_opens_the_timeline(login, make_order):
    order = make_order("paid")
    response = login("cs1").get(reverse("admin:orders_customerserviceboard_change", args=[order.pk]))
    assert response["Location"] == reverse("orders:timeline", args=[order.number])


# ---------------------------------------------------------------------------------------------
# Bulk actions


def test_approve_several_at_once_one_event_each(login, make_order, users):
    orders = [make_order("paid") for _ in range(3)]
    submitted = make_order("submitted")
    response = run_action(login("cs1"), CS_BOARD, "approve", [*orders, submitted])
    assert response.status_code == 302
    messages = flash(response)
    assert "Approve: 3 orders." in messages
    assert any(submitted.number in m and "not possible" in m for m in messages)
    for order in orders:
        fresh = Order.objects.get(pk=order.pk)
        assert (fresh.state, fresh.version) == ("reviewed", order.version + 1)
        [event] = OrderEvent.objects.filter(order=order, action="approve")
        assert (event.actor, event.order_version) == (users["cs1"], fresh.version)
    assert Order.objects.get(pk=submitted.pk).state == "submitted"


def test_hold_needs_the_reason_from_the_action_bar(login, make_order):
    orders = [make_order("paid"), make_order("paid", cs_owner="cs2")]
    before = snapshot(*orders)
    client = login("cs1")
    response = run_action(client, CS_BOARD, "hold", orders, note="   ")
    assert len([m for m in flash(response) if "needs a reason" in m]) == 2
    assert snapshot(*orders) == before

    run_action(client, CS_BOARD, "hold", orders, note="收货人电话无法接通")
    for order in orders:
        assert Order.objects.get(pk=order.pk).state == "risk_hold"
        assert OrderEvent.objects.filter(order=order, action="flag_risk").get().note == "收货人电话无法接通"


def test_assign_owner(login, make_order, users):
    orders = [make_order("paid", cs_owner="cs1"), make_order("paid", cs_owner=None)]
    response = run_action(login("ops1"), CS_BOARD, "assign_owner", orders, owner=users["cs2"].pk)
    assert any("2 orders" in m for m in flash(response)), flash(response)
    for order in orders:
        fresh = Order.objects.get(pk=order.pk)
        assert (fresh.cs_owner, fresh.version, fresh.state) == (users["cs2"], order.version + 1, "paid")
        event = OrderEvent.objects.filter(order=order).last()
        assert (event.action, event.actor) == ("details_updated", users["ops1"])
        assert event.data["changes"]["cs_owner"][1] == "李娜"


def test_assign_owner_needs_an_owner_from_customer_service(login, make_order, users):
    order = make_order("paid")
    before = snapshot(order)
    client = login("ops1")
    response = run_action(client, CS_BOARD, "assign_owner", [order])
    assert any("Choose the owner" in m for m in flash(response))
    run_action(client, CS_BOARD, "assign_owner", [order], owner=users["wh1"].pk)
    assert snapshot(order) == before


def test_selection_above_the_limit_is_refused(login, make_order, monkeypatch):
    monkeypatch.setattr(admin_boards, "BULK_ACTION_LIMIT", 2)
    orders = [make_order("paid") for _ in range(3)]
    before = snapshot(*orders)
    response = run_action(login("cs1"), CS_BOARD, "approve", orders)
    assert any("at most 2 orders" in m for m in flash(response))
    assert snapshot(*orders) == before
    # At the limit, it runs.
    run_action(login("cs1"), CS_BOARD, "approve", orders[:2])
    assert [o.state for o in Order.objects.filter(pk__in=[o.pk for o in orders]).order_by("pk")] == [
        "reviewed",
        "reviewed",
        "paid",
    ]


def test_warehouse_packs_and_hands_over_in_bulk(login, make_order, users):
    allocated = [make_order("allocated"), make_order("allocated")]
    shipped = make_order("shipped")
    client = login("wh1")
    run_action(client, WAREHOUSE_BOARD, "pack", allocated)
    run_action(client, WAREHOUSE_BOARD, "pick_up", [shipped])
    assert {Order.objects.get(pk=o.pk).state for o in allocated} == {"packed"}
    assert Order.objects.get(pk=shipped.pk).state == "picked_up"
    assert OrderEvent.objects.filter(order=shipped, action="pick_up", actor=users["wh1"]).count() == 1


def test_operations_releases_holds(login, make_order):
    held = make_order("risk_hold")
    run_action(login("ops1"), OPS_BOARD, "release", [held])
    assert Order.objects.get(pk=held.pk).state == "paid"


def test_another_roles_bulk_action_is_refused(login, make_order):
    allocated, held = make_order("allocated"), make_order("risk_hold")
    before = snapshot(allocated, held)
    client = login("cs1")
    # The warehouse board is not customer service's at all.
    assert run_action(client, WAREHOUSE_BOARD, "pack", [allocated]).status_code == 403
    # "release" is not offered on the customer-service board, even to someone who may release.
    response = run_action(client, CS_BOARD, "release", [held])
    assert response.status_code in (200, 302)
    assert "No action selected." in flash(response)
    assert snapshot(allocated, held) == before
    response = run_action(login("ops1"), CS_BOARD, "release", [held])
    assert "No action selected." in flash(response)
    assert snapshot(allocated, held) == before
    # Nor does approving reach an order the board does not list (a shipped order).
    shipped = make_order("shipped")
    before = snapshot(shipped)
    run_action(login("cs1"), CS_BOARD, "approve", [shipped])
    assert snapshot(shipped) == before


def test_actions_offered_follow_the_role(changelist, make_order):
    make_order("paid")

    def offered(username, url):
        html = changelist(username, url)
        return set(re.findall(r'<option value="([a-z_]+)"', html[html.index('name="action"') :].split("</select>")[0]))

    assert offered("cs1", CS_BOARD) == {"approve", "hold", "assign_owner"}
    assert offered("ops1", CS_BOARD) == {"approve", "hold", "assign_owner"}
    assert offered("ops1", OPS_BOARD) == {"release"}
    assert offered("wh1", WAREHOUSE_BOARD) == {"pack", "pick_up"}
    assert offered("fin1", FINANCE_BOARD) == {"mark_requested"}
    html = changelist("ops1", FINANCE_BOARD)
    assert 'name="action"' not in html
