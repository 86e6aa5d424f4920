"""The second shipped approval rule, switched off: an exception cleared by its owner → the order
approved by the system after a 10-minute cooling-off when nothing else is open, so an order that
waited in the queue moves on by itself."""

from django.db import migrations

# Frozen here: the rule as this migration installs it (rules.defaults moves on).
NAME = "自动审单：异常处理后 / Approve once the exceptions are cleared"
DESCRIPTION = (
    "异常被负责的角色解除后，订单已付款且没有其他未解除的异常时，10 分钟后自动审核通过；"
    "还有其他异常时，时间线记一条未自动审核并说明原因。默认关闭 / "
    "Once its owner clears an exception, a paid order with nothing else open is approved by the system "
    "ten minutes later; with another exception still open, an 'approval refused' line says which. "
    "Off by default."
)


def install(apps, schema_editor):
    Rule = apps.get_model("rules", "Rule")
    RuleAction = apps.get_model("rules", "RuleAction")
    if Rule.objects.filter(name=NAME).exists():
        return
    rule = Rule.objects.create(
        name=NAME, description=DESCRIPTION, enabled=False, trigger="exception_cleared", position=21
    )
    RuleAction.objects.create(rule=rule, kind="approve", cooling_off_minutes=10)


class Migration(migrations.Migration):
    dependencies = [("rules", "0006_approval_rule")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
