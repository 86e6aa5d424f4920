"""审单策略: an approval rule approves a clean paid order as the system once its cooling-off is
over, names itself on the timeline, and leaves an order with an open exception to the queue;
allocation by the ship-to region and the carrier by weight follow as rules of the same engine."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from orders.models import Order, OrderEvent, OrderException, OutboxMessage, Warehouse
from orders.outbox.services import outbox_deliver
from orders.services.order_exceptions import order_exception_clear
from orders.services.orders import order_create
from orders.services.transition import order_transition
from orders.states import Carrier, ExceptionReason, State
from rules.defaults import APPROVAL_AFTER_EXCEPTION_NAME, APPROVAL_NAME
from rules.events import RULE_APPROVE_REACTION, RULES_RUN_REACTION
from rules.models import Rule, RuleFiring
from rules.preview import rule_preview
from tests.factories import channel_order

pytestmark = pytest.mark.django_db

# Shenzhen, South China: the region rules below place it.
SHENZHEN = {"ship_province": "广东省", "ship_city": "深圳市", "ship_district": "南山区", "ship_address": "科技园 1 号"}


def intake(external_id, **fields) -> Order:
    return channel_order(external_id, **{**SHENZHEN, **fields})


def deliver_all(kind: str) -> list[str | None]:
    """What the worker does with the pending messages of `kind` that are due (in id order)."""
    ids = OutboxMessage.objects.filter(kind=kind, status="pending").order_by("id").values_list("pk", flat=True)
    return [outbox_deliver(pk) for pk in ids]


@pytest.fixture
def approval_rule(users):
    """The shipped approval rule, switched on (as operations would after the preview)."""
    rule = Rule.objects.get(name=APPROVAL_NAME)
    rule.enabled = True
    rule.save()
    return rule


def test_the_shipped_approval_rule_is_off_and_waits_ten_minutes(users):
    rule = Rule.objects.get(name=APPROVAL_NAME)
    assert (rule.enabled, rule.trigger) == (False, "pay")
    action = rule.actions.get()
    assert (action.kind, action.cooling_off_minutes) == ("approve", 10)
    order = intake("off")
    deliver_all(RULES_RUN_REACTION)
    assert not OutboxMessage.objects.filter(kind=RULE_APPROVE_REACTION).exists()
    assert Order.objects.get(pk=order.pk).state == State.PAID


def test_a_clean_order_is_approved_by_the_system_after_the_cooling_off(approval_rule):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        order = intake("clean")
        paid = OrderEvent.objects.get(order=order, action="pay")
        assert deliver_all(RULES_RUN_REACTION) == ["done"]
        message = OutboxMessage.objects.get(kind=RULE_APPROVE_REACTION, event=paid)
        assert message.next_attempt_at == paid.occurred_at + timedelta(minutes=10)
        firing = RuleFiring.objects.get(rule=approval_rule, order=order)
        assert firing.actions[0]["status"] == "done" and "approval due at" in firing.actions[0]["detail"]

        # Before its time the worker leaves it: the buyer may still cancel or change the address.
        traveller.shift(timedelta(minutes=9, seconds=59))
        assert outbox_deliver(message.pk) == "pending"
        assert Order.objects.get(pk=order.pk).state == State.PAID

        traveller.shift(timedelta(seconds=1))
        assert outbox_deliver(message.pk) == "done"
    order.refresh_from_db()
    assert order.state == State.REVIEWED
    approved = OrderEvent.objects.get(order=order, action="approve")
    assert approved.actor is None
    assert f"“{APPROVAL_NAME}”" in approved.note and "自动审核通过 / approved automatically" in approved.note
    assert approved.data["rule"] == approval_rule.pk
    assert OutboxMessage.objects.get(pk=message.pk).result == "approved"
    # Delivered again (at least once): nothing more happens.
    assert outbox_deliver(message.pk) == "done"
    assert OrderEvent.objects.filter(order=order, action="approve").count() == 1


def test_an_order_with_an_open_exception_is_refused_and_waits_in_the_queue(approval_rule, users):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        order = intake("remark", buyer_remark="请周末送货")
        deliver_all(RULES_RUN_REACTION)
        traveller.shift(timedelta(minutes=10))
        assert deliver_all(RULE_APPROVE_REACTION) == ["done"]
    order.refresh_from_db()
    assert order.state == State.PAID
    refused = OrderEvent.objects.get(order=order, action="approval_refused")
    assert "买家留言" in refused.note and refused.data["reasons"] == [ExceptionReason.BUYER_REMARK]
    assert refused.order_version == order.version  # a line on the timeline, not a change
    assert OutboxMessage.objects.get(kind=RULE_APPROVE_REACTION).result.startswith("refused")

    # Customer service reads the remark; the order is theirs to approve from here.
    exception = OrderException.objects.get(order=order)
    order_exception_clear(exception_id=exception.pk, actor=users["cs1"], note="已读")
    assert Order.objects.get(pk=order.pk).state == State.PAID


def test_with_the_second_rule_an_order_moves_on_once_its_last_exception_is_cleared(approval_rule, users):
    after = Rule.objects.get(name=APPROVAL_AFTER_EXCEPTION_NAME)
    assert (after.enabled, after.trigger, after.actions.get().cooling_off_minutes) == (False, "exception_cleared", 10)
    after.enabled = True
    after.save()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        order = intake("two", buyer_remark="请周末送货", amount="0.00")
        reasons = set(OrderException.objects.filter(order=order).values_list("reason", flat=True))
        assert reasons == {ExceptionReason.BUYER_REMARK, ExceptionReason.AMOUNT_ANOMALY}
        deliver_all(RULES_RUN_REACTION)
        traveller.shift(timedelta(minutes=10))
        deliver_all(RULE_APPROVE_REACTION)
        # One cleared, the other still open: refused again, saying which.
        remark = OrderException.objects.get(order=order, reason=ExceptionReason.BUYER_REMARK)
        order_exception_clear(exception_id=remark.pk, actor=users["cs1"], note="已读")
        deliver_all(RULES_RUN_REACTION)
        traveller.shift(timedelta(minutes=10))
        deliver_all(RULE_APPROVE_REACTION)
        assert Order.objects.get(pk=order.pk).state == State.PAID
        last = OrderEvent.objects.filter(order=order, action="approval_refused").latest("id")
        assert last.data["reasons"] == [ExceptionReason.AMOUNT_ANOMALY]
        # Finance clears the last one: ten minutes later the system approves, naming the rule.
        amount = OrderException.objects.get(order=order, reason=ExceptionReason.AMOUNT_ANOMALY)
        order_exception_clear(exception_id=amount.pk, actor=users["fin1"], note="赠品单，金额为 0 正常")
        deliver_all(RULES_RUN_REACTION)
        traveller.shift(timedelta(minutes=9))
        deliver_all(RULE_APPROVE_REACTION)
        assert Order.objects.get(pk=order.pk).state == State.PAID
        traveller.shift(timedelta(minutes=1))
        deliver_all(RULE_APPROVE_REACTION)
    assert Order.objects.get(pk=order.pk).state == State.REVIEWED
    approved = OrderEvent.objects.get(order=order, action="approve")
    assert approved.actor is None and APPROVAL_AFTER_EXCEPTION_NAME in approved.note


def test_an_address_broken_during_the_cooling_off_is_raised_and_refused(approval_rule, users):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        order = intake("addr")
        deliver_all(RULES_RUN_REACTION)
        # Someone clears the city by mistake while the order waits.
        Order.objects.filter(pk=order.pk).update(ship_city="")
        traveller.shift(timedelta(minutes=10))
        deliver_all(RULE_APPROVE_REACTION)
    assert Order.objects.get(pk=order.pk).state == State.PAID
    exception = OrderException.objects.get(order=order, cleared_at__isnull=True)
    assert (exception.reason, exception.source) == (ExceptionReason.ADDRESS_INCOMPLETE, "rule")
    assert OrderEvent.objects.filter(order=order, action="approval_refused").exists()


def test_an_early_cancel_a_person_first_or_a_rule_switched_off_leave_the_order_alone(approval_rule, users):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        cancelled = intake("cancel")
        by_hand = intake("hand")
        switched = intake("switched")
        deliver_all(RULES_RUN_REACTION)
        order_transition(cancelled.pk, "cancel", actor=None, note="买家取消")
        order_transition(by_hand.pk, "approve", actor=users["cs1"])
        traveller.shift(timedelta(minutes=10))
        messages = {m.event.order_id: m for m in OutboxMessage.objects.filter(kind=RULE_APPROVE_REACTION)}
        outbox_deliver(messages[cancelled.pk].pk)
        outbox_deliver(messages[by_hand.pk].pk)
        Rule.objects.filter(pk=approval_rule.pk).update(enabled=False)
        outbox_deliver(messages[switched.pk].pk)
    results = {pk: OutboxMessage.objects.get(pk=m.pk).result for pk, m in messages.items()}
    assert results[cancelled.pk] == "skipped: the order is cancelled"
    assert results[by_hand.pk] == "skipped: the order is reviewed"
    assert results[switched.pk] == "skipped: the rule is switched off"
    assert Order.objects.get(pk=switched.pk).state == State.PAID
    assert OrderEvent.objects.filter(order=by_hand, action="approve").count() == 1


def test_approved_orders_are_allocated_by_region_and_get_a_carrier_by_weight(approval_rule, make_rule, run_rules):
    south = Warehouse.objects.create(code="SZ", name="深圳仓")
    east = Warehouse.objects.create(code="HZ", name="杭州仓")
    make_rule(
        name="华南 → 深圳仓",
        trigger="approve",
        places=["region:south"],
        position=30,
        stop_processing=True,
        actions=[{"kind": "assign_warehouse", "warehouse": south}],
    )
    anywhere = [{"kind": "assign_warehouse", "warehouse": east}]
    make_rule(name="其他 → 杭州仓", trigger="approve", position=40, actions=anywhere)
    make_rule(
        name="重件走中通",
        trigger="allocate",
        weight_min_grams=3000,
        actions=[{"kind": "choose_carrier", "carrier": Carrier.ZTO}],
    )
    heavy = [{"sku": "RICE-5KG", "quantity": 1, "unit_price": "100.00", "weight_grams": 5000}]
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        guangzhou = intake("gz", lines=heavy)  # 广东省: South China
        hangzhou = intake("hz", ship_province="Zhejiang", ship_city="Hangzhou")
        deliver_all(RULES_RUN_REACTION)
        traveller.shift(timedelta(minutes=10))
        deliver_all(RULE_APPROVE_REACTION)
        deliver_all(RULES_RUN_REACTION)  # approve → allocate
        deliver_all(RULES_RUN_REACTION)  # allocate → the carrier
    guangzhou.refresh_from_db()
    hangzhou.refresh_from_db()
    assert (guangzhou.state, guangzhou.warehouse, guangzhou.weight_grams) == (State.ALLOCATED, south, 5000)
    assert (hangzhou.state, hangzhou.warehouse) == (State.ALLOCATED, east)
    assert (guangzhou.carrier, hangzhou.carrier) == (Carrier.ZTO, "")
    # Every step the system's, each naming its rule: no human touched them.
    actors = OrderEvent.objects.filter(order__in=[guangzhou, hangzhou]).values_list("actor_id", flat=True)
    assert set(actors) == {None}
    allocated = OrderEvent.objects.get(order=guangzhou, action="allocate")
    assert "“华南 → 深圳仓”" in allocated.note


def test_the_preview_counts_what_an_approval_rule_would_have_approved(approval_rule, users):
    with time_machine.travel(timezone.now() - timedelta(days=2), tick=False) as traveller:
        for number in range(3):
            intake(f"p{number}")
        intake("p-remark", buyer_remark="发顺丰")
        early = intake("p-early")
        traveller.shift(timedelta(minutes=3))
        order_transition(early.pk, "cancel", actor=None, note="买家取消")
        late = intake("p-late")
        traveller.shift(timedelta(minutes=30))
        order_transition(late.pk, "cancel", actor=None, note="买家取消")
    order_create(actor=None, channel="manual", amount="50.00")  # never paid: not a candidate
    preview = rule_preview(approval_rule)
    assert preview.matched == 6
    (action,) = preview.actions
    # 3 clean + the one cancelled after the cooling-off (it was approvable then) = 4.
    assert action.would == 4
    assert "4 of 6 orders would have been approved automatically; 1 would have waited" in action.text
    assert "1 were cancelled within the cooling-off" in action.text


def test_bad_approval_and_carrier_actions_are_refused_with_what_to_fix(make_rule):
    from django.core.exceptions import ValidationError

    before = Rule.objects.count()
    with pytest.raises(ValidationError) as missing:
        make_rule(trigger="pay", actions=[{"kind": "approve"}])
    assert "cooling-off" in str(missing.value)
    with pytest.raises(ValidationError) as too_early:
        make_rule(trigger="allocate", actions=[{"kind": "approve", "cooling_off_minutes": 5}])
    assert "Only a paid order is approved" in str(too_early.value)
    with pytest.raises(ValidationError) as carrier:
        make_rule(trigger="approve", actions=[{"kind": "choose_carrier"}])
    assert "needs the carrier" in str(carrier.value)
    with pytest.raises(ValidationError) as place:
        make_rule(trigger="approve", places=["火星"], actions=[{"kind": "choose_carrier", "carrier": "sf"}])
    assert "provinces and regions" in str(place.value)
    with pytest.raises(ValidationError) as weight:
        make_rule(
            trigger="approve",
            weight_min_grams=500,
            weight_max_grams=100,
            actions=[{"kind": "choose_carrier", "carrier": "sf"}],
        )
    assert "no order could match" in str(weight.value)
    assert Rule.objects.count() == before
