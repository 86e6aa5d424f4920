"""The shipped approval rule (审单策略), switched off: paid → approved by the system after a
10-minute cooling-off when the order has no open exception. Off, because an upgrade must not
start approving a running hub's orders: operations preview it and switch it on."""

from django.db import migrations

# Frozen here: the rule as this migration installs it (rules.defaults moves on).
NAME = "自动审单：干净订单 / Approve clean orders"
DESCRIPTION = (
    "付款 10 分钟后自动审核通过没有异常的订单（买家的早期取消或改地址先到）；"
    "有异常的订单进入异常队列，由负责的角色处理。默认关闭：先预览，再开启 / "
    "Ten minutes after payment, orders with no exception are approved by the system "
    "(a buyer's early cancel or address change lands first); an order with an exception waits in its owner's "
    "exception queue. Off by default: preview it, then switch it on."
)


def install(apps, schema_editor):
    Rule = apps.get_model("rules", "Rule")
    RuleAction = apps.get_model("rules", "RuleAction")
    if Rule.objects.filter(name=NAME).exists():
        return
    rule = Rule.objects.create(name=NAME, description=DESCRIPTION, enabled=False, trigger="pay", position=20)
    RuleAction.objects.create(rule=rule, kind="approve", cooling_off_minutes=10)


class Migration(migrations.Migration):
    dependencies = [("rules", "0005_approval_and_places")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
