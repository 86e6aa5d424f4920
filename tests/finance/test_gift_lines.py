"""Gift lines (赠品) carry no revenue in anything finance sees: the to-invoice list, its totals,
a row's page, the CSV and XLSX exports. An order with lines is invoiced for what its lines bring
in plus the shipping fee and the tax on top; its gift lines are listed at 0 so finance sees
they went out. An order without lines keeps its amount."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from finance.selectors import invoice_list_base, invoice_list_for_finance, invoice_totals_for_finance
from tests.finance.test_invoice_export import CSV_URL, XLSX_URL, csv_rows, xlsx_sheet

pytestmark = pytest.mark.django_db

LIST = reverse("admin:finance_invoicerequest_changelist")

# 2 × 50 − 5 = 95 of tea; a bag the channel prices at 12.00 but sends as a gift; a free sample
# (price after discounts 0: a gift line whatever the channel says); 10.00 shipping, 3.00 tax.
GIFT_ORDER_LINES = [
    {"sku": "TEA-01", "name": "龙井 250g", "quantity": 2, "unit_price": "50.00", "discount": "5.00"},
    {"sku": "BAG-01", "name": "帆布袋", "quantity": 1, "unit_price": "12.00", "is_gift": True},
    {"sku": "SAMPLE", "name": "试饮装", "quantity": 3, "unit_price": "2.00", "discount": "6.00"},
]
WITH_GIFTS = {"amount": "120.00", "shipping_fee": "10.00", "tax_amount": "3.00", "lines": GIFT_ORDER_LINES}


@pytest.fixture
def hub(listed):
    """A row whose order has gift lines, one without lines, one whose only line is a gift."""
    return {
        "gifts": listed(**WITH_GIFTS),
        "plain": listed(amount="88.00"),
        "only_gift": listed(
            amount="14.00",
            shipping_fee="5.00",
            lines=[{"sku": "CUP", "quantity": 1, "unit_price": "9.00", "is_gift": True}],
        ),
    }


def _row(invoice):
    return invoice_list_base().get(pk=invoice.pk)


def test_the_amount_to_invoice_is_the_lines_revenue_plus_shipping_and_tax(hub):
    gifts, plain, only_gift = (_row(hub[name]) for name in ("gifts", "plain", "only_gift"))
    # The order amount counts the bag's 12.00; what is invoiced does not.
    assert gifts.amount == Decimal("120.00")
    assert (gifts.goods_revenue, gifts.invoiceable_amount) == (Decimal("95.00"), Decimal("108.00"))
    # No lines: the amount listed, as before lines existed.
    assert (plain.goods_revenue, plain.invoiceable_amount) == (None, Decimal("88.00"))
    # Lines that are all gifts: no revenue from them, only the shipping.
    assert (only_gift.goods_revenue, only_gift.invoiceable_amount) == (Decimal("0.00"), Decimal("5.00"))


def test_totals_per_currency_leave_gift_lines_out(hub, login):
    totals = invoice_totals_for_finance(invoice_list_for_finance())
    assert [(t["status"], t["currency"], t["count"], t["amount"]) for t in totals] == [
        ("pending", "CNY", 3, Decimal("201.00"))  # 108 + 88 + 5, not 120 + 88 + 14
    ]
    html = login("fin1").get(LIST).content.decode()
    shown = re.search(r'<li data-status="pending" data-currency="CNY">(.*?)</li>', html, re.S).group(1)
    assert "<strong>3</strong>" in shown and "201.00" in shown


def test_totals_of_a_plain_queryset_are_the_same(hub):
    from finance.models import InvoiceRequest

    assert invoice_totals_for_finance(InvoiceRequest.objects.all()) == invoice_totals_for_finance(
        invoice_list_for_finance()
    )


def test_the_list_shows_the_amount_to_invoice_and_the_gift_lines(hub, login):
    html = login("fin1").get(LIST).content.decode()
    assert "108.00 CNY" in html and "120.00 CNY" not in html
    assert "88.00 CNY" in html and "5.00 CNY" in html and "14.00 CNY" not in html
    cells = re.findall(r'<td class="field-gift_lines_display">(.*?)</td>', html)
    assert cells == ["BAG-01 × 1; SAMPLE × 3", "—", "CUP × 1"]


def test_a_rows_page_lists_every_line_with_gifts_at_zero(hub, login):
    client = login("fin1")
    url = reverse("admin:finance_invoicerequest_change", args=[hub["gifts"].pk])
    html = client.get(url).content.decode()
    assert "108.00 CNY" in html
    table = re.search(r'<table class="orderhub-invoice-lines">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r'<tr class="([^"]*)">(.*?)</tr>', table, re.S)
    cells = [(cls, re.findall(r"<td[^>]*>(.*?)</td>", row)) for cls, row in rows]
    assert cells == [
        ("", ["TEA-01", "龙井 250g", "2", "95.00", ""]),
        ("orderhub-gift-line", ["BAG-01", "帆布袋", "1", "0.00", "Gift"]),
        ("orderhub-gift-line", ["SAMPLE", "试饮装", "3", "0.00", "Gift"]),
    ]
    assert "Shipping fee" in table and "10.00" in table and "Tax on top of prices" in table

    plain = client.get(reverse("admin:finance_invoicerequest_change", args=[hub["plain"].pk])).content.decode()
    assert "88.00 CNY" in plain and "The order has no lines" in plain


def test_csv_and_xlsx_leave_gift_lines_out_and_name_them(hub, login):
    client = login("fin1")
    header, *lines = csv_rows(client.get(CSV_URL))
    rows = {line[0]: dict(zip(header, line, strict=True)) for line in lines}
    gifts, plain, only_gift = (rows[hub[name].order.number] for name in ("gifts", "plain", "only_gift"))
    figures = ("Amount to invoice", "Goods, gift lines excluded", "Gift lines (no revenue)")
    assert tuple(gifts[f] for f in figures) == ("108.00", "95.00", "BAG-01 × 1; SAMPLE × 3")
    assert tuple(plain[f] for f in figures) == ("88.00", "", "")
    assert tuple(only_gift[f] for f in figures) == ("5.00", "0.00", "CUP × 1")

    sheet = xlsx_sheet(client.get(XLSX_URL))
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    by_number = {row[0]: dict(zip(values[0], row, strict=True)) for row in values[1:]}
    first = by_number[hub["gifts"].order.number]
    assert (first["Amount to invoice"], first["Goods, gift lines excluded"]) == (108, 95)
    assert first["Gift lines (no revenue)"] == "BAG-01 × 1; SAMPLE × 3"
    assert by_number[hub["plain"].order.number]["Amount to invoice"] == 88


def test_the_gift_lines_cost_one_query_whatever_the_rows(listed, login):
    client = login("fin1")

    def queries(url) -> int:
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
            b"".join(response.streaming_content) if response.streaming else response.getvalue()
        return len(captured)

    listed(**WITH_GIFTS)
    small = [queries(url) for url in (LIST, CSV_URL, XLSX_URL)]
    for _ in range(5):
        listed(**WITH_GIFTS)
        listed(amount="66.00")
    assert [queries(url) for url in (LIST, CSV_URL, XLSX_URL)] == small
