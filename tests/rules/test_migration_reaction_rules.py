"""rules 0004 carries every reaction rule of a running hub over to an operations rule, without loss:
on a database as it was before (reaction rules of each kind, the glue rows that ran the operations
rules, an operations rule with firings, outbox messages waiting and delivered), migrated forward."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("rules", "0003_rule_actions_for_reactions"),
    ("alerts", "0006_notifications_app"),
    ("aftersales", "0001_initial"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_reaction_rules_become_operations_rules_without_loss(make_order):
    live_order = make_order("reviewed")
    live_event = live_order.events.get(action="approve")
    old = _migrate(BEFORE)
    ReactionRule = old.get_model("alerts", "ReactionRule")
    Rule = old.get_model("rules", "Rule")
    RuleFiring = old.get_model("rules", "RuleFiring")
    OutboxMessage = old.get_model("orders", "OutboxMessage")
    Order = old.get_model("orders", "Order")
    User = old.get_model("auth", "User")
    ChatRobot = old.get_model("notifications", "ChatRobot")
    OrderEvent = old.get_model("orders", "OrderEvent")

    ReactionRule.objects.all().delete()
    Rule.objects.all().delete()
    lead = User.objects.create(username="lead-m")
    robot = ChatRobot.objects.create(name="仓库群", kind="wecom", webhook_url="http://127.0.0.1:1/hook")
    tell = ReactionRule.objects.create(
        name="已审核 → 通知客服",
        event_type="approve",
        kind="notify",
        recipient_cs_owner=True,
        recipient_role="warehouse",
        params={"email": True},
        enabled=True,
    )
    tell.recipient_users.add(lead)
    tell.recipient_robots.add(robot)
    book = ReactionRule.objects.create(
        name="已打包 → 预约揽收", event_type="pack", kind="pickup_book", params={"slot": "pm"}, enabled=False
    )
    glue = ReactionRule.objects.create(name="运营规则 / Operations rules: pack", event_type="pack", kind="rules_run")
    # An operations rule that already has the name the notify rule carries: the copy gets its id.
    vip = Rule.objects.create(name="已审核 → 通知客服", trigger="submit", position=1)

    order = Order.objects.get(pk=live_order.pk)
    event = OrderEvent.objects.get(pk=live_event.pk)
    waiting = OutboxMessage.objects.create(
        event=event, kind="notify", rule_id=tell.pk, status="pending", idempotency_key="mig:1"
    )
    delivered = OutboxMessage.objects.create(
        event=event, kind="pickup_book", rule_id=book.pk, status="delivered", idempotency_key="mig:2"
    )
    glued = OutboxMessage.objects.create(
        event=event, kind="rules_run", rule_id=glue.pk, status="delivered", idempotency_key="mig:3"
    )
    firing = RuleFiring.objects.create(rule=vip, order=order, event=event, trigger="submit")

    new = _migrate(_latest())
    Rule = new.get_model("rules", "Rule")
    RuleAction = new.get_model("rules", "RuleAction")
    RuleFiring = new.get_model("rules", "RuleFiring")
    OutboxMessage = new.get_model("orders", "OutboxMessage")
    assert "reactionrule" not in {m._meta.model_name for m in new.get_app_config("alerts").get_models()}

    # What later migrations ship (the approval rule, switched off) is not carried over.
    shipped_later = [
        "自动审单：干净订单 / Approve clean orders",
        "自动审单：异常处理后 / Approve once the exceptions are cleared",
    ]
    carried = {rule.name: rule for rule in Rule.objects.exclude(pk=vip.pk).exclude(name__in=shipped_later)}
    assert set(carried) == {f"已审核 → 通知客服 (#{tell.pk})", "已打包 → 预约揽收"}, "the glue row goes"

    told = carried[f"已审核 → 通知客服 (#{tell.pk})"]
    assert (told.trigger, told.enabled, told.position) == ("approve", True, 5)
    notify = RuleAction.objects.get(rule=told)
    assert (notify.kind, notify.notify_cs_owner, notify.role, notify.email) == ("notify", True, "warehouse", True)
    assert [u.pk for u in notify.users.all()] == [lead.pk]
    assert [r.pk for r in notify.robots.all()] == [robot.pk]

    booked = carried["已打包 → 预约揽收"]
    assert (booked.trigger, booked.enabled) == ("pack", False), "a paused reaction stays paused"
    reaction = RuleAction.objects.get(rule=booked)
    assert (reaction.kind, reaction.reaction, reaction.params) == ("reaction", "pickup_book", {"slot": "pm"})

    # The messages point at the new rules; the one still waiting knows whom to tell.
    waiting = OutboxMessage.objects.get(pk=waiting.pk)
    assert waiting.rule_id == told.pk
    assert waiting.params == {
        "cs_owner": True,
        "role": "warehouse",
        "users": [lead.pk],
        "robots": [robot.pk],
        "email": True,
        "message": "",
    }
    assert OutboxMessage.objects.get(pk=delivered.pk).rule_id == booked.pk
    assert OutboxMessage.objects.get(pk=glued.pk).rule_id is None
    # The operations rule and its firing are untouched.
    assert Rule.objects.get(pk=vip.pk).trigger == "submit"
    assert RuleFiring.objects.filter(pk=firing.pk, rule_id=vip.pk).exists()
