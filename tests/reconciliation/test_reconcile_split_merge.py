"""拆单/合单 do not show up as differences: reconciliation speaks of the channel's orders, so a
split or merged order is compared with what the buyer bought on it (its lines wherever they are
now, the amount before money moved) and a merged one with the status of the order it ships in."""

from __future__ import annotations

import json

import pytest

from orders.models import OrderException
from orders.services.split_merge import order_merge, order_split
from tests.factories import channel_order
from tests.reconciliation.test_reconcile import run, write_csv
from tests.reconciliation.test_reconcile_quantities import (
    LINE_HEADER,
    ORDERED,
    first_row,
    line,
    more_row,
    report_rows,
    taobao_order,
)

pytestmark = pytest.mark.django_db


def buyer_order(external_id, *lines, amount):
    return channel_order(
        external_id, channel="taobao", amount=amount, lines=lines, ordered_at=ORDERED, buyer_phone="13900001111"
    )


def test_split_and_merged_orders_reconcile_as_bought(tmp_path, users):
    split = taobao_order("T-SPLIT", line("TEA-01", 3), line("CUP-02", 1), amount="40.00")
    first = buyer_order("T-FIRST", line("TEA-01", 1), amount="10.00")
    second = buyer_order("T-SECOND", line("BAG-03", 2), amount="20.00")
    OrderException.objects.all().delete()  # same buyer, items, within hours: suspected duplicates
    rows_as_bought = [
        first_row(split, "TEA-01", 3),
        more_row(split, "CUP-02", 1),
        first_row(first, "TEA-01", 1),
        first_row(second, "BAG-03", 2),
    ]
    tea = split.lines.get(sku="TEA-01")
    order_split(order_id=split.pk, actor=users["cs1"], lines={tea.pk: 2})
    order_merge(order_ids=[first.pk, second.pk], actor=users["cs1"])
    path = write_csv(tmp_path / "tb.csv", LINE_HEADER, rows_as_bought, encoding="gbk")
    report = tmp_path / "report.csv"

    data = json.loads(run(path, "--source", "platform", "--json", "--report", report))

    assert data["orders_compared"] == 3
    # Nothing differs: not the split order's units or amount, not the merged order's status.
    assert report_rows(report) == []
    assert set(data["differences"].values()) == {0}

    # Against the hub's present figures instead, the same file would have differed: the proof
    # that the comparison above looked through the split and the merge.
    split.refresh_from_db()
    assert (split.amount, split.lines.get(sku="TEA-01").quantity) == (20, 1)
