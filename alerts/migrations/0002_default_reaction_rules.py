from django.db import migrations

from alerts.defaults import DEFAULT_RULES, default_rules_install


def install(apps, schema_editor):
    default_rules_install(apps.get_model("alerts", "ReactionRule"))


def remove(apps, schema_editor):
    ReactionRule = apps.get_model("alerts", "ReactionRule")
    for _name, event_type, kind, _cs, _role in DEFAULT_RULES:
        ReactionRule.objects.filter(event_type=event_type, kind=kind).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
