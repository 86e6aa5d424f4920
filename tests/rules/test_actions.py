"""Each action of the fixed list, applied through the order services as the system, named on
the timeline, recorded once per (rule, order, trigger event)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.db import transaction

from alerts.models import Alert
from notifications.models import Notification
from orders.demo import demo_address
from orders.models import Order, OrderEvent, OutboxMessage
from orders.outbox.services import outbox_deliver
from orders.services.intake import IntakeItem, order_intake_batch_in_transaction
from orders.services.orders import order_create
from orders.states import Priority
from rules.defaults import HIGH_VALUE_NAME
from rules.events import RULE_APPLIED, RULES_RUN_REACTION
from rules.models import Rule, RuleFiring

pytestmark = pytest.mark.django_db


def event_of(order, action) -> OrderEvent:
    return OrderEvent.objects.filter(order=order, action=action).latest("id")


# ---------------------------------------------------------------------------------------------
# At intake ("order created")


def test_high_value_orders_get_the_priority_lane_at_creation_naming_the_rule(users):
    dear = order_create(actor=None, channel="taobao", amount="888.00", note="来自淘宝")
    cheap = order_create(actor=None, channel="taobao", amount="88.00")
    assert (dear.priority, cheap.priority) == (Priority.HIGH, Priority.NORMAL)
    created = dear.events.get()
    assert created.note.startswith("来自淘宝 · ") and f"“{HIGH_VALUE_NAME}”" in created.note
    firing = RuleFiring.objects.get(order=dear)
    assert (firing.rule.name, firing.event, firing.outcome) == (HIGH_VALUE_NAME, created, "done")
    assert firing.actions[0]["kind"] == "set_priority" and firing.actions[0]["status"] == "done"
    assert not RuleFiring.objects.filter(order=cheap).exists()
    assert cheap.events.get().note == ""


def _intake(*amounts, channel="manual"):
    items = [
        IntakeItem(
            external_id=f"R-{index}-{amount}",
            fields={"amount": amount, "buyer_email": "buyer@example.com", **demo_address(random.Random(index))},
            paid=True,
        )
        for index, amount in enumerate(amounts)
    ]
    with transaction.atomic():
        results = order_intake_batch_in_transaction(channel=channel, items=items)
    return results


def _batch(*amounts, channel="manual"):
    return [Order.objects.get(pk=r.order.pk) for r in _intake(*amounts, channel=channel)]


def test_the_batch_intake_applies_the_same_rules_once_per_batch(users):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    orders = _batch("501.00", "20.00")
    assert [o.priority for o in orders] == [Priority.HIGH, Priority.NORMAL]
    created = event_of(orders[0], "created")
    assert HIGH_VALUE_NAME in created.note
    assert RuleFiring.objects.filter(order=orders[0], event=created).count() == 1
    # Rules are read once per batch: as many queries for 10 orders as for 1.
    _intake("1.00", channel="taobao")  # the channel's default shop exists from here on
    with CaptureQueriesContext(connection) as one:
        _intake("700.00", channel="taobao")
    with CaptureQueriesContext(connection) as ten:
        _intake(*[f"{600 + i}.00" for i in range(10)], channel="taobao")
    assert len(ten) == len(one)
    assert RuleFiring.objects.filter(order__channel="taobao").count() == 11


def test_heavier_actions_at_intake_follow_the_commit_in_the_outbox(
    users, make_rule, django_capture_on_commit_callbacks
):
    make_rule(
        name="大单通知运营 / Big orders: tell operations",
        amount_min=Decimal("500.01"),
        amount_currency="CNY",
        actions=[{"kind": "notify", "role": "operations", "message": "大单 / big order"}],
    )
    with django_capture_on_commit_callbacks():
        (order,) = _batch("999.00")
    assert order.priority == Priority.HIGH  # the default rule, at once
    created = event_of(order, "created")
    message = OutboxMessage.objects.get(event=created, kind=RULES_RUN_REACTION)
    firing = RuleFiring.objects.get(order=order, rule__name__startswith="大单")
    assert firing.outcome == "pending"
    assert outbox_deliver(message.pk) == "done"
    firing.refresh_from_db()
    assert firing.outcome == "done"
    queued = OutboxMessage.objects.get(event=created, kind="notify")
    assert outbox_deliver(queued.pk) == "done"
    notice = Notification.objects.get(order=order, recipient=users["ops1"])
    assert "big order" in notice.text
    line = OrderEvent.objects.get(order=order, action=RULE_APPLIED)
    assert "大单通知运营" in line.note and line.data["rule"] == firing.rule_id
    # Delivered again (at least once): nothing more happens.
    OutboxMessage.objects.filter(pk=message.pk).update(status="pending")
    outbox_deliver(message.pk)
    assert Notification.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, action=RULE_APPLIED).count() == 1


# ---------------------------------------------------------------------------------------------
# On an event, after its commit


def test_set_priority_on_an_event(make_order, make_rule, run_rules):
    rule = make_rule(name="Amazon paid → lane", trigger="pay", channels=["amazon"])
    order = make_order("paid", channel="amazon")
    run_rules(event_of(order, "pay"))
    order.refresh_from_db()
    assert order.priority == Priority.HIGH
    update = event_of(order, "details_updated")
    assert update.actor is None and update.actor_role == "system"
    assert f"“{rule.name}”" in update.note
    assert update.data["rule"] == rule.pk and update.data["rule_name"] == rule.name
    assert update.data["changes"] == {"priority": [0, 1]}


def test_assign_a_customer_service_owner(make_order, make_rule, run_rules, users):
    rule = make_rule(name="Taobao → 李娜", trigger="pay", actions=[{"kind": "assign_cs_owner", "user": users["cs2"]}])
    order = make_order("paid", channel="taobao", cs_owner=None)
    run_rules(event_of(order, "pay"))
    order.refresh_from_db()
    assert order.cs_owner == users["cs2"]
    assert rule.name in event_of(order, "details_updated").note


def test_assign_a_warehouse_allocates_a_reviewed_order(make_order, make_rule, run_rules, warehouses):
    target = warehouses[1]
    make_rule(
        name="To the second warehouse", trigger="approve", actions=[{"kind": "assign_warehouse", "warehouse": target}]
    )
    order = make_order("reviewed")
    run_rules(event_of(order, "approve"))
    order.refresh_from_db()
    assert (order.state, order.warehouse) == ("allocated", target)
    allocate = event_of(order, "allocate")
    assert allocate.actor_role == "system" and "To the second warehouse" in allocate.note
    assert allocate.data["rule_name"] == "To the second warehouse"


def test_assign_a_warehouse_before_review_sets_where_it_will_go(make_order, make_rule, run_rules, warehouses):
    make_rule(
        name="Paid → warehouse", trigger="pay", actions=[{"kind": "assign_warehouse", "warehouse": warehouses[0]}]
    )
    order = make_order("paid")
    run_rules(event_of(order, "pay"))
    order.refresh_from_db()
    assert (order.state, order.warehouse) == ("paid", warehouses[0])


def test_hold_for_risk_review(make_order, make_rule, run_rules):
    rule = make_rule(
        name="Night orders → risk",
        trigger="pay",
        amount_min=Decimal("100"),
        amount_currency="CNY",
        actions=[{"kind": "hold_for_risk"}],
    )
    order = make_order("paid", amount="150.00")
    run_rules(event_of(order, "pay"))
    order.refresh_from_db()
    assert order.state == "risk_hold"
    hold = event_of(order, "flag_risk")
    assert hold.actor_role == "system" and rule.name in hold.note and hold.data["rule"] == rule.pk


def test_hold_is_skipped_when_the_order_moved_on(make_order, make_rule, run_rules):
    make_rule(name="Hold", trigger="pay", actions=[{"kind": "hold_for_risk"}])
    order = make_order("allocated")
    run_rules(event_of(order, "pay"))
    order.refresh_from_db()
    assert order.state == "allocated"
    firing = RuleFiring.objects.get(order=order)
    assert firing.actions[0]["status"] == "skipped" and firing.outcome == "done"


def test_notify_someone(make_order, make_rule, run_rules, users):
    rule = make_rule(
        name="Packed → 刘洋",
        trigger="pack",
        is_gift="no",
        actions=[{"kind": "notify", "user": users["ops1"], "notify_cs_owner": True, "message": "看看这单"}],
    )
    order = make_order("packed")
    run_rules(event_of(order, "pack"))
    # The notify reaction tells them, once, from the outbox.
    queued = OutboxMessage.objects.get(event=event_of(order, "pack"), kind="notify", rule_id=rule.pk)
    assert outbox_deliver(queued.pk) == "done"
    recipients = set(
        Notification.objects.filter(order=order, text__contains="看看这单").values_list(
            "recipient__username", flat=True
        )
    )
    assert recipients == {"ops1", "cs1"}
    assert "Packed → 刘洋" in event_of(order, RULE_APPLIED).note


def test_open_an_alert(make_order, make_rule, run_rules):
    make_rule(
        name="Big refund risk",
        trigger="pay",
        actions=[{"kind": "open_alert", "alert_kind": "stale_order", "alert_severity": "critical", "message": "check"}],
    )
    order = make_order("paid")
    run_rules(event_of(order, "pay"))
    alert = Alert.objects.get(order=order)
    assert (alert.kind, alert.severity, alert.status) == ("stale_order", "critical", "open")
    assert alert.details["rule_name"] == "Big refund risk"
    assert "Big refund risk" in event_of(order, RULE_APPLIED).note


def test_approve_a_return_names_the_rule(make_order, users):
    from aftersales.services.returns import return_request_create
    from rules.defaults import REPEAT_RETURN_NAME

    for _ in range(3):
        make_order("delivered", buyer_email="loyal@example.com")
    order = make_order("delivered", buyer_email="loyal@example.com")
    case = return_request_create(order_id=order.pk, actor=users["cs1"], reason="尺码不合适")
    assert case.status == "approved" and case.label_prepaid and case.decided_by_rule == REPEAT_RETURN_NAME
    approve = event_of(order, "approve_return")
    assert REPEAT_RETURN_NAME in approve.note and approve.data["rule_name"] == REPEAT_RETURN_NAME
    firing = RuleFiring.objects.get(order=order, rule__name=REPEAT_RETURN_NAME)
    assert firing.event == event_of(order, "request_return") and firing.outcome == "done"


def test_the_reaction_runs_the_rules_of_an_event_once(make_order, make_rule, users, django_capture_on_commit_callbacks):
    """End to end through the outbox: a rule on "packed" gets its reaction rule, the event
    enqueues it, delivery twice acts once."""
    from orders.services.transition import order_transition

    rule = make_rule(name="Packed → lane", trigger="pack")
    order = make_order("allocated")
    with django_capture_on_commit_callbacks():
        order_transition(order.pk, "pack", actor=users["wh1"])
    message = OutboxMessage.objects.get(event__order=order, event__action="pack", kind=RULES_RUN_REACTION)
    assert outbox_deliver(message.pk) == "done"
    order.refresh_from_db()
    assert order.priority == Priority.HIGH
    OutboxMessage.objects.filter(pk=message.pk).update(status="pending")
    assert outbox_deliver(message.pk) == "done"
    assert RuleFiring.objects.filter(rule=rule, order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, action="details_updated").count() == 1


def test_the_outbox_runs_the_rules_of_a_trigger_only_while_one_is_enabled(make_rule):
    from orders.outbox.listeners import subscriptions_for

    def runs() -> bool:
        return any(kind == RULES_RUN_REACTION for _rule, _key, kind, _params in subscriptions_for("deliver"))

    assert not runs()
    rule = make_rule(name="On delivery", trigger="deliver")
    assert runs()
    Rule.objects.filter(pk=rule.pk).update(enabled=False)
    assert not runs()


def test_the_timeline_page_names_the_rule(make_order, make_rule, run_rules, login):
    from django.urls import reverse

    make_rule(name="时间线上的规则", trigger="pay")
    order = make_order("paid")
    run_rules(event_of(order, "pay"))
    page = login("ops1").get(reverse("orders:timeline", args=[order.number]))
    assert page.status_code == 200 and "时间线上的规则" in page.content.decode()


def test_a_rule_s_own_change_does_not_trigger_rules(make_order, make_rule, run_rules, users):
    """Two rules that would undo each other on "details updated" cannot loop."""
    make_rule(name="owner 1", trigger="details_updated", actions=[{"kind": "assign_cs_owner", "user": users["cs1"]}])
    make_rule(name="owner 2", trigger="pay", actions=[{"kind": "assign_cs_owner", "user": users["cs2"]}])
    order = make_order("paid")
    run_rules(event_of(order, "pay"))
    by_rule = event_of(order, "details_updated")
    assert by_rule.data["rule_name"] == "owner 2"
    assert run_rules(by_rule) == "0 rules, 0 actions applied"
    order.refresh_from_db()
    assert order.cs_owner == users["cs2"]


def test_an_owner_who_does_not_work_the_order_s_brand_is_not_assigned(make_order, make_rule, run_rules, users):
    from orders.models import Brand

    other = Brand.objects.create(code="other-brand", name="Other brand")
    other.staff.add(users["cs2"])
    make_rule(name="To 李娜", trigger="pay", actions=[{"kind": "assign_cs_owner", "user": users["cs2"]}])
    order = make_order("paid", cs_owner=None)
    if order.shop.brand.staff.exists():  # the demo may staff the default brand
        order.shop.brand.staff.remove(users["cs2"])
    run_rules(event_of(order, "pay"))
    order.refresh_from_db()
    assert order.cs_owner is None
    firing = RuleFiring.objects.get(order=order)
    assert firing.outcome == "failed" and "brand" in firing.actions[0]["detail"]
