"""The after-sales rules have been the "Repeat customer's return" operations rule since rules
0002: their table goes."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('aftersales', '0001_initial'),
        ('rules', '0002_default_rules'),
    ]

    operations = [
        migrations.DeleteModel(
            name='AfterSalesRules',
        ),
        migrations.DeleteModel(
            name='HistoricalAfterSalesRules',
        ),
    ]
