"""物流预警: the watch rows the orders' events and the carriers' scans write, the ship-by
deadline (shop rule vs warehouse promise), and each watch alert raised, deduplicated, escalated
where it escalates, and resolved when its condition clears, owned by the right role."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from alerts.alerting import AlertNotPermitted
from alerts.escalation import alerts_escalate_due
from alerts.models import (
    Alert,
    AlertKind,
    AlertKindSettings,
    DeadlineSource,
    OrderWatch,
    ShopShipRule,
    WatchPhase,
)
from alerts.sweeps import (
    sweep_carrier_trouble,
    sweep_not_collected,
    sweep_ship_by_soon,
    sweep_stale,
    sweep_tracking_silent,
)
from alerts.watch import ship_by_deadline, shop_ship_rule_save, watch_backfill, watch_deadlines_refresh
from integrations.carriers.base import DELIVERED, EXCEPTION, IN_TRANSIT, PICKED_UP, RETURNED, TrackingEvent
from integrations.tracking import tracking_apply
from notifications.models import ChatRobot
from orders.models import Order, Warehouse
from orders.services.transition import order_transition
from tests.fakes.chat import fake_wecom  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _counts(result) -> tuple[int, int, int]:
    return result.opened, result.touched, result.resolved


def _active(kind: str):
    return Alert.objects.filter(kind=kind, status__in=["open", "acknowledged"])


def _watch(order) -> OrderWatch:
    return OrderWatch.objects.get(order_id=order.pk)


def _scan(order, kind: str, at, *, code: str = "", note: str = "") -> list[str]:
    shipment = Order.objects.get(pk=order.pk).current_shipment
    event = TrackingEvent(
        tracking_number=shipment.tracking_number, kind=kind, occurred_at=at, description=note, carrier_code=code
    )
    return tracking_apply(shipment=shipment, events=[event], via="push")


# ---------------------------------------------------------------------------------------------
# The deadline


PAID = dt.datetime(2026, 1, 28, 15, 30, tzinfo=dt.UTC)  # 23:30 in Shanghai


@pytest.mark.parametrize(
    ("shop_hours", "warehouse_hours", "expected_hours", "source"),
    [
        (24, 48, 24, DeadlineSource.SHOP),  # the shop promised less: its rule counts
        (72, 48, 48, DeadlineSource.WAREHOUSE),  # the warehouse's promise is earlier
        (48, 48, 48, DeadlineSource.SHOP),  # a tie: the promise the buyer was shown
        (None, 36, 36, DeadlineSource.WAREHOUSE),  # no shop rule
        (None, None, 48, DeadlineSource.DEFAULT),  # not allocated yet: the hub's default
        (60, None, 48, DeadlineSource.DEFAULT),
    ],
)
def test_the_deadline_is_the_earlier_promise(shop_hours, warehouse_hours, expected_hours, source):
    deadline, chosen = ship_by_deadline(
        paid_at=PAID, shop_hours=shop_hours, warehouse_hours=warehouse_hours, default_hours=48
    )
    assert deadline == PAID + timedelta(hours=expected_hours) and chosen == source


def test_the_deadline_counts_real_hours_across_the_shanghai_midnight():
    deadline, _source = ship_by_deadline(paid_at=PAID, shop_hours=24, warehouse_hours=48, default_hours=48)
    assert deadline.astimezone(SHANGHAI) == dt.datetime(2026, 1, 29, 23, 30, tzinfo=SHANGHAI)
    # The same instant given in Shanghai time gives the same deadline.
    local, _ = ship_by_deadline(paid_at=PAID.astimezone(SHANGHAI), shop_hours=24, warehouse_hours=48, default_hours=48)
    assert local == deadline


@pytest.mark.parametrize(
    "kwargs",
    [
        {"paid_at": dt.datetime(2026, 1, 28, 15, 30)},  # naive: which clock?
        {"paid_at": PAID, "shop_hours": 0},
        {"paid_at": PAID, "warehouse_hours": -3},
        {"paid_at": PAID, "shop_hours": True},
    ],
)
def test_a_bad_deadline_input_is_refused(kwargs):
    with pytest.raises(ValueError):
        ship_by_deadline(**{"shop_hours": None, "warehouse_hours": None, "default_hours": 48, **kwargs})


def test_the_row_follows_payment_allocation_and_the_shop_rule(make_order, users, warehouses):
    order = make_order("reviewed")
    row = _watch(order)
    pay_at = order.events.get(action="pay").occurred_at
    assert row.phase == WatchPhase.AWAITING_SHIPMENT and row.paid_at == pay_at
    assert row.ship_by == pay_at + timedelta(hours=48) and row.ship_by_source == DeadlineSource.DEFAULT

    warehouse = warehouses[0]
    Warehouse.objects.filter(pk=warehouse.pk).update(promised_ship_hours=30)
    order_transition(order.pk, "allocate", actor=users["wh1"], warehouse=warehouse.pk)
    row = _watch(order)
    assert (row.ship_by, row.ship_by_source, row.warehouse_id) == (
        pay_at + timedelta(hours=30),
        DeadlineSource.WAREHOUSE,
        warehouse.pk,
    )

    rule = shop_ship_rule_save(shop_id=order.shop_id, ship_within_hours=20, collect_within_hours=None, actor=None)
    assert rule.ship_within_hours == 20
    row = _watch(order)
    assert row.ship_by == pay_at + timedelta(hours=20) and row.ship_by_source == DeadlineSource.SHOP

    # A promise changed elsewhere (a proposal accepted) is picked up by the refresh.
    ShopShipRule.objects.filter(shop_id=order.shop_id).update(ship_within_hours=None)
    Warehouse.objects.filter(pk=warehouse.pk).update(promised_ship_hours=12)
    assert watch_deadlines_refresh() == 1
    assert _watch(order).ship_by == pay_at + timedelta(hours=12)
    assert watch_deadlines_refresh() == 0  # nothing changed since


@pytest.mark.parametrize("value", [0, -1, "24", 1.5, True])
def test_a_bad_shop_rule_is_refused_and_changes_nothing(make_order, value):
    order = make_order("paid")
    before = _watch(order).ship_by
    with pytest.raises(ValidationError):
        shop_ship_rule_save(shop_id=order.shop_id, ship_within_hours=value, collect_within_hours=None, actor=None)
    assert not ShopShipRule.objects.exists() and _watch(order).ship_by == before


def test_only_operations_change_a_shop_rule(make_order, users):
    order = make_order("paid")
    with pytest.raises(AlertNotPermitted):
        shop_ship_rule_save(shop_id=order.shop_id, ship_within_hours=10, collect_within_hours=None, actor=users["wh1"])
    assert not ShopShipRule.objects.exists()
    shop_ship_rule_save(shop_id=order.shop_id, ship_within_hours=10, collect_within_hours=None, actor=users["ops1"])
    assert ShopShipRule.objects.get().ship_within_hours == 10


def test_gifts_and_unpaid_orders_are_not_watched(make_order):
    assert not OrderWatch.objects.filter(order_id=make_order("submitted").pk).exists()
    main = make_order("paid")
    gift = make_order("paid", main_order=main)
    assert not OrderWatch.objects.filter(order_id=gift.pk).exists()


def test_a_cancelled_order_is_done(make_order, users):
    order = make_order("paid")
    order_transition(order.pk, "cancel", actor=users["cs1"], note="buyer changed their mind")
    assert _watch(order).phase == WatchPhase.DONE


def test_backfill_builds_the_rows_of_orders_in_flight(make_order):
    paid, shipped, picked = make_order("paid"), make_order("shipped"), make_order("picked_up")
    expected = {
        o.pk: (OrderWatch.objects.filter(order_id=o.pk).values_list("phase", "ship_by").get())
        for o in (paid, shipped, picked)
    }
    OrderWatch.objects.all().delete()
    assert watch_backfill(batch_size=2) == 3
    got = {
        pk: (phase, ship_by) for pk, phase, ship_by in OrderWatch.objects.values_list("order_id", "phase", "ship_by")
    }
    assert got == expected
    assert watch_backfill() == 0  # idempotent


# ---------------------------------------------------------------------------------------------
# Ship-by deadline soon (the warehouse)


def test_ship_by_soon_warns_the_warehouse_dedupes_and_resolves_when_shipped(make_order, users):
    order, later = make_order("packed"), make_order("paid")
    ship_by = _watch(order).ship_by
    assert _counts(sweep_ship_by_soon(now=ship_by - timedelta(hours=7))) == (0, 0, 0)

    now = ship_by - timedelta(hours=5)
    OrderWatch.objects.filter(order_id=later.pk).update(ship_by=now + timedelta(hours=30))
    assert _counts(sweep_ship_by_soon(now=now)) == (1, 0, 0)
    alert = _active(AlertKind.SHIP_BY_DUE_SOON).get()
    assert alert.order_id == order.pk and alert.assigned_role == "warehouse" and alert.severity == "warning"
    local = timezone.localtime(ship_by).strftime("%m-%d %H:%M")
    assert order.number in alert.title and local in alert.title and "5 h" in alert.title
    assert alert.details["deadline_from"] == DeadlineSource.WAREHOUSE

    # Past the deadline and still not shipped: the same alert, touched, saying so.
    assert _counts(sweep_ship_by_soon(now=ship_by + timedelta(hours=2))) == (0, 1, 0)
    alert.refresh_from_db()
    assert alert.seen_count == 2 and "passed 2 h ago" in alert.title

    order_transition(order.pk, "ship", actor=users["wh1"], carrier="sf", tracking_number="SF0000000777")
    assert _counts(sweep_ship_by_soon(now=ship_by + timedelta(hours=3))) == (0, 0, 1)
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by is None and "Shipped" in alert.resolution


def test_ship_by_soon_resolves_in_place_when_the_shop_rule_moves_the_deadline_later(make_order):
    order = make_order("paid")
    shop_ship_rule_save(shop_id=order.shop_id, ship_within_hours=10, collect_within_hours=None, actor=None)
    ship_by = _watch(order).ship_by
    assert _counts(sweep_ship_by_soon(now=ship_by - timedelta(hours=1))) == (1, 0, 0)
    ShopShipRule.objects.filter(shop_id=order.shop_id).update(ship_within_hours=40)
    assert _counts(sweep_ship_by_soon(now=ship_by - timedelta(hours=1))) == (0, 0, 1)  # refreshed, then cleared
    alert = Alert.objects.get(kind=AlertKind.SHIP_BY_DUE_SOON)
    assert "moved later" in alert.resolution


# ---------------------------------------------------------------------------------------------
# Not collected (揽收超时, the warehouse)


def test_not_collected_per_shop_hours_and_cleared_by_the_first_scan(make_order):
    order = make_order("shipped")
    row = _watch(order)
    assert row.phase == WatchPhase.AWAITING_COLLECTION and row.shipped_at == row.parcel_shipped_at
    shipped_at = row.parcel_shipped_at
    assert _counts(sweep_not_collected(now=shipped_at + timedelta(hours=23))) == (0, 0, 0)
    assert _counts(sweep_not_collected(now=shipped_at + timedelta(hours=25))) == (1, 0, 0)
    alert = _active(AlertKind.NOT_COLLECTED).get()
    assert alert.assigned_role == "warehouse" and alert.details["collect_within_hours"] == 24
    assert _counts(sweep_not_collected(now=shipped_at + timedelta(hours=26))) == (0, 1, 0)

    # The shop allows 48 h: no longer overdue.
    shop_ship_rule_save(shop_id=order.shop_id, ship_within_hours=None, collect_within_hours=48, actor=None)
    assert _counts(sweep_not_collected(now=shipped_at + timedelta(hours=26))) == (0, 0, 1)
    assert _counts(sweep_not_collected(now=shipped_at + timedelta(hours=49))) == (1, 0, 0)

    # The carrier's first scan clears it at once, and the order is picked up.
    scan_at = shipped_at + timedelta(hours=50)
    assert _scan(order, PICKED_UP, scan_at, code="50", note="顺丰速运 已收取快件") == ["pick_up"]
    assert not _active(AlertKind.NOT_COLLECTED).exists()
    resolved = Alert.objects.filter(kind=AlertKind.NOT_COLLECTED).latest("resolved_at")
    assert "scanned the parcel" in resolved.resolution
    row = _watch(order)
    assert row.phase == WatchPhase.IN_TRANSIT and row.first_scan_at == scan_at == row.last_scan_at


def test_the_stale_sweep_leaves_shipped_orders_to_not_collected(make_order):
    order = make_order("shipped")
    Order.objects.filter(pk=order.pk).update(state_changed_at=timezone.now() - timedelta(hours=5))
    sweep_stale()
    assert not Alert.objects.filter(order_id=order.pk).exists()


def test_a_hand_over_by_the_warehouse_counts_as_collected(make_order, users):
    order = make_order("shipped")
    order_transition(order.pk, "pick_up", actor=users["wh1"])
    row = _watch(order)
    assert row.phase == WatchPhase.IN_TRANSIT and row.first_scan_at is None  # not a carrier scan
    assert _counts(sweep_not_collected(now=row.parcel_shipped_at + timedelta(hours=30))) == (0, 0, 0)


# ---------------------------------------------------------------------------------------------
# No carrier scan while in transit (customer service), escalated at 48 h


@pytest.fixture
def silent_robot(fake_wecom):  # noqa: F811
    robot = ChatRobot.objects.create(name="客服主管群", kind="wecom", webhook_url=fake_wecom.url)
    AlertKindSettings.objects.get(kind=AlertKind.TRACKING_SILENT).robots.set([robot])
    return fake_wecom


def test_tracking_silent_warns_at_24h_escalates_at_48h_and_clears_on_a_scan(make_order, silent_robot):
    order = make_order("shipped")
    first = _watch(order).parcel_shipped_at + timedelta(hours=2)
    _scan(order, PICKED_UP, first, code="50")
    assert _counts(sweep_tracking_silent(now=first + timedelta(hours=23))) == (0, 0, 0)

    assert _counts(sweep_tracking_silent(now=first + timedelta(hours=25))) == (1, 0, 0)
    alert = _active(AlertKind.TRACKING_SILENT).get()
    assert alert.assigned_role == "customer_service" and alert.severity == "warning"
    assert alert.escalate_at == first + timedelta(hours=48)  # not the kind's escalation minutes
    assert alerts_escalate_due(now=first + timedelta(hours=30)) == 0 and not silent_robot.requests

    assert _counts(sweep_tracking_silent(now=first + timedelta(hours=49))) == (0, 1, 0)
    alert.refresh_from_db()
    assert alert.severity == "critical" and "49 h" in alert.title
    assert alerts_escalate_due(now=first + timedelta(hours=49)) == 1
    assert len(silent_robot.requests) == 1 and order.number in silent_robot.requests[0].json["markdown"]["content"]
    assert alerts_escalate_due(now=first + timedelta(hours=50)) == 0  # once

    _scan(order, IN_TRANSIT, first + timedelta(hours=50), code="30", note="快件到达 【上海浦江中转场】")
    alert.refresh_from_db()
    assert alert.status == "resolved" and "scanned the parcel" in alert.resolution
    assert _counts(sweep_tracking_silent(now=first + timedelta(hours=51))) == (0, 0, 0)


def test_tracking_silent_resolves_when_delivered(make_order):
    order = make_order("shipped")
    first = _watch(order).parcel_shipped_at + timedelta(hours=1)
    _scan(order, PICKED_UP, first)
    sweep_tracking_silent(now=first + timedelta(hours=30))
    order_transition(order.pk, "deliver", actor=None, note="signed")
    assert _watch(order).phase == WatchPhase.DONE
    assert _counts(sweep_tracking_silent(now=first + timedelta(hours=31))) == (0, 0, 1)
    assert "Delivered" in Alert.objects.get(kind=AlertKind.TRACKING_SILENT).resolution


# ---------------------------------------------------------------------------------------------
# Delivery exceptions and returns (customer service), from the carriers' codes


def test_a_delivery_exception_opens_at_once_dedupes_and_clears_on_the_next_scan(make_order):
    order = make_order("shipped")
    at = _watch(order).parcel_shipped_at + timedelta(hours=3)
    _scan(order, PICKED_UP, at)
    _scan(order, EXCEPTION, at + timedelta(hours=20), code="70", note="收件人电话无人接听")
    alert = _active(AlertKind.DELIVERY_EXCEPTION).get()
    assert alert.order_id == order.pk and alert.assigned_role == "customer_service" and alert.severity == "critical"
    assert "收件人电话无人接听" in alert.title and alert.details["carrier_code"] == "70"
    assert alert.details["tracking_number"] == Order.objects.get(pk=order.pk).current_shipment.tracking_number

    _scan(order, EXCEPTION, at + timedelta(hours=20), code="70", note="收件人电话无人接听")  # the same push again
    assert _active(AlertKind.DELIVERY_EXCEPTION).count() == 1
    counts = sweep_carrier_trouble(now=at + timedelta(hours=21))
    assert _counts(counts[AlertKind.DELIVERY_EXCEPTION]) == (0, 1, 0)
    # Not also "no scan": the exception is the one alert for the fact.
    assert _counts(sweep_tracking_silent(now=at + timedelta(hours=60))) == (0, 0, 0)

    _scan(order, DELIVERED, at + timedelta(hours=30), code="80")
    alert.refresh_from_db()
    assert alert.status == "resolved" and "no longer says so" in alert.resolution
    assert Order.objects.get(pk=order.pk).state == "delivered" and _watch(order).phase == WatchPhase.DONE


def test_a_return_to_sender_opens_its_own_kind_and_the_sweep_keeps_it(make_order):
    order = make_order("picked_up")
    at = timezone.now()
    _scan(order, RETURNED, at, code="648", note="快件已退回")
    alert = _active(AlertKind.RETURNED_TO_SENDER).get()
    assert "returned to sender" in alert.title and not _active(AlertKind.DELIVERY_EXCEPTION).exists()

    # Resolved by hand while the parcel is still on its way back: the sweep opens it again.
    Alert.objects.filter(pk=alert.pk).update(status="resolved", resolved_at=at)
    counts = sweep_carrier_trouble(now=at + timedelta(minutes=1))
    assert _counts(counts[AlertKind.RETURNED_TO_SENDER]) == (1, 0, 0)

    # Switched off: nothing more opens and the open one is resolved.
    AlertKindSettings.objects.filter(kind=AlertKind.RETURNED_TO_SENDER).update(enabled=False)
    counts = sweep_carrier_trouble(now=at + timedelta(minutes=2))
    assert _counts(counts[AlertKind.RETURNED_TO_SENDER]) == (0, 0, 1)


def test_scans_of_an_earlier_parcel_do_not_count_after_a_reshipment(make_order, users):
    order = make_order("shipped")
    old = Order.objects.get(pk=order.pk).current_shipment
    order_transition(
        order.pk, "reship", actor=users["wh1"], carrier="sf", tracking_number="SF0000009999", note="lost label"
    )
    row = _watch(order)
    assert row.phase == WatchPhase.AWAITING_COLLECTION and row.shipped_at < row.parcel_shipped_at
    event = TrackingEvent(tracking_number=old.tracking_number, kind=EXCEPTION, occurred_at=timezone.now())
    tracking_apply(shipment=old, events=[event], via="poll")
    assert _watch(order).carrier_status == "" and not _active(AlertKind.DELIVERY_EXCEPTION).exists()


@pytest.mark.parametrize(
    ("carrier", "code", "kind"),
    [
        ("sf", "70", EXCEPTION),
        ("sf", "648", RETURNED),
        ("sf", "44", IN_TRANSIT),  # out for delivery
        ("sf", "12345", IN_TRANSIT),  # unknown: in transit (and logged by the adapter)
        ("zto", "问题件", EXCEPTION),
        ("zto", "退回", RETURNED),
        ("zto", "RETURN_SIGNED", RETURNED),
        ("cainiao", "SIGN_FAILED", EXCEPTION),
        ("cainiao", "TMS_RETURN", RETURNED),
    ],
)
def test_the_carriers_codes_that_raise_watch_alerts(carrier, code, kind):
    from integrations.carriers import cainiao, sf, zto

    read = {"sf": sf.op_code_kind, "zto": zto.scan_kind, "cainiao": cainiao.action_kind}[carrier]
    assert read(code) == kind


def test_the_watch_costs_a_transition_at_most_three_statements(make_order, django_assert_num_queries):
    from alerts.watch import watch_events_apply
    from orders.models import OrderEvent

    order = make_order("reviewed")
    events = {e.action: e for e in OrderEvent.objects.filter(order_id=order.pk).select_related("order")}
    with django_assert_num_queries(0):
        watch_events_apply([events["approve"]])  # nothing the watch follows
    with django_assert_num_queries(3):  # lock the row, the promises (one UNION), write it
        watch_events_apply([events["pay"]])


def test_a_watch_alert_is_one_click_from_the_timeline_on_the_owners_board(client, users, make_order):
    from django.urls import reverse

    order = make_order("shipped")
    sweep_not_collected(now=_watch(order).parcel_shipped_at + timedelta(hours=30))
    client.force_login(users["wh1"])
    page = client.get("/boards/alerts/", {"assigned_role": "warehouse"}).content.decode()
    card = page[page.index('data-kind="not_collected"') :]
    assert f'href="{reverse("orders:timeline", args=[order.number])}"' in card[: card.index("</article>")]


def test_the_timeline_shows_the_deadline_and_the_first_scan(client, users, make_order):
    order = make_order("shipped")
    row = _watch(order)
    scan_at = row.parcel_shipped_at + timedelta(hours=1)
    _scan(order, PICKED_UP, scan_at, code="50", note="顺丰速运 已收取快件")
    client.force_login(users["cs1"])
    page = client.get(f"/orders/{order.number}/").content.decode()
    section = page[page.index('class="tl-section tl-watch"') :]
    section = section[: section.index("</section>")]
    assert timezone.localtime(row.ship_by).strftime("%m-%d %H:%M") in section
    assert timezone.localtime(scan_at).strftime("%m-%d %H:%M") in section and "on time" in section
    assert "顺丰速运 已收取快件" in section

    unpaid = make_order("submitted")
    assert "tl-watch" not in client.get(f"/orders/{unpaid.number}/").content.decode()


def test_a_merge_keeps_the_earliest_promise_and_closes_the_merged_order(make_order):
    merged = make_order("merged")
    kept = Order.objects.get(pk=merged.merged_into_id)
    assert _watch(merged).phase == WatchPhase.DONE
    row = _watch(kept)
    assert kept.promise_from is not None and row.paid_at == kept.promise_from
    assert row.ship_by == kept.promise_from + timedelta(hours=48)


def test_a_split_off_part_keeps_its_orders_promise(make_order, users):
    from orders.services.split_merge import order_split

    order = make_order("paid", amount="100.00", lines=[{"sku": "A", "name": "A", "quantity": 2, "unit_price": "50.00"}])
    line = order.lines.get()
    part = order_split(order_id=order.pk, actor=users["cs1"], lines={line.pk: 1})
    assert _watch(part).paid_at == _watch(order).paid_at and _watch(part).ship_by == _watch(order).ship_by


def test_a_batch_import_gets_its_watch_rows_in_one_write(users):
    from django.db import transaction

    from orders.services.intake import IntakeItem, order_intake_batch_in_transaction
    from tests.factories import CLEAN_ADDRESS

    paid_at = dt.datetime(2026, 1, 28, 2, 0, tzinfo=dt.UTC)
    items = [
        IntakeItem(
            external_id=f"B-{n}",
            fields={"amount": "10.00", "currency": "CNY", "ordered_at": paid_at, **CLEAN_ADDRESS},
            paid=n % 3 != 0,  # every third not paid yet: no row
            lines_must_add_up=False,
        )
        for n in range(30)
    ]
    with transaction.atomic():
        results = order_intake_batch_in_transaction(channel="shopify", items=items)
    paid = {r.order.pk for r in results if r.order.state == "paid"}
    assert len(paid) == 20
    rows = OrderWatch.objects.filter(order_id__in=[r.order.pk for r in results])
    assert set(rows.values_list("order_id", flat=True)) == paid
    assert {row.phase for row in rows} == {WatchPhase.AWAITING_SHIPMENT}
    assert all(row.ship_by == row.paid_at + timedelta(hours=48) for row in rows)


def _raise_watch_alert(kind, make_order, users) -> Alert:
    """The order and the condition that open `kind`, through its own path."""
    if kind == AlertKind.SHIP_BY_DUE_SOON:
        order = make_order("packed")
        sweep_ship_by_soon(now=_watch(order).ship_by - timedelta(hours=1))
    elif kind == AlertKind.NOT_COLLECTED:
        order = make_order("shipped")
        sweep_not_collected(now=_watch(order).parcel_shipped_at + timedelta(hours=30))
    else:
        order = make_order("picked_up")
        status = EXCEPTION if kind == AlertKind.DELIVERY_EXCEPTION else RETURNED
        _scan(order, status, timezone.now(), code="x", note="…")
    return _active(kind).get(order_id=order.pk)


@pytest.mark.parametrize(
    ("kind", "owner"),
    [
        (AlertKind.SHIP_BY_DUE_SOON, "warehouse"),
        (AlertKind.NOT_COLLECTED, "warehouse"),
        (AlertKind.DELIVERY_EXCEPTION, "customer_service"),
        (AlertKind.RETURNED_TO_SENDER, "customer_service"),
    ],
)
def test_each_watch_alert_escalates_once_to_its_kinds_robots(kind, owner, make_order, users, fake_wecom):  # noqa: F811
    robot = ChatRobot.objects.create(name="仓库/客服主管群", kind="wecom", webhook_url=fake_wecom.url)
    settings_row = AlertKindSettings.objects.get(kind=kind)
    settings_row.robots.set([robot])
    alert = _raise_watch_alert(kind, make_order, users)
    assert alert.assigned_role == owner
    assert alert.escalate_at == alert.opened_at + timedelta(minutes=settings_row.escalation_minutes)
    assert alerts_escalate_due(now=alert.escalate_at - timedelta(minutes=1)) == 0
    assert alerts_escalate_due(now=alert.escalate_at + timedelta(minutes=1)) == 1
    assert alerts_escalate_due(now=alert.escalate_at + timedelta(minutes=2)) == 0
    assert len(fake_wecom.requests) == 1
    assert str(AlertKind(kind).label) in fake_wecom.requests[0].json["markdown"]["content"]


def test_tracking_silent_resolves_when_reshipped(make_order, users):
    order = make_order("picked_up")
    last = _watch(order).last_scan_at
    assert _counts(sweep_tracking_silent(now=last + timedelta(hours=30))) == (1, 0, 0)
    order_transition(
        order.pk, "reship", actor=users["cs1"], carrier="sf", tracking_number="SF0000004242", note="parcel lost"
    )
    assert _counts(sweep_tracking_silent(now=last + timedelta(hours=31))) == (0, 0, 1)
    assert "Re-shipped" in Alert.objects.get(kind=AlertKind.TRACKING_SILENT).resolution
