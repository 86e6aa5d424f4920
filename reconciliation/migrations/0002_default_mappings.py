from django.db import migrations


def install(apps, schema_editor):
    from reconciliation.defaults import default_mappings_install

    default_mappings_install(apps.get_model("reconciliation", "SourceMapping"))


class Migration(migrations.Migration):
    dependencies = [("reconciliation", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
