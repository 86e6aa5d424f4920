"""The service users of API clients made before this join the service-accounts group, so that
they stop showing as people to pick (owners, a brand's staff) or to notify by role."""

from django.db import migrations

SERVICE_ACCOUNTS_GROUP = "service_accounts"  # orders.states.SERVICE_ACCOUNTS_GROUP, as of now


def service_users_group(apps, schema_editor):
    ApiClient = apps.get_model("api", "ApiClient")
    Group = apps.get_model("auth", "Group")
    user_ids = list(ApiClient.objects.values_list("service_user_id", flat=True))
    if not user_ids:
        return
    group, _created = Group.objects.get_or_create(name=SERVICE_ACCOUNTS_GROUP)
    group.user_set.add(*user_ids)


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(service_users_group, migrations.RunPython.noop)]
