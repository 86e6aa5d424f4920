"""ChatRobot, ChatDelivery and Notification now belong to the notifications app
(notifications 0001): the fields that point at ChatRobot point there, and the alerts app forgets
the three models. State only: the tables and the many-to-many tables
(alerts_reactionrule_recipient_robots, alerts_alertkindsettings_robots,
alerts_historicalalertkindsettings_robots) keep their names and their `chatrobot_id` columns,
and their foreign keys already reference alerts_chatrobot, the table ChatRobot still uses.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0005_default_thresholds'),
        ('notifications', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='reactionrule',
                    name='recipient_robots',
                    field=models.ManyToManyField(blank=True, related_name='+', to='notifications.chatrobot', verbose_name='chat robots'),
                ),
                migrations.AlterField(
                    model_name='alertkindsettings',
                    name='robots',
                    field=models.ManyToManyField(blank=True, related_name='alert_kinds', to='notifications.chatrobot', verbose_name='escalate to robots'),
                ),
                migrations.AlterField(
                    model_name='historicalalertkindsettings_robots',
                    name='chatrobot',
                    field=models.ForeignKey(blank=True, db_constraint=False, db_tablespace='', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='notifications.chatrobot'),
                ),
                migrations.DeleteModel(name='ChatDelivery'),
                migrations.DeleteModel(name='Notification'),
                migrations.DeleteModel(name='ChatRobot'),
            ],
            database_operations=[],
        ),
    ]
