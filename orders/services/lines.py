"""Order lines: what a channel says the buyer bought, checked, and written with the order.

    order_lines_clean(lines, currency=...) -> (clean lines, {line index: {field: reason}})
    order_totals_mismatch(amount=..., lines=..., shipping_fee=..., tax_amount=...) -> reason | ""
    order_lines_build(order, lines) -> [OrderLine]      # unsaved; one builder for every path
    order_lines_summary(lines) -> [...]                 # what the `created` event records

A line is given as a dict of LINE_FIELDS. Every line of an order is in the order's currency;
quantities are whole numbers of at least 1; prices and discounts are zero or more, with at most
two decimals, and a line's discount is at most its price × quantity. A line whose price after
discounts is zero is a gift line (赠品) even when the channel does not say so.

The totals: the lines after their discounts, plus the shipping fee and the tax charged on top,
are the order's amount. A file import refuses a row whose lines do not add up; a webhook keeps
the order (the buyer has paid) and the intake says so, for someone to look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import cast

from babel.numbers import list_currencies
from django.db.models import CharField
from django.utils.translation import gettext as _

from ..exceptions import InvalidActionData
from ..models import Order, OrderLine

LINE_FIELDS = (
    "platform_line_id",
    "sku",
    "name",
    "quantity",
    "unit_price",
    "discount",
    "currency",
    "is_gift",
    "weight_grams",
)
# More lines than this on one order is a mistake of the file or the channel, not an order.
MAX_LINES_PER_ORDER = 500


def _max_length(name: str) -> int:
    field = cast(CharField, OrderLine._meta.get_field(name))  # the text fields of a line
    return field.max_length or 0


_MAX_LENGTHS = {name: _max_length(name) for name in ("platform_line_id", "sku", "name")}
_CURRENCIES = frozenset(list_currencies())
_CENT = Decimal("0.01")
ZERO = Decimal("0")


def currency_code_clean(value) -> str:
    """An ISO 4217 code ("cny" → "CNY"), or InvalidActionData naming what was given."""
    code = str(value or "").strip().upper()
    if code not in _CURRENCIES:
        raise InvalidActionData(_("“%(currency)s” is not a currency code.") % {"currency": value})
    return code


def _money(value, *, label: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip()) if value not in (None, "") else ZERO
    except (InvalidOperation, ValueError):
        message = _("%(label)s: “%(value)s” is not an amount.") % {"label": label, "value": value}
        raise InvalidActionData(message) from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(_CENT):
        raise InvalidActionData(
            _("%(label)s must be zero or more, with at most two decimals (got %(value)s).")
            % {"label": label, "value": value}
        )
    return amount


def _quantity(value) -> int:
    text = str(value if value is not None else "").strip()
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite() or number != number.to_integral_value() or number < 1:
        raise InvalidActionData(
            _("The quantity must be a whole number of at least 1 (got %(value)s).") % {"value": value}
        )
    if number > 1_000_000:
        raise InvalidActionData(_("A quantity of %(value)s is not an order line.") % {"value": value})
    return int(number)


def _text(name: str, value) -> str:
    text = str(value if value is not None else "").strip()
    if len(text) > _MAX_LENGTHS[name]:
        raise InvalidActionData(
            _("At most %(limit)s characters (got %(length)s).") % {"limit": _MAX_LENGTHS[name], "length": len(text)}
        )
    return text


def _line_clean(line: dict, *, currency: str) -> tuple[dict, dict[str, str]]:
    unknown = set(line) - set(LINE_FIELDS)
    if unknown:
        raise TypeError(f"order lines got unexpected fields: {', '.join(sorted(unknown))}")
    clean: dict = {}
    errors: dict[str, str] = {}

    def check(name, reader):
        try:
            clean[name] = reader()
        except InvalidActionData as exc:
            errors[name] = exc.message

    for name in ("platform_line_id", "sku", "name"):
        check(name, lambda name=name: _text(name, line.get(name)))
    check("quantity", lambda: _quantity(line.get("quantity")))
    check("unit_price", lambda: _money(line.get("unit_price"), label=_("The unit price")))
    check("discount", lambda: _money(line.get("discount"), label=_("The discount")))

    def line_currency():
        code = currency_code_clean(line.get("currency") or currency)
        if code != currency:
            raise InvalidActionData(
                _("The line is in %(line)s, the order in %(order)s: one currency per order.")
                % {"line": code, "order": currency}
            )
        return code

    check("currency", line_currency)

    def weight():
        value = line.get("weight_grams")
        if value in (None, ""):
            return None
        try:
            grams = int(str(value).strip())
        except ValueError:
            grams = -1
        if grams < 0:
            raise InvalidActionData(_("The weight must be a whole number of grams (got %(value)s).") % {"value": value})
        return grams

    check("weight_grams", weight)
    if not errors and not (clean["sku"] or clean["name"]):
        errors["sku"] = _("A line needs a SKU or an item name.")
    if not errors:
        gross = clean["unit_price"] * clean["quantity"]
        if clean["discount"] > gross:
            errors["discount"] = _("The discount %(discount)s is more than the line's %(gross)s.") % {
                "discount": clean["discount"],
                "gross": gross,
            }
        clean["is_gift"] = bool(line.get("is_gift")) or gross - clean["discount"] == ZERO
    return clean, errors


def order_lines_clean(lines: Sequence[dict], *, currency: str) -> tuple[list[dict], dict[int, dict[str, str]]]:
    """Every line checked (all problems, not only the first): the cleaned lines and, for the bad
    ones, {index: {field: reason}}. `currency`: the order's (already checked)."""
    if len(lines) > MAX_LINES_PER_ORDER:
        return [], {0: {"": _("At most %(limit)s lines per order.") % {"limit": MAX_LINES_PER_ORDER}}}
    clean_lines: list[dict] = []
    errors: dict[int, dict[str, str]] = {}
    seen: dict[str, int] = {}
    for index, line in enumerate(lines):
        clean, line_errors = _line_clean(line, currency=currency)
        line_id = clean.get("platform_line_id", "")
        if line_id and not line_errors:
            earlier = seen.setdefault(line_id, index)
            if earlier != index:
                line_errors["platform_line_id"] = _("Line id %(id)s appears twice in the order.") % {"id": line_id}
        if line_errors:
            errors[index] = line_errors
        clean_lines.append(clean)
    return clean_lines, errors


