"""Order lines from files: one line per row grouped by the order id, or an items column; every
line checked and the sum against the amount, all rows or none."""

from __future__ import annotations

from decimal import Decimal

import openpyxl
import pytest

from integrations.channels.csv_import import import_file_read
from integrations.services.imports import OrdersImportRefused, orders_import_file
from orders.models import Order, OrderLine

pytestmark = pytest.mark.django_db


def _write(tmp_path, text: str, *, name="orders.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _lines(external_id):
    return [
        (line.sku, line.name, line.quantity, line.unit_price, line.discount, line.is_gift)
        for line in OrderLine.objects.filter(order__external_id=external_id)
    ]


MANUAL = (
    "external_id,amount,shipping_fee,paid,buyer_remark,sku,item_name,quantity,unit_price,discount,gift_line\n"
    "M-1,186.00,10.00,yes,周末送,TEA-01,龙井,2,88.00,20.00,\n"
    "M-1,,,,,CUP-02,玻璃杯,1,20.00,,\n"
    "M-1,186.00,,,,SAMPLE,试用装,1,0,,是\n"
    "M-2,30.00,,no,,CUP-02,玻璃杯,1,30.00,,\n"
)


def test_one_line_per_row_grouped_by_the_order_id(tmp_path, users):
    result = orders_import_file(path=_write(tmp_path, MANUAL), channel="manual")
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    assert _lines("M-1") == [
        ("TEA-01", "龙井", 2, Decimal("88.00"), Decimal("20.00"), False),
        ("CUP-02", "玻璃杯", 1, Decimal("20.00"), Decimal("0.00"), False),
        ("SAMPLE", "试用装", 1, Decimal("0.00"), Decimal("0.00"), True),
    ]
    first = Order.objects.get(external_id="M-1")
    assert (first.state, first.shipping_fee, first.buyer_remark) == ("paid", Decimal("10.00"), "周末送")
    assert first.events.get(action="created").data["items"] == 4
    # The same file again: nothing created, no line written twice.
    again = orders_import_file(path=_write(tmp_path, MANUAL), channel="manual")
    assert (again.created, again.unchanged) == (0, 2) and OrderLine.objects.count() == 4


def test_a_gbk_taobao_export_joined_to_its_items(tmp_path, users):
    text = (
        "订单编号,买家实付,邮费,订单状态,订单创建时间,订单付款时间,收货地址,买家留言,商家编码,宝贝标题,购买数量,价格\n"
        "T1001,106.00,6.00,买家已付款,2026-11-11 00:00:05,2026-11-11 00:00:09,"
        "浙江省 杭州市 余杭区 文一西路 1 号,,A-1,毛巾,2,30.00\n"
        "T1001,,,,,,,,B-2,牙刷,1,40.00\n"
    )
    result = orders_import_file(path=_write(tmp_path, text, name="淘宝.csv", encoding="gbk"), channel="taobao")
    assert result.created == 1
    assert [(sku, qty) for sku, _n, qty, *_rest in _lines("T1001")] == [("A-1", 2), ("B-2", 1)]


def test_an_xlsx_shopify_export_with_lineitem_columns(tmp_path, users):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Id", "Total", "Currency", "Created at", "Financial Status", "Shipping", "Lineitem quantity"])
    sheet.cell(1, 8, "Lineitem name")
    sheet.cell(1, 9, "Lineitem price")
    sheet.cell(1, 10, "Lineitem sku")
    sheet.append(["5001", 47.5, "USD", "2026-11-27 09:00:00 -0500", "paid", 5, 1, "Mug", 12.5, "MUG-1"])
    sheet.append(["5001", None, None, None, None, None, 2, "Spoon", 15, "SPN-1"])
    path = tmp_path / "shopify.xlsx"
    workbook.save(path)
    result = orders_import_file(path=path, channel="shopify")
    assert result.created == 1
    assert _lines("5001") == [
        ("MUG-1", "Mug", 1, Decimal("12.50"), Decimal("0.00"), False),
        ("SPN-1", "Spoon", 2, Decimal("15.00"), Decimal("0.00"), False),
    ]


def test_an_items_column(tmp_path, users):
    text = "external_id,amount,items\nI-1,206.00,TEA-01*2@88.00；CUP-02×1@30.00\n"
    orders_import_file(path=_write(tmp_path, text), channel="manual")
    assert [(sku, qty, price) for sku, _n, qty, price, *_rest in _lines("I-1")] == [
        ("TEA-01", 2, Decimal("88.00")),
        ("CUP-02", 1, Decimal("30.00")),
    ]


@pytest.mark.parametrize(
    ("text", "row", "column", "reason"),
    [
        (
            "external_id,amount,sku,quantity,unit_price\nB-1,10.00,A,-1,10.00\n",
            2,
            "quantity",
            "whole number of at least 1",
        ),
        (
            "external_id,amount,sku,quantity,unit_price\nB-1,10.00,A,1,10.00\nB-1,,B,1,5.00\n",
            2,
            "amount",
            "but the order's amount is 10.00",
        ),
        (
            "external_id,amount,sku,quantity,unit_price\nB-1,15.00,A,1,10.00\nB-1,16.00,B,1,5.00\n",
            3,
            "amount",
            "differs from the order's first row (row 2)",
        ),
        ("external_id,amount,items\nB-1,10.00,A*1\n", 2, "items", "is not SKU*quantity@unit price"),
        ("external_id,amount,currency,items\nB-1,10.00,ABC,A*1@10\n", 2, "currency", "is not a currency code"),
    ],
)
def test_a_bad_line_or_sum_names_its_row_and_nothing_is_imported(tmp_path, users, text, row, column, reason):
    good = "external_id,amount\nOK-1,5.00\n"
    with pytest.raises(OrdersImportRefused) as refused:
        orders_import_file(path=_write(tmp_path, text), channel="manual")
    errors = refused.value.errors
    assert [(e.row, e.column) for e in errors] == [(row, column)], errors
    assert reason in errors[0].reason
    assert not Order.objects.exists() and not OrderLine.objects.exists()
    assert orders_import_file(path=_write(tmp_path, good), channel="manual").created == 1


def test_without_line_columns_an_order_id_twice_is_still_an_error(tmp_path):
    parsed = import_file_read(_write(tmp_path, "external_id,amount\nD-1,1.00\nD-1,1.00\n"), channel="manual")
    assert [(e.row, "one row per order" in e.reason) for e in parsed.errors] == [(3, True)]
