"""The rules the hub ships, as ordinary rules operations edit (installed by data migrations, and
again by `rules_defaults_install_if_empty` after a flush).

Operations rules of the seed:
- 高价值订单 / High value: order created, amount above 500 CNY → the priority packing lane
  ("above 500" is "at least 500.01" since amounts have two decimals).
- 回头客退货 / Repeat customer's return: return requested, the buyer has 3 delivered orders →
  approved with a prepaid return label.
- 自动审单 / Approve clean orders: paid → approved by the system after a 10-minute cooling-off
  when the order has no open exception. Off by default (an upgrade must not start approving a
  running hub's orders; the demo as well).
- 自动审单：异常处理后 / Approve once the exceptions are cleared: an exception cleared → the same
  approval (10-minute cooling-off, refused while another exception is open). Off by default.
- 仓库承诺时效 / SLA per warehouse: allocated to a warehouse → tell the warehouse team the
  promise applies. Off by default: the promise itself is each warehouse's promised ship time,
  which the SLA sweep checks every minute (a rule acts on events; a missed promise is the
  absence of one).

The built-in reactions (approved → tell the CS owner, packed → book the pickup …) are rules of
the same kind, with no condition and one action each: the outbox subscribes them to their
trigger directly. Rules 0004 carried a database's reaction rules over into these.
"""

from __future__ import annotations

from decimal import Decimal

HIGH_VALUE_NAME = "高价值订单 / High value"
REPEAT_RETURN_NAME = "回头客退货 / Repeat customer's return"
SLA_NAME = "仓库承诺时效 / SLA per warehouse"
APPROVAL_NAME = "自动审单：干净订单 / Approve clean orders"
APPROVAL_DESCRIPTION = (
    "付款 10 分钟后自动审核通过没有异常的订单（买家的早期取消或改地址先到）；"
    "有异常的订单进入异常队列，由负责的角色处理。默认关闭：先预览，再开启 / "
    "Ten minutes after payment, orders with no exception are approved by the system "
    "(a buyer's early cancel or address change lands first); an order with an exception waits in its owner's "
    "exception queue. Off by default: preview it, then switch it on."
)
APPROVAL_COOLING_OFF_MINUTES = 10
# The same approval once an owner cleared an exception: an order that waited in the queue moves
# on by itself when nothing is open any more (with a cooling-off again, for a buyer's late word).
APPROVAL_AFTER_EXCEPTION_NAME = "自动审单：异常处理后 / Approve once the exceptions are cleared"
APPROVAL_AFTER_EXCEPTION_DESCRIPTION = (
    "异常被负责的角色解除后，订单已付款且没有其他未解除的异常时，10 分钟后自动审核通过；"
    "还有其他异常时，时间线记一条未自动审核并说明原因。默认关闭 / "
    "Once its owner clears an exception, a paid order with nothing else open is approved by the system "
    "ten minutes later; with another exception still open, an 'approval refused' line says which. "
    "Off by default."
)

# name, trigger, action: ("notify", {"notify_cs_owner": …, "role": …}) or ("reaction", code)
BUILTIN_REACTIONS = [
    ("审核通过：通知客服负责人 / Approved: tell the CS owner", "approve", "notify", {"notify_cs_owner": True}),
    ("打包完成：通知客服负责人 / Packed: tell the CS owner", "pack", "notify", {"notify_cs_owner": True}),
    (
        "打包完成：预约快递上门取件 / Packed: book the carrier pickup",
        "pack",
        "reaction",
        {"reaction": "carrier_book_pickup"},
    ),
    (
        "打包完成：加入财务待开票清单 / Packed: add to the to-invoice list",
        "pack",
        "reaction",
        {"reaction": "invoice_list_add"},
    ),
    ("已发货：上传运单 / Shipped: upload the waybill", "ship", "reaction", {"reaction": "carrier_upload_waybill"}),
    ("退款被拒：通知财务 / A refund was refused: tell finance", "refund_failed", "notify", {"role": "finance"}),
    (
        "退款已打款：移出待开票清单 / Refund paid: off the to-invoice list",
        "refund",
        "reaction",
        {"reaction": "invoice_list_cancel"},
    ),
    (
        "反应最终失败：通知技术负责人 / A reaction failed: tell the tech lead",
        "reaction_failed",
        "notify",
        {"role": "tech_lead"},
    ),
]
# Built-in reactions are evaluated before the operations' own rules of the same trigger.
BUILTIN_POSITION = 5


