"""Reads of after-sales: how many units of each order line are already on a return, what an
order has left to refund, and the refund a return proposes.

    order_lines_returned(*, order_id, before_return_id=None) -> dict[line id, units]
    order_lines_returnable(*, order_id) -> [(order line, units already returned)]
    order_refunded_total(*, order_id) -> Decimal
    return_refund_proposal(return_request) -> RefundProposal   # the sum and how it was made
    return_refund_proposed(return_request) -> Decimal          # only the sum
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum

from orders.models import OrderLine

from .models import Refund, RefundStatus, ReturnLine, ReturnRequest, ReturnStatus

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Refunds that hold money back from the order: recorded and being paid, or paid.
LIVE_REFUND_STATUSES = (RefundStatus.HELD, RefundStatus.PENDING, RefundStatus.PAID)


def _returned_lines(*, order_id: int, before_return_id: int | None = None):
    rows = ReturnLine.objects.filter(return_request__order_id=order_id).exclude(
        return_request__status=ReturnStatus.REJECTED
    )
    if before_return_id is not None:
        rows = rows.filter(return_request_id__lt=before_return_id)
    return rows


def order_lines_returned(*, order_id: int, before_return_id: int | None = None) -> dict[int, int]:
    """{order line id: units of it on the order's returns that were not rejected} (requested,
    approved or refunded: a rejected return's units stayed with the buyer). With
    `before_return_id`, only the returns requested before that one. One query."""
    rows = (
        _returned_lines(order_id=order_id, before_return_id=before_return_id)
        .values("order_line_id")
        .annotate(units=Sum("quantity"))
    )
    return {row["order_line_id"]: row["units"] for row in rows}


def order_refunded_total(*, order_id: int) -> Decimal:
    """What the order's refunds that did not fail hold: refunded, or being refunded."""
    total = Refund.objects.filter(order_id=order_id, status__in=LIVE_REFUND_STATUSES).aggregate(total=Sum("amount"))
    return (total["total"] or Decimal("0")).quantize(CENT)


def _share(net: Decimal, units: int, of: int) -> Decimal:
    """(net / of) × units, to the cent, halves up."""
    return (net * units / of).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ProposedLine:
    """One returned line of the proposal: `quantity` of the line's units come back with this
    return, `earlier` were on earlier returns; `amount` is what they are proposed at."""

    line: OrderLine
    quantity: int
    earlier: int
    amount: Decimal

    @property
    def unit_amount(self) -> Decimal:
        """What one unit cost the buyer after the line's discounts: to the cent when it is a
        whole number of cents, else to four decimals (9.9967 for 29.99 over 3), so the page's
        "each × units" reads as the proposal's sum before its rounding."""
        if self.line.is_gift:
            return ZERO
        share = self.line.net_amount / self.line.quantity
        cents = share.quantize(CENT)
        return cents if share == cents else share.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)

    @property
    def takes_last_unit(self) -> bool:
        """This return brings the line's last unit back: its amount is the rest of the line."""
        return not self.line.is_gift and self.earlier + self.quantity >= self.line.quantity


@dataclass(frozen=True)
class RefundProposal:
    """The refund a return proposes, with how it was computed. `priced` is False when there
    are no returned lines to price (an order without lines whose return names items as text):
    `amount` is then 0.00 and a person types the refund."""

    return_request: ReturnRequest
    currency: str
    lines: list[ProposedLine]
    lines_total: Decimal
    shipping_fee: Decimal  # included with the return that completes the order, else 0
    subtotal: Decimal  # lines_total + shipping_fee (or the order's amount, see whole_order)
    refundable: Decimal  # what the order still has to refund: its amount less live refunds
    amount: Decimal  # min(subtotal, refundable)
    priced: bool = True
    # An order without lines whose return names no items: the whole order comes back.
    whole_order: bool = False

    @property
    def capped(self) -> bool:
        return self.amount < self.subtotal


