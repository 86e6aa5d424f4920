"""Room on each page of the alerts table for its rows' next versions (PostgreSQL fillfactor 50).

Every sweep touches every active alert of its kind each minute (last seen at, times seen, title,
details): none of those columns is indexed, so with room on the page PostgreSQL writes the new
version beside the old one (a HOT update) instead of adding an entry to each of the table's
eight indexes. On 5,000,000 orders (135,000 stale-order alerts, bench/growth.py) the touch went
from 3.6-12 s to 2.3 s, and the indexes stop growing by a copy of every alert a minute. Pages
written before the change fill up as they are rewritten; SQLite has no such setting."""

from django.db import migrations


def _fillfactor(value: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE alerts_alert SET (fillfactor = {value})")

    return apply


class Migration(migrations.Migration):
    dependencies = [("alerts", "0008_merged_state")]

    operations = [migrations.RunPython(_fillfactor(50), _fillfactor(100), elidable=False)]
