"""Reads of finance's to-invoice list: the list, its filters, its totals. Gift orders are left
out in the query itself, so no page, export or total can show one. Constant query counts.

What finance invoices (`invoiceable_amount`): for an order with lines, what its lines bring in
(a gift line carries no revenue: 0) plus the shipping fee and the tax charged on top of the
prices; for an order without lines, the amount the row was listed with (the order's amount), as
before lines existed. The gift lines are still read (`invoice_gift_lines_prefetch`) so finance
sees what went out for free."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from django.db.models import (
    Count,
    DecimalField,
    F,
    Prefetch,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.exceptions import InvalidActionData
from orders.models import Order, OrderLine
from orders.selectors import order_goods_revenue
from orders.states import Channel

from .constants import OPEN_STATUSES, InvoiceStatus
from .models import InvoiceRequest

# Status filter values besides the statuses themselves. The list opens on the open ones.
STATUS_OPEN = "open"
STATUS_ALL = "all"
STATUS_CHOICES = (STATUS_OPEN, *InvoiceStatus.values, STATUS_ALL)
# The query-string names shared by the admin list and the exports.
FILTER_PARAMS = ("status", "channel", "currency", "added_from", "added_to", "q")
SEARCH_LIMIT = 50
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_MONEY: DecimalField = DecimalField(max_digits=14, decimal_places=2)


def invoice_list_for_finance(
    *,
    status: str = STATUS_OPEN,
    channel: str = "",
    currency: str = "",
    added_from: date | None = None,
    added_to: date | None = None,
    search: str = "",
) -> QuerySet[InvoiceRequest]:
    """The to-invoice list, oldest first, with the order and the people in one query."""
    queryset = invoice_list_base()
    queryset = invoice_filter(
        queryset, status=status, channel=channel, currency=currency, added_from=added_from, added_to=added_to
    )
    return invoice_search(queryset, term=search).order_by("added_at", "id")


def invoice_list_base() -> QuerySet[InvoiceRequest]:
    """Every row finance may see: never a gift order's. Annotated with `goods_revenue` (what the
    order's lines bring in, a gift line at 0; None when the order has no lines) and
    `invoiceable_amount` (see the module's docstring)."""
    return (
        InvoiceRequest.objects.filter(order__is_gift=False)
        .select_related("order", "requested_by", "issued_by", "cancelled_by")
        .annotate(goods_revenue=order_goods_revenue("order_id"))
        .annotate(
            # No lines: the goods are NULL, so is the sum, and the listed amount counts.
            invoiceable_amount=Coalesce(
                F("goods_revenue") + F("order__shipping_fee") + F("order__tax_amount"), F("amount"), output_field=_MONEY
            )
        )
    )


def invoice_gift_lines_prefetch() -> Prefetch:
    """The gift lines of each row's order as `order.gift_lines` (position order), in one query
    for a page or a chunk of an export: finance sees they went out, at no revenue."""
    return Prefetch(
        "order__lines", queryset=OrderLine.objects.filter(is_gift=True).order_by("position"), to_attr="gift_lines"
    )


def invoice_filter(
    queryset: QuerySet[InvoiceRequest],
    *,
    status: str = STATUS_ALL,
    channel: str = "",
    currency: str = "",
    added_from: date | None = None,
    added_to: date | None = None,
) -> QuerySet[InvoiceRequest]:
    """The list's filters; dates are whole days in the hub's time zone (Asia/Shanghai), both ends
    included."""
    if status == STATUS_OPEN:
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    elif status and status != STATUS_ALL:
        queryset = queryset.filter(status=status)
    if channel:
        queryset = queryset.filter(order__channel=channel)
    if currency:
        queryset = queryset.filter(currency=currency)
    if added_from:
        queryset = queryset.filter(added_at__gte=_day_start(added_from))
    if added_to:
        queryset = queryset.filter(added_at__lt=_day_start(added_to + timedelta(days=1)))
    return queryset


def invoice_search(queryset: QuerySet[InvoiceRequest], *, term: str) -> QuerySet[InvoiceRequest]:
    """Exact order number, channel order id or invoice number, each on an index. The orders are
    looked up first in a query of their own, so the list query stays an index lookup."""
    term = (term or "").strip()
    if not term:
        return queryset
    order_ids = list(
        Order.objects.filter(Q(number=term.upper()) | Q(external_id=term)).values_list("pk", flat=True)[:SEARCH_LIMIT]
    )
    return queryset.filter(Q(order_id__in=order_ids) | Q(invoice_number=re.sub(r"\s+", "", term).upper()))


def invoice_totals_for_finance(queryset: QuerySet[InvoiceRequest]) -> list[dict]:
    """[{"status", "currency", "count", "amount"}] over the given rows (the list's filtered rows,
    from `invoice_list_base`), in one aggregate query; "amount" sums what is invoiced
    (`invoiceable_amount`: no revenue for gift lines). Gift orders are not in them: they carry
    no revenue."""
    if "invoiceable_amount" not in queryset.query.annotations:
        queryset = invoice_list_base().filter(pk__in=queryset.values("pk"))
    rows = (
        queryset.filter(order__is_gift=False)
        .order_by()
        .values("status", "currency")
        .annotate(count=Count("pk"), amount=Sum("invoiceable_amount"))
    )
    rank = {status: index for index, status in enumerate(InvoiceStatus.values)}
    return sorted(rows, key=lambda row: (rank.get(row["status"], len(rank)), row["currency"]))


def invoice_filters_clean(params) -> dict:
    """The filters from a query string (the admin list's or an export's), as keyword arguments
    for `invoice_list_for_finance`. A bad value raises InvalidActionData saying which and why."""
    status = _param(params, "status") or STATUS_OPEN
    if status not in STATUS_CHOICES:
        raise InvalidActionData(
            _("Unknown status “%(value)s”: use one of %(choices)s.")
            % {"value": status, "choices": ", ".join(STATUS_CHOICES)}
        )
    channel = _param(params, "channel")
    if channel and channel not in Channel.values:
        raise InvalidActionData(
            _("Unknown channel “%(value)s”: use one of %(choices)s.")
            % {"value": channel, "choices": ", ".join(Channel.values)}
        )
    currency = _param(params, "currency").upper()
    if currency and not _CURRENCY_RE.match(currency):
        raise InvalidActionData(
            _("“%(value)s” is not a currency code (three letters, e.g. CNY).") % {"value": currency}
        )
    added_from = _date_param(params, "added_from")
    added_to = _date_param(params, "added_to")
    if added_from and added_to and added_from > added_to:
        raise InvalidActionData(
            _("The date range is reversed: from %(start)s to %(end)s.") % {"start": added_from, "end": added_to}
        )
    return {
        "status": status,
        "channel": channel,
        "currency": currency,
        "added_from": added_from,
        "added_to": added_to,
        "search": _param(params, "q"),
    }


def _param(params, name: str) -> str:
    value = params.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip()


def _date_param(params, name: str) -> date | None:
    value = _param(params, name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidActionData(
            _("“%(value)s” is not a date (use YYYY-MM-DD, e.g. 2026-01-28) for %(name)s.")
            % {"value": value, "name": name}
        ) from None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())
