"""The to-invoice list as a file: CSV streamed row by row (UTF-8 with a byte-order mark, so Excel
on a Chinese Windows opens it as UTF-8), XLSX from openpyxl's write-only workbook. Both read the
rows with one query, whatever their number.

Text that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return: a channel order id or an invoice title typed by someone outside) is prefixed with a
quote, and XLSX cells are written as text, never as formulas.

The money columns are what finance invoices (finance.selectors): "Amount to invoice" counts no
revenue for gift lines (an order without lines: its amount, as listed); "Gift lines" names what
went out for free, so the goods add up with the packing list.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from tempfile import SpooledTemporaryFile

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.states import Channel

from .constants import InvoiceStatus
from .models import InvoiceRequest
from .selectors import invoice_gift_lines_prefetch

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 500
TIME_FORMAT = "%Y-%m-%d %H:%M"


def cell_text(value) -> str:
    """A text cell that no spreadsheet will run as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


@dataclass(frozen=True)
class ExportLabels:
    """Everything translated, read once in the request (the CSV is written after the view has
    returned, when the request's language may no longer be active)."""

    header: list[str]
    statuses: dict[str, str]
    channels: dict[str, str]

    @classmethod
    def read(cls) -> ExportLabels:
        zone = timezone.get_default_timezone_name()
        return cls(
            header=[
                _("Order number"),
                _("Channel"),
                _("External order id"),
                _("Amount to invoice"),
                _("Goods, gift lines excluded"),
                _("Gift lines (no revenue)"),
                _("Currency"),
                _("Invoice status"),
                _("Added at (%(zone)s)") % {"zone": zone},
                _("Requested at (%(zone)s)") % {"zone": zone},
                _("Issued at (%(zone)s)") % {"zone": zone},
                _("Invoice number"),
                _("Invoice title"),
                _("Buyer tax id"),
            ],
            statuses={value: str(label) for value, label in InvoiceStatus.choices},
            channels={value: str(label) for value, label in Channel.choices},
        )


def _local(value):
    """Naive local time (Asia/Shanghai): what a spreadsheet shows as is."""
    if value is None:
        return None
    return timezone.localtime(value, timezone.get_default_timezone()).replace(tzinfo=None)


def gift_lines_text(order) -> str:
    """ "BAG-01 × 1; CUP × 2": the order's gift lines (prefetched as `gift_lines`), "" for none."""
    return "; ".join(str(line) for line in getattr(order, "gift_lines", ()))


def _row(invoice: InvoiceRequest, labels: ExportLabels) -> list:
    order = invoice.order
    return [
        order.number,
        labels.channels.get(order.channel, order.channel),
        order.external_id,
        getattr(invoice, "invoiceable_amount", invoice.amount),
        getattr(invoice, "goods_revenue", None),
        gift_lines_text(order),
        invoice.currency,
        labels.statuses.get(invoice.status, invoice.status),
        _local(invoice.added_at),
        _local(invoice.requested_at),
        _local(invoice.issued_at),
        invoice.invoice_number,
        invoice.buyer_title,
        invoice.buyer_tax_id,
    ]


def _rows(queryset: QuerySet[InvoiceRequest]) -> Iterator[InvoiceRequest]:
    # One query, read in chunks (a server-side cursor on PostgreSQL), and one more per chunk for
    # its gift lines.
    return queryset.prefetch_related(invoice_gift_lines_prefetch()).iterator(chunk_size=2000)


def invoice_csv_chunks(queryset: QuerySet[InvoiceRequest], labels: ExportLabels) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([cell_text(text) for text in labels.header])
    for count, invoice in enumerate(_rows(queryset), start=1):
        writer.writerow([_csv_cell(value) for value in _row(invoice, labels)])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv_cell(value) -> str:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if hasattr(value, "strftime"):
        return value.strftime(TIME_FORMAT)
    return cell_text(value)


def invoice_xlsx_file(queryset: QuerySet[InvoiceRequest], labels: ExportLabels, *, title: str):
    """A finished workbook in a temporary file (in memory while small), positioned at its start."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"

    def text(value):
        cell = WriteOnlyCell(sheet, value=cell_text(value))
        cell.data_type = "s"  # never a formula, whatever the text
        return cell

    def cell(value):
        if isinstance(value, Decimal):
            c = WriteOnlyCell(sheet, value=value)
            c.number_format = "#,##0.00"
            return c
        if hasattr(value, "strftime"):
            c = WriteOnlyCell(sheet, value=value)
            c.number_format = "yyyy-mm-dd hh:mm"
            return c
        if value is None:
            return None
        return text(value)

    sheet.append([text(label) for label in labels.header])
    for invoice in _rows(queryset):
        sheet.append([cell(value) for value in _row(invoice, labels)])
    # Handed to the response, which closes it when it has been sent.
    output = SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    workbook.save(output)
    output.seek(0)
    return output
