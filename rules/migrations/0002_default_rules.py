"""The seed's rules as editable defaults: high value → priority lane (from the high-value
thresholds it replaces), repeat customer's return → approved with a prepaid label (from the
after-sales rules it replaces), SLA per warehouse (off)."""

from django.db import migrations


def install(apps, schema_editor):
    from rules.defaults import rules_defaults_install

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
