"""Quantities in an export (an order's total units, or one row per line: SKU × quantity) are
compared with the hub's lines: units that differ and a SKU on one side only are a
`quantity_mismatch` with both figures; matching quantities, and a file without a quantity
column, give what they gave before."""

from __future__ import annotations

import csv
import datetime as dt
import json
import zoneinfo

import pytest

from orders.models import Order
from reconciliation.models import ReconciliationRun
from reconciliation.services import mapping_problems
from tests.factories import channel_order
from tests.reconciliation.test_reconcile import run, write_csv

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
ORDERED = dt.datetime(2026, 1, 28, 10, 0, tzinfo=SHANGHAI)
ORDERED_TEXT = "2026-01-28 10:00:00"
# The Taobao order export joined to its 宝贝 (item) rows: one row per line, the order's columns on
# its first row only.
LINE_HEADER = ["订单编号", "订单状态", "买家实际支付金额", "物流单号", "订单创建时间", "商家编码", "购买数量"]
STATUS = "买家已付款,等待卖家发货"
NO_QUANTITY_KINDS = {
    "missing_in_hub",
    "missing_in_source",
    "status_mismatch",
    "amount_mismatch",
    "payment_mismatch",
    "tracking_mismatch",
    "unreadable_value",
}


def line(sku, quantity, **fields):
    return {"sku": sku, "quantity": quantity, "unit_price": "10.00", **fields}


def taobao_order(external_id, *lines, amount="100.00"):
    return channel_order(external_id, channel="taobao", amount=amount, lines=lines, ordered_at=ORDERED)


def first_row(order, sku, quantity):
    return [order.external_id, STATUS, f"{order.amount}", "", ORDERED_TEXT, sku, quantity]


def more_row(order, sku, quantity):
    return [order.external_id, "", "", "", "", sku, quantity]


def report_rows(path) -> list[dict]:
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))


@pytest.fixture
def line_hub(db):
    return {
        "same": taobao_order("T-SAME", line("TEA-01", 2), line("CUP-02", 1)),
        "more": taobao_order("T-MORE", line("TEA-01", 2)),
        # The bag is a gift line: it goes out in the parcel, so its units count.
        "gift": taobao_order("T-GIFT", line("TEA-01", 1), line("BAG-01", 1, unit_price="0.00", is_gift=True)),
        "extra": taobao_order("T-EXTRA", line("TEA-01", 1)),
        "no_lines": taobao_order("T-NOLINES"),
    }


def test_line_rows_find_units_and_skus_that_differ(tmp_path, line_hub):
    hub = line_hub
    assert Order.objects.get(pk=hub["same"].pk).main_status in ("pending_review", "reviewed", "awaiting_shipment")
    path = write_csv(
        tmp_path / "淘宝宝贝.csv",
        LINE_HEADER,
        [
            first_row(hub["same"], "TEA-01", 1),
            more_row(hub["same"], "tea-01", "1"),  # the same SKU on two rows, any case: 2 in all
            more_row(hub["same"], "CUP-02", "1"),
            first_row(hub["more"], "TEA-01", 3),
            first_row(hub["gift"], "TEA-01", 1),
            first_row(hub["extra"], "TEA-01", 1),
            ["", "", "", "", "", "MUG-09", "1"],  # its order id left blank: still T-EXTRA's line
            first_row(hub["no_lines"], "TEA-01", 5),  # the hub has no lines to compare with
            ["T-NOT-IN-HUB", STATUS, "10.00", "", ORDERED_TEXT, "TEA-01", "1"],
            ["T-NOT-IN-HUB", "", "", "", "", "CUP-02", "1"],
        ],
        encoding="gbk",
    )
    report = tmp_path / "report.csv"

    data = json.loads(run(path, "--source", "platform", "--json", "--report", report))

    assert data["rows_read"] == 10 and data["orders_compared"] == 5
    assert data["differences"] == {
        "missing_in_hub": 1,  # once for the order, not once per line
        "missing_in_source": 0,
        "status_mismatch": 0,
        "amount_mismatch": 0,  # the order's columns are read from its first row
        "payment_mismatch": 0,
        "tracking_mismatch": 0,
        "unreadable_value": 0,
        "quantity_mismatch": 3,
    }
    found = {
        (r["order"], r["row"]): (r["field"], r["source_value"], r["hub_value"], r["note"])
        for r in report_rows(report)
        if r["kind"] == "quantity_mismatch"
    }
    assert found == {
        (hub["more"].number, "5"): ("sku", "TEA-01 × 3", "TEA-01 × 2", "units differ"),
        (hub["gift"].number, "6"): ("sku", "", "BAG-01 × 1", "SKU missing in the source"),
        (hub["extra"].number, "7"): ("sku", "MUG-09 × 1", "", "SKU missing in the hub"),
    }
    recorded = ReconciliationRun.objects.get()
    assert recorded.differences == data["differences"]


