"""The logistics watch's alert kinds get their default settings, and every order already in
flight (paid, not delivered or closed) gets its watch row from its timeline, so the watch
covers the orders of the day of the upgrade too.

The backfill runs the app's own code (alerts.watch.watch_backfill), not historical models:
it reads the timeline, shipments and carrier scans the way the live watch does. It is correct
for the schema of this migration; a later change to OrderWatch that this code cannot write
must replace it here with a copy frozen at this schema."""

from django.db import migrations

from alerts.defaults import alert_defaults_install


def install(apps, schema_editor):
    alert_defaults_install(apps.get_model("alerts", "AlertKindSettings"))
    from alerts.watch import watch_backfill

    watch_backfill()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0010_logistics_watch"),
        ("integrations", "0002_payment_gateway_account"),
    ]

    # Going back leaves the rows: the settings may have been edited, and 0010's reversal drops the watch.
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
