"""A rule's actions can run any built-in reaction and notify named users and chat robots (by
email too): the fields the reaction rules had, so rules 0004 can carry them over."""

import django.db.models.deletion
import rules.models
import simple_history.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0002_content_types_from_alerts'),
        ('rules', '0002_default_rules'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalruleaction',
            name='email',
            field=models.BooleanField(default=False, verbose_name='also by email'),
        ),
        migrations.AddField(
            model_name='historicalruleaction',
            name='params',
            field=models.JSONField(blank=True, default=dict, verbose_name='parameters'),
        ),
        migrations.AddField(
            model_name='historicalruleaction',
            name='reaction',
            field=models.CharField(blank=True, choices=rules.models.reaction_choices, max_length=48, verbose_name='reaction'),
        ),
        migrations.AddField(
            model_name='ruleaction',
            name='email',
            field=models.BooleanField(default=False, verbose_name='also by email'),
        ),
        migrations.AddField(
            model_name='ruleaction',
            name='params',
            field=models.JSONField(blank=True, default=dict, verbose_name='parameters'),
        ),
        migrations.AddField(
            model_name='ruleaction',
            name='reaction',
            field=models.CharField(blank=True, choices=rules.models.reaction_choices, max_length=48, verbose_name='reaction'),
        ),
        migrations.AddField(
            model_name='ruleaction',
            name='robots',
            field=models.ManyToManyField(blank=True, related_name='+', to='notifications.chatrobot', verbose_name='chat robots'),
        ),
        migrations.AddField(
            model_name='ruleaction',
            name='users',
            field=models.ManyToManyField(blank=True, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='named users'),
        ),
        migrations.AlterField(
            model_name='historicalruleaction',
            name='kind',
            field=models.CharField(choices=[('set_priority', 'Set the priority lane'), ('assign_cs_owner', 'Assign a customer-service owner'), ('assign_warehouse', 'Assign a warehouse'), ('approve_return', 'Approve the return with a prepaid label'), ('notify', 'Notify someone'), ('open_alert', 'Open an alert'), ('hold_for_risk', 'Hold for risk review'), ('reaction', 'Run a built-in reaction')], max_length=32, verbose_name='action'),
        ),
        migrations.AlterField(
            model_name='ruleaction',
            name='kind',
            field=models.CharField(choices=[('set_priority', 'Set the priority lane'), ('assign_cs_owner', 'Assign a customer-service owner'), ('assign_warehouse', 'Assign a warehouse'), ('approve_return', 'Approve the return with a prepaid label'), ('notify', 'Notify someone'), ('open_alert', 'Open an alert'), ('hold_for_risk', 'Hold for risk review'), ('reaction', 'Run a built-in reaction')], max_length=32, verbose_name='action'),
        ),
        migrations.CreateModel(
            name='HistoricalRuleAction_robots',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('m2m_history_id', models.AutoField(primary_key=True, serialize=False)),
                ('chatrobot', models.ForeignKey(blank=True, db_constraint=False, db_tablespace='', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='notifications.chatrobot')),
                ('history', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, to='rules.historicalruleaction')),
                ('ruleaction', models.ForeignKey(blank=True, db_constraint=False, db_tablespace='', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='rules.ruleaction')),
            ],
            options={
                'verbose_name': 'HistoricalRuleAction_robots',
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='HistoricalRuleAction_users',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('m2m_history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, to='rules.historicalruleaction')),
                ('ruleaction', models.ForeignKey(blank=True, db_constraint=False, db_tablespace='', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='rules.ruleaction')),
                ('user', models.ForeignKey(blank=True, db_constraint=False, db_tablespace='', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'HistoricalRuleAction_users',
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
    ]
