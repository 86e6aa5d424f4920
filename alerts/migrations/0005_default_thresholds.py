from django.db import migrations

from alerts.defaults import alert_defaults_install


def install(apps, schema_editor):
    alert_defaults_install(apps.get_model("alerts", "AlertKindSettings"), apps.get_model("alerts", "PriorityThreshold"))


class Migration(migrations.Migration):
    dependencies = [("alerts", "0004_alerts_and_thresholds")]

    # Going back leaves the rows: operations may have edited them since.
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