def lines_net_total(lines: Sequence[dict]) -> Decimal:
    return sum((line["unit_price"] * line["quantity"] - line["discount"] for line in lines), ZERO)


def order_totals_mismatch(*, amount: Decimal, lines: Sequence[dict], shipping_fee=ZERO, tax_amount=ZERO) -> str:
    """ "" when the cleaned lines, shipping and tax add up to `amount` (or there are no lines);
    otherwise the sentence that says by how much."""
    if not lines:
        return ""
    net = lines_net_total(lines).quantize(_CENT)
    shipping_fee, tax_amount = Decimal(shipping_fee or 0).quantize(_CENT), Decimal(tax_amount or 0).quantize(_CENT)
    expected = net + shipping_fee + tax_amount
    if expected == Decimal(amount):
        return ""
    return _(
        "The lines add up to %(lines)s, with shipping %(shipping)s and tax %(tax)s to %(expected)s, "
        "but the order's amount is %(amount)s."
    ) % {
        "lines": net,
        "shipping": shipping_fee,
        "tax": tax_amount,
        "expected": expected,
        "amount": Decimal(amount).quantize(_CENT),
    }


def order_lines_build(order: Order, lines: Sequence[dict]) -> list[OrderLine]:
    """The unsaved rows of a saved order's cleaned lines, numbered from 1 in the given order."""
    return [
        OrderLine(
            order=order,
            position=position,
            platform_line_id=line.get("platform_line_id", ""),
            sku=line.get("sku", ""),
            name=line.get("name", ""),
            quantity=line["quantity"],
            unit_price=line["unit_price"],
            discount=line.get("discount", ZERO),
            currency=line.get("currency") or order.currency,
            is_gift=bool(line.get("is_gift")),
            weight_grams=line.get("weight_grams"),
        )
        for position, line in enumerate(lines, start=1)
    ]


def order_lines_weight(lines: Sequence[dict]) -> int | None:
    """The parcel's weight in grams by its cleaned lines; None unless every line has a weight."""
    if not lines or any(line.get("weight_grams") is None for line in lines):
        return None
    return sum(line["quantity"] * line["weight_grams"] for line in lines)


# The `created` event keeps what the order held when it arrived (a split later moves lines),
# short enough for the timeline: the first lines only, and how many there were.
_SUMMARY_LINES = 20


def order_lines_summary(lines: Sequence[dict]) -> dict:
    if not lines:
        return {}
    return {
        "lines": [
            {"sku": line.get("sku", ""), "name": line.get("name", "")[:60], "quantity": line["quantity"]}
            for line in lines[:_SUMMARY_LINES]
        ],
        "line_count": len(lines),
        "items": sum(line["quantity"] for line in lines),
    }


def order_lines_prepare(
    lines: Sequence[dict], *, currency: str, amount, shipping_fee=ZERO, tax_amount=ZERO, must_add_up: bool = True
) -> tuple[list[dict], str]:
    """What both intake paths run before writing an order: the cleaned lines and the totals'
    mismatch ("" when they add up). Raises InvalidActionData naming the first bad line and
    field, or the mismatch when `must_add_up` (a person's entry, a file row)."""
    clean, errors = order_lines_clean(lines, currency=currency)
    if errors:
        index, fields = next(iter(errors.items()))
        name, reason = next(iter(fields.items()))
        where = {"number": index + 1, "field": name or _("line"), "reason": reason}
        raise InvalidActionData(_("Line %(number)s, %(field)s: %(reason)s") % where)
    mismatch = order_totals_mismatch(amount=amount, lines=clean, shipping_fee=shipping_fee, tax_amount=tax_amount)
    if mismatch and must_add_up:
        raise InvalidActionData(mismatch)
    return clean, mismatch
