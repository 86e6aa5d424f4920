"""`field__any=[...]`: `field = ANY(%s)` with the values as one array parameter on PostgreSQL.

A batch of an import looks up its 5,000 channel order ids (and the logistics watch its 5,000
order ids) at once. `field__in=` sends one placeholder per value: Django prepares each value
and psycopg splices each into the statement, which together cost more than the database takes
to answer. One array parameter costs neither. Other databases get the same `IN (...)`
`__in` would send (callers keep within SQLite's bound on parameters, as for `__in`).

The values are compared as given: pass what the column holds (ids as ints, not orders; codes
as str)."""

from __future__ import annotations

from django.db.models import Field, ForeignObject, Lookup


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        return list(self.rhs)

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = self.rhs
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        if not values:
            return "1 = 0", list(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


# Related fields take only their own class's lookups, not Field's: `order_id__any=` needs both.
Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)
