"""ChatRobot, ChatDelivery and Notification move here from the alerts app: in the migration state
only. Their tables stay as they are (`alerts_chatrobot`, `alerts_chatdelivery`,
`alerts_notification`, named in each model's Meta.db_table), so no row is copied and nothing
waits on a lock; alerts 0006 points its many-to-many fields here and forgets the old models.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    # The tables were made by alerts 0001 (ChatRobot, ChatDelivery, Notification lived there).
    dependencies = [
        ('alerts', '0005_default_thresholds'),
        ('orders', '0009_warehouse_promise'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ChatRobot',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, unique=True, verbose_name='name')),
                        ('kind', models.CharField(choices=[('wecom', 'WeCom group robot'), ('dingtalk', 'DingTalk custom robot')], max_length=16, verbose_name='kind')),
                        ('webhook_url', models.CharField(max_length=500, verbose_name='webhook URL')),
                        ('secret', models.CharField(blank=True, max_length=200, verbose_name='signing secret')),
                        ('enabled', models.BooleanField(default=True, verbose_name='enabled')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                    ],
                    options={
                        'verbose_name': 'chat robot',
                        'verbose_name_plural': 'chat robots',
                        'db_table': 'alerts_chatrobot',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='ChatDelivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('text', models.TextField(verbose_name='text')),
                        ('sent_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='sent at')),
                        ('outbox_message', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='chat_delivery', to='orders.outboxmessage')),
                        ('robot', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='notifications.chatrobot')),
                    ],
                    options={
                        'verbose_name': 'chat delivery',
                        'verbose_name_plural': 'chat deliveries',
                        'db_table': 'alerts_chatdelivery',
                        'ordering': ['-sent_at'],
                    },
                ),
                migrations.CreateModel(
                    name='Notification',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('recipient_role', models.CharField(choices=[('customer_service', 'Customer service'), ('warehouse', 'Warehouse'), ('finance', 'Finance'), ('operations', 'Operations'), ('tech_lead', 'Tech lead'), ('system', 'System'), ('admin', 'Administrator')], max_length=32, verbose_name='recipient role')),
                        ('text', models.TextField(verbose_name='text')),
                        ('event_at', models.DateTimeField(verbose_name='event committed at')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='delivered at')),
                        ('read_at', models.DateTimeField(blank=True, null=True, verbose_name='read at')),
                        ('acted_at', models.DateTimeField(blank=True, null=True, verbose_name='acted at')),
                        ('event', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='orders.orderevent', verbose_name='event')),
                        ('order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='orders.order', verbose_name='order')),
                        ('outbox_message', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='notifications', to='orders.outboxmessage')),
                        ('recipient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to=settings.AUTH_USER_MODEL, verbose_name='recipient')),
                    ],
                    options={
                        'verbose_name': 'notification',
                        'verbose_name_plural': 'notifications',
                        'db_table': 'alerts_notification',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(fields=['recipient', '-created_at'], name='notification_inbox_idx'), models.Index(condition=models.Q(('read_at__isnull', True)), fields=['recipient'], name='notification_unread_idx'), models.Index(condition=models.Q(('acted_at__isnull', True)), fields=['created_at'], name='notification_unacted_idx')],
                        'constraints': [models.UniqueConstraint(fields=('outbox_message', 'recipient'), name='notification_once_per_recipient')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
