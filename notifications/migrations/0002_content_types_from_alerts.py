"""The content types of the moved models change app label, alerts → notifications, so the
permissions that hang on them (view_notification, add_chatrobot …) become
`notifications.view_notification` … and every group and user keeps what it was given. The admin's
change history of these rows stays attached too (it points at the same content type rows).

If `migrate` already made the notifications content types (its post_migrate step creates them for
every installed model, e.g. after a partial migrate), whoever held one of their permissions is
given the old one instead, the new rows are dropped and the old ones renamed: one content type per
model, the old one with its history.
"""

from django.conf import settings
from django.db import migrations

MOVED_MODELS = ("chatrobot", "chatdelivery", "notification")


def _content_types_move(apps, schema_editor, *, from_label: str, to_label: str) -> None:
    db = schema_editor.connection.alias
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    GroupPermission = apps.get_model("auth", "Group").permissions.through
    UserPermission = apps.get_model(settings.AUTH_USER_MODEL).user_permissions.through
    for model in MOVED_MODELS:
        old = ContentType.objects.using(db).filter(app_label=from_label, model=model).first()
        if old is None:  # a fresh database: post_migrate makes the new one
            continue
        new = ContentType.objects.using(db).filter(app_label=to_label, model=model).first()
        if new is not None:
            for perm in Permission.objects.using(db).filter(content_type=new):
                kept = Permission.objects.using(db).filter(content_type=old, codename=perm.codename).first()
                if kept is None:
                    perm.content_type = old
                    perm.save(update_fields=["content_type"])
                    continue
                for row in GroupPermission.objects.using(db).filter(permission=perm):
                    GroupPermission.objects.using(db).get_or_create(group_id=row.group_id, permission=kept)
                for row in UserPermission.objects.using(db).filter(permission=perm):
                    UserPermission.objects.using(db).get_or_create(user_id=row.user_id, permission=kept)
            new.delete()
        old.app_label = to_label
        old.save(update_fields=["app_label"])
    ContentType.objects.clear_cache()


def forwards(apps, schema_editor):
    _content_types_move(apps, schema_editor, from_label="alerts", to_label="notifications")


def backwards(apps, schema_editor):
    _content_types_move(apps, schema_editor, from_label="notifications", to_label="alerts")


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0001_initial'),
        ('alerts', '0006_notifications_app'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('admin', '0003_logentry_add_action_flag_choices'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
