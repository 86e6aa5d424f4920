"""The seed's rules as editable defaults: high value → priority lane (from the high-value
thresholds it replaces), repeat customer's return → approved with a prepaid label (from the
after-sales rules it replaces), SLA per warehouse (off)."""

from decimal import Decimal

from django.db import migrations

# Frozen here: the defaults as this migration installed them (rules.defaults moves on).
RULES_RUN_REACTION = "rules_run"
HIGH_VALUE_NAME = "高价值订单 / High value"
REPEAT_RETURN_NAME = "回头客退货 / Repeat customer's return"
SLA_NAME = "仓库承诺时效 / SLA per warehouse"


def _high_value_thresholds(priority_threshold_model) -> dict[str, Decimal]:
    from django.conf import settings

    thresholds = {}
    if priority_threshold_model is not None:
        thresholds = dict(priority_threshold_model.objects.values_list("currency", "amount"))
    thresholds.setdefault(settings.ORDERHUB_CURRENCY, Decimal(str(settings.ORDERHUB_PRIORITY_AMOUNT)))
    return thresholds


def rules_defaults_install(
    rule_model, action_model, reaction_rule_model, *, priority_threshold_model=None, aftersales_rules_model=None
) -> None:
    """Create the default rules that are missing (by name); never touch edited ones."""
    existing = set(rule_model.objects.values_list("name", flat=True))
    for currency, above in sorted(_high_value_thresholds(priority_threshold_model).items()):
        name = HIGH_VALUE_NAME if currency == "CNY" else f"{HIGH_VALUE_NAME} ({currency})"
        if name in existing:
            continue
        rule = rule_model.objects.create(
            name=name,
            description=(
                f"高于 {above} {currency} 的订单进入优先打包通道 / Orders above {above} {currency} go to the "
                "priority packing lane."
            ),
            enabled=True,
            trigger="created",
            position=10,
            amount_min=Decimal(above) + Decimal("0.01"),
            amount_currency=currency,
        )
        action_model.objects.create(rule=rule, kind="set_priority", priority=1)

    if REPEAT_RETURN_NAME not in existing:
        row = aftersales_rules_model.objects.filter(pk=1).first() if aftersales_rules_model is not None else None
        enabled = row.repeat_customer_enabled if row is not None else True
        minimum = row.repeat_customer_min_delivered if row is not None else 3
        rule = rule_model.objects.create(
            name=REPEAT_RETURN_NAME,
            description=(
                "回头客（已签收订单达到门槛）的退货免人工审核，自动批准并预付退货运单 / Returns from repeat customers "
                "skip manual review: approved with a prepaid return label."
            ),
            enabled=enabled,
            trigger="request_return",
            position=10,
            previous_delivered_min=minimum,
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

    # The outbox runs the rules of an event through one reaction rule per event type.
    triggers = set(rule_model.objects.filter(enabled=True).exclude(trigger="created").values_list("trigger", flat=True))
    for trigger in triggers:
        if not reaction_rule_model.objects.filter(event_type=trigger, kind=RULES_RUN_REACTION).exists():
            reaction_rule_model.objects.create(
                name=f"运营规则 / Operations rules: {trigger}",
                event_type=trigger,
                kind=RULES_RUN_REACTION,
                params={},
                enabled=True,
            )


def install(apps, schema_editor):
    rules_defaults_install(
        apps.get_model("rules", "Rule"),
        apps.get_model("rules", "RuleAction"),
        apps.get_model("alerts", "ReactionRule"),
        priority_threshold_model=apps.get_model("alerts", "PriorityThreshold"),
        aftersales_rules_model=apps.get_model("aftersales", "AfterSalesRules"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0001_initial"),
        ("alerts", "0005_default_thresholds"),
        ("aftersales", "0001_initial"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
