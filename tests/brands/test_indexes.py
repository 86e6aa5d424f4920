"""On PostgreSQL: the brand scope keeps the boards and the live token on their indexes (a
`shop_id IN (…)` on the order row, no join, no full read of the orders)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.selectors import BoardClock, board_change_token, order_list_for_cs_board

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _uses_index(plan: str, index: str) -> bool:
    return re.search(rf"(Index Scan|Index Only Scan|Bitmap Index Scan) (using|on) {index}\b", plan) is not None


def _explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_scoped_customer_service_board_reads_its_index(users, world):
    queryset = order_list_for_cs_board(clock=BoardClock.read(), user=users["cs1"])
    sql = str(queryset[:51].query)
    assert "orders_shop" not in sql and "orders_brand" not in sql, "the scope is on the order row: no join"
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = queryset[:51].explain()
    assert "Seq Scan on orders_order" not in plan, plan
    assert _uses_index(plan, "order_board_status_idx") or _uses_index(plan, "orders_order_shop_id_[0-9a-f]+"), plan
    assert {o.number for o in queryset} <= world.of({"alpha"})


def test_the_scoped_live_token_walks_the_newest_events(users, world):
    with CaptureQueriesContext(connection) as queries:
        board_change_token(user=users["cs1"])
    token_sql = next(q["sql"] for q in queries.captured_queries if "orders_orderevent" in q["sql"])
    plan = _explain(token_sql)
    # (At a million orders PostgreSQL walks the event ids backwards and checks each order's shop
    # by its primary key: bench/boards.py's cs_rows_unchanged; a handful of rows plan otherwise.)
    assert "Seq Scan" not in plan, plan