def test_matching_line_rows_give_no_difference(tmp_path, line_hub):
    hub = line_hub
    path = write_csv(
        tmp_path / "tb.csv",
        LINE_HEADER,
        [
            first_row(hub["same"], "CUP-02", 1),
            more_row(hub["same"], "TEA-01", 2),
            first_row(hub["more"], "TEA-01", 2),
            first_row(hub["gift"], "TEA-01", 1),
            more_row(hub["gift"], "BAG-01", 1),
            first_row(hub["extra"], "TEA-01", 1),
            first_row(hub["no_lines"], "TEA-01", 1),
        ],
    )
    data = json.loads(run(path, "--source", "platform", "--json"))
    assert data["differences"]["quantity_mismatch"] == 0
    assert sum(data["differences"].values()) == 0
    assert data["status_compared"] == 5 and data["status_matched"] == 5


def test_total_units_per_order_with_english_headers(tmp_path, db):
    three = channel_order("S-3", lines=[line("TEA-01", 2), line("CUP-02", 1)])
    two = channel_order("S-2", lines=[line("TEA-01", 2)])
    path = write_csv(
        tmp_path / "ledger.csv",
        ["订单号", "金额", "收款状态", "Qty"],
        [[three.number, "100.00", "已收款", "3"], [two.number, "100.00", "已收款", "5"]],
    )
    report = tmp_path / "report.csv"
    out = run(path, "--source", "finance", "--fix", "--report", report)

    recorded = ReconciliationRun.objects.get()
    assert recorded.differences["quantity_mismatch"] == 1
    assert sum(recorded.differences.values()) == 1
    [mismatch] = [r for r in report_rows(report) if r["kind"] == "quantity_mismatch"]
    assert (mismatch["order"], mismatch["field"], mismatch["source_value"], mismatch["hub_value"]) == (
        two.number,
        "quantity",
        "5",
        "2",
    )
    # Quantities are a person's to look at, never changed by a run.
    assert "quantities differ (units or SKU)" in out
    assert f"row 3: {two.number}: quantities are never changed by reconciliation" in out
    assert recorded.fixed == 0 and recorded.not_fixed == 1


def test_a_mapping_may_name_the_quantity_columns(tmp_path, make_order):
    from reconciliation.models import SourceMapping

    packed = make_order("packed", amount="30.00", lines=[line("TEA-01", 2), line("CUP-02", 1)])
    SourceMapping.objects.create(
        source="wms",
        name="出库明细",
        columns={"number": "单号", "status": "出库状态", "sku": "货号", "quantity": "件数"},
        statuses={"待打包": ["awaiting_shipment"]},
    )
    assert (
        mapping_problems(
            columns={"number": "单号", "sku": "货号", "quantity": "件数"}, statuses={}, payment_statuses={}
        )
        == {}
    )
    path = write_csv(
        tmp_path / "wms.csv",
        ["单号", "出库状态", "货号", "件数"],
        [[packed.number, "待打包", "TEA-01", "2"], [packed.number, "待打包", "CUP-02", "2"]],
    )
    data = json.loads(run(path, "--source", "wms", "--mapping", "出库明细", "--json"))
    assert data["differences"]["quantity_mismatch"] == 1
    assert data["orders_compared"] == 1 and data["status_matched"] == 1


def test_an_unreadable_quantity_is_said_and_not_compared(tmp_path, db):
    order = channel_order("S-X", lines=[line("TEA-01", 2)])
    path = write_csv(
        tmp_path / "ledger.csv",
        ["订单号", "金额", "收款状态", "商品数量"],
        [[order.number, "100.00", "已收款", "两件"]],
    )
    report = tmp_path / "report.csv"
    data = json.loads(run(path, "--source", "finance", "--json", "--report", report))
    assert data["differences"]["unreadable_value"] == 1 and data["differences"]["quantity_mismatch"] == 0
    [row] = [r for r in report_rows(report) if r["kind"] == "unreadable_value"]
    assert (row["field"], row["source_value"]) == ("quantity", "两件")


def test_a_file_without_quantity_columns_gives_todays_result(tmp_path, db):
    # The hub's orders have lines; the file has no quantity column: nothing about quantities.
    order = channel_order("S-N", amount="100.00", lines=[line("TEA-01", 2)])
    other = channel_order("S-M", amount="50.00", lines=[line("TEA-01", 5)])
    path = write_csv(
        tmp_path / "ledger.csv",
        ["订单号", "金额", "收款状态", "备注"],
        [[order.number, "100.00", "已收款", "3件"], [other.number, "51.00", "已收款", ""], ["", "1.00", "已收款", ""]],
    )
    data = json.loads(run(path, "--source", "finance", "--json"))
    assert set(data["differences"]) == NO_QUANTITY_KINDS
    assert data["differences"]["amount_mismatch"] == 1 and data["differences"]["missing_in_hub"] == 1
    assert data["rows_read"] == 3 and data["orders_compared"] == 2
    out = run(path, "--source", "finance")
    assert "quantities differ" not in out and "amount differs" in out
