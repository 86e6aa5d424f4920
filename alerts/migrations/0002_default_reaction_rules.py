from django.db import migrations

# Frozen here: the reaction rules as this migration installed them (they are operations rules
# since rules 0004; a migration must not depend on code that moves on).
DEFAULT_RULES = [
    # name, event type, reaction, tell the CS owner, tell a role
    ("审核通过：通知客服负责人 / Approved: tell the CS owner", "approve", "notify", True, ""),
    ("打包完成：通知客服负责人 / Packed: tell the CS owner", "pack", "notify", True, ""),
    ("打包完成：预约快递上门取件 / Packed: book the carrier pickup", "pack", "carrier_book_pickup", False, ""),
    ("打包完成：加入财务待开票清单 / Packed: add to the to-invoice list", "pack", "invoice_list_add", False, ""),
    ("已发货：上传运单 / Shipped: upload the waybill", "ship", "carrier_upload_waybill", False, ""),
    ("退款被拒：通知财务 / A refund was refused: tell finance", "refund_failed", "notify", False, "finance"),
    (
        "退款已打款：移出待开票清单 / Refund paid: off the to-invoice list",
        "refund",
        "invoice_list_cancel",
        False,
        "",
    ),
    (
        "反应最终失败：通知技术负责人 / A reaction failed: tell the tech lead",
        "reaction_failed",
        "notify",
        False,
        "tech_lead",
    ),
]


def default_rules_install(rule_model) -> None:
    """Create the rules that are missing (by event type and reaction); never touch edited ones."""
    for name, event_type, kind, cs_owner, role in DEFAULT_RULES:
        rule_model.objects.get_or_create(
            event_type=event_type,
            kind=kind,
            defaults={"name": name, "recipient_cs_owner": cs_owner, "recipient_role": role, "params": {}},
        )



def install(apps, schema_editor):
    default_rules_install(apps.get_model("alerts", "ReactionRule"))


def remove(apps, schema_editor):
    ReactionRule = apps.get_model("alerts", "ReactionRule")
    for _name, event_type, kind, _cs, _role in DEFAULT_RULES:
        ReactionRule.objects.filter(event_type=event_type, kind=kind).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
