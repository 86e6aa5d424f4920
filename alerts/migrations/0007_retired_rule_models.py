"""The reaction rules are operations rules since rules 0004, and the high-value thresholds have
been the "High value" rules since rules 0002: their tables go."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0006_notifications_app'),
        ('rules', '0004_reaction_rules_carried_over'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='historicalprioritythreshold',
            name='history_user',
        ),
        migrations.DeleteModel(
            name='PriorityThreshold',
        ),
        migrations.RemoveField(
            model_name='reactionrule',
            name='recipient_robots',
        ),
        migrations.RemoveField(
            model_name='reactionrule',
            name='recipient_users',
        ),
        migrations.DeleteModel(
            name='HistoricalPriorityThreshold',
        ),
        migrations.DeleteModel(
            name='ReactionRule',
        ),
    ]
