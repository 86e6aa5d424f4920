"""The record cannot be rewritten: the database itself refuses UPDATE and DELETE on the timeline,
shipments, attachments and field history (PostgreSQL). SQLite refuses UPDATE only, because
Django's test flush empties tables with DELETE there (PostgreSQL uses TRUNCATE, which these
row triggers do not see)."""

from django.db import migrations

TABLES = ["orders_orderevent", "orders_shipment", "orders_attachment", "orders_historicalorder"]

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION orderhub_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'OrderHub: rows of % are append-only (% refused)', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTION, params=None)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION orderhub_refuse_change()"
            )
    elif vendor == "sqlite":
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'OrderHub: rows of {table} are append-only'); END"
            )


def backwards(apps, schema_editor):
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only" + (
            f" ON {table}" if schema_editor.connection.vendor == "postgresql" else ""
        ))
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS orderhub_refuse_change()")


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
