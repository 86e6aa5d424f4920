# Every order belongs to a shop. Apart from 0010 so that the orders' new shop ids are
# committed (and their foreign-key checks run) before the column becomes NOT NULL.
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0010_brands_shops_warehouse_promises")]

    operations = [
        migrations.AlterField(
            model_name="order",
            name="shop",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="orders",
                to="orders.shop",
                verbose_name="shop",
            ),
        ),
    ]