def rules_defaults_install(rule_model, action_model) -> None:
    """Create the shipped rules that are missing (by name); never touch edited ones."""
    from django.conf import settings

    existing = set(rule_model.objects.values_list("name", flat=True))
    above = Decimal(str(settings.ORDERHUB_PRIORITY_AMOUNT))
    if HIGH_VALUE_NAME not in existing:
        currency = settings.ORDERHUB_CURRENCY
        rule = rule_model.objects.create(
            name=HIGH_VALUE_NAME,
            description=(
                f"高于 {above} {currency} 的订单进入优先打包通道 / Orders above {above} {currency} go to the "
                "priority packing lane."
            ),
            enabled=True,
            trigger="created",
            position=10,
            amount_min=above + Decimal("0.01"),
            amount_currency=currency,
        )
        action_model.objects.create(rule=rule, kind="set_priority", priority=1)
    if REPEAT_RETURN_NAME not in existing:
        rule = rule_model.objects.create(
            name=REPEAT_RETURN_NAME,
            description=(
                "回头客（已签收订单达到门槛）的退货免人工审核，自动批准并预付退货运单 / Returns from repeat customers "
                "skip manual review: approved with a prepaid return label."
            ),
            enabled=True,
            trigger="request_return",
            position=10,
            previous_delivered_min=3,
        )
        action_model.objects.create(rule=rule, kind="approve_return")
    if SLA_NAME not in existing:
        rule = rule_model.objects.create(
            name=SLA_NAME,
            description=(
                "每个仓库的承诺发货时效在“仓库”中设置，由超时巡检每分钟检查；"
                "开启本规则后，订单分配到仓库时通知仓储组 / "
                "Each warehouse's promised ship time is set under Warehouses and checked every minute by the SLA "
                "sweep; switched on, this rule also tells the warehouse team when an order is allocated."
            ),
            enabled=False,
            trigger="allocate",
            position=50,
        )
        action_model.objects.create(
            rule=rule,
            kind="notify",
            role="warehouse",
            message="按本仓承诺时效发货 / ship within this warehouse's promised time",
        )
    if APPROVAL_NAME not in existing:
        rule = rule_model.objects.create(
            name=APPROVAL_NAME,
            description=APPROVAL_DESCRIPTION,
            enabled=False,
            trigger="pay",
            position=20,
        )
        action_model.objects.create(rule=rule, kind="approve", cooling_off_minutes=APPROVAL_COOLING_OFF_MINUTES)
    if APPROVAL_AFTER_EXCEPTION_NAME not in existing:
        rule = rule_model.objects.create(
            name=APPROVAL_AFTER_EXCEPTION_NAME,
            description=APPROVAL_AFTER_EXCEPTION_DESCRIPTION,
            enabled=False,
            trigger="exception_cleared",
            position=21,
        )
        action_model.objects.create(rule=rule, kind="approve", cooling_off_minutes=APPROVAL_COOLING_OFF_MINUTES)
    for name, trigger, kind, fields in BUILTIN_REACTIONS:
        if name in existing:
            continue
        rule = rule_model.objects.create(
            name=name,
            description="内置反应 / A built-in reaction.",
            enabled=True,
            trigger=trigger,
            position=BUILTIN_POSITION,
        )
        action_model.objects.create(rule=rule, kind=kind, **fields)


def rules_defaults_install_if_empty(*, apps=None, **kwargs) -> None:
    """post_migrate: after a flush (transactional tests) the tables are empty; reinstall."""
    from django.apps import apps as global_apps

    registry = apps or global_apps
    try:
        rule_model = registry.get_model("rules", "Rule")
    except LookupError:
        return
    if rule_model.objects.exists():
        return
    rules_defaults_install(rule_model, registry.get_model("rules", "RuleAction"))
