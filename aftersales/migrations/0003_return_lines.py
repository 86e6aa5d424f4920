"""Returns name the order lines that come back and how many units (ReturnLine): the refund
proposed is computed from them. Depends on the migration that made OrderLine, nothing later."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('aftersales', '0002_retired_rule_models'),
        ('orders', '0013_order_lines'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReturnLine',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('quantity', models.PositiveIntegerField(validators=[django.core.validators.MinValueValidator(1)], verbose_name='quantity returned')),
                ('order_line', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='return_lines', to='orders.orderline', verbose_name='order line')),
                ('return_request', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='aftersales.returnrequest', verbose_name='return')),
            ],
            options={
                'verbose_name': 'returned line',
                'verbose_name_plural': 'returned lines',
                'ordering': ['return_request', 'order_line__position'],
                'constraints': [models.CheckConstraint(condition=models.Q(('quantity__gte', 1)), name='return_line_quantity_positive'), models.UniqueConstraint(fields=('return_request', 'order_line'), name='return_line_once_per_return')],
            },
        ),
    ]
