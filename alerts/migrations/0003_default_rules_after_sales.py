"""The default rules added with after-sales and finance (a refused refund tells finance, a paid
refund takes the order off the to-invoice list) reach databases migrated before them. Rules
operations already have, edited or not, are left alone."""

from importlib import import_module

from django.db import migrations

# The same frozen list and installer as 0002.
default_rules_install = import_module("alerts.migrations.0002_default_reaction_rules").default_rules_install


def install(apps, schema_editor):
    default_rules_install(apps.get_model("alerts", "ReactionRule"))


class Migration(migrations.Migration):
    dependencies = [("alerts", "0002_default_reaction_rules")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