def return_refund_proposal(return_request: ReturnRequest) -> RefundProposal:
    """The refund proposed for `return_request`, with each line's part.

    - Each returned line proposes (net_amount / quantity) × units returned, to the cent
      (ROUND_HALF_UP). The return that brings a line's last unit back proposes the rest of the
      line instead (net_amount less what the line's earlier returns proposed), so returning
      every unit of a line, at once or over several returns, proposes exactly its net_amount.
      "Earlier" are the order's returns requested before this one that were not rejected.
    - A gift line (赠品) proposes 0: the buyer paid nothing for it.
    - The order's shipping fee is proposed once, with the return that completes the order:
      after it, every unit of every line (gift lines too) is on a return that was not
      rejected. A return of part of the order does not propose it (the parcel still came);
      a person may add it. Tax charged on top of the prices is not proposed (a person adds
      it where the channel refunds it).
    - The sum is capped at what the order still has to refund (its amount less the refunds
      that did not fail), so a proposal is never refused as "more than is left".
    - An order without lines (brought in before lines existed): a return naming no items is
      the whole order and proposes what is left to refund; one naming items as text cannot
      be priced and proposes 0.00 (`priced` False).

    A handful of queries whatever the number of lines. The proposal is what the refund page
    starts from; the person may change it, and `refund_request` checks whatever is asked.
    """
    case = return_request
    order = case.order
    refundable = max(order.amount - order_refunded_total(order_id=order.pk), ZERO)
    returned = list(case.lines.select_related("order_line").order_by("order_line__position", "pk"))
    if not returned:
        whole = not case.items and not OrderLine.objects.filter(order_id=order.pk).exists()
        subtotal = order.amount if whole else ZERO
        return RefundProposal(
            return_request=case,
            currency=order.currency,
            lines=[],
            lines_total=ZERO,
            shipping_fee=ZERO,
            subtotal=subtotal,
            refundable=refundable,
            amount=min(subtotal, refundable),
            priced=whole,
            whole_order=whole,
        )

    # Every earlier returned unit of the order's lines, return by return (for the remainders).
    earlier_parts: dict[int, list[int]] = defaultdict(list)
    for line_id, units in _returned_lines(order_id=order.pk, before_return_id=case.pk).values_list(
        "order_line_id", "quantity"
    ):
        earlier_parts[line_id].append(units)

    proposed = []
    for row in returned:
        line = row.order_line
        earlier = sum(earlier_parts[line.pk])
        if line.is_gift:
            amount = ZERO
        elif earlier + row.quantity >= line.quantity:
            before = sum(_share(line.net_amount, units, line.quantity) for units in earlier_parts[line.pk])
            amount = max(line.net_amount - before, ZERO).quantize(CENT)
        else:
            amount = _share(line.net_amount, row.quantity, line.quantity)
        proposed.append(ProposedLine(line=line, quantity=row.quantity, earlier=earlier, amount=amount))
    lines_total = sum((p.amount for p in proposed), ZERO)

    shipping = ZERO
    if order.shipping_fee > 0:
        this = {p.line.pk: p.quantity for p in proposed}
        all_lines = OrderLine.objects.filter(order_id=order.pk).values_list("pk", "quantity")
        if all(sum(earlier_parts[pk]) + this.get(pk, 0) >= quantity for pk, quantity in all_lines):
            shipping = order.shipping_fee
    subtotal = lines_total + shipping
    return RefundProposal(
        return_request=case,
        currency=order.currency,
        lines=proposed,
        lines_total=lines_total,
        shipping_fee=shipping,
        subtotal=subtotal,
        refundable=refundable,
        amount=min(subtotal, refundable),
    )


def return_refund_proposed(return_request: ReturnRequest) -> Decimal:
    """The refund proposed for the return (see return_refund_proposal), as an amount."""
    return return_refund_proposal(return_request).amount


def order_lines_returnable(*, order_id: int) -> list[tuple[OrderLine, int]]:
    """The order's lines in order, each with the units already on its returns that were not
    rejected: what the request form shows (ordered, already returned, what is left). Two
    queries."""
    returned = order_lines_returned(order_id=order_id)
    lines = OrderLine.objects.filter(order_id=order_id).order_by("position")
    return [(line, returned.get(line.pk, 0)) for line in lines]
