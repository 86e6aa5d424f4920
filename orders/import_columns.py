"""The hub's vocabulary for order files: the logical columns an export of each channel may
have, and the check of a shop's import mapping (Shop.import_mapping: {the hub's column: the
shop's header}) against them. Constants and a validator, no models, so the shop's admin form and
the file reader (integrations/channels/csv_import.py, which knows each column's headers and
checks at import that it reads exactly these columns) share one list."""

from __future__ import annotations

from django.utils.translation import gettext as _

from .states import Channel

# The intake fields and what is read into them: columns of every channel (the `manual`
# channel's own template has only these).
IMPORT_COLUMNS_GENERIC: tuple[str, ...] = (
    "external_id",
    "amount",
    "currency",
    "ordered_at",
    "buyer_email",
    "buyer_phone",
    "recipient_name",
    "recipient_phone",
    "ship_province",
    "ship_city",
    "ship_district",
    "ship_address",
    "ship_postcode",
    "paid",
    "cancelled",
    "cancel_reason",
    "shipping_fee",
    "tax_amount",
    "buyer_remark",
    # The order's lines: one line per row (rows of one order share its order id), or all of
    # them in one items column.
    "line_id",
    "sku",
    "item_name",
    "quantity",
    "unit_price",
    "discount",
    "gift_line",
    "items",
)
# The columns that describe one line; the others describe the order.
IMPORT_LINE_COLUMNS: tuple[str, ...] = (
    "line_id",
    "sku",
    "item_name",
    "quantity",
    "unit_price",
    "discount",
    "gift_line",
)

# What a channel's export has besides: its status text, address lines, and the like.
IMPORT_COLUMNS_OF_CHANNEL: dict[str, tuple[str, ...]] = {
    Channel.AMAZON: ("ship_address_2", "ship_address_3", "status"),
    Channel.WALMART: ("ship_address_2", "status"),
    Channel.TAOBAO: ("paid_at", "recipient_phone_alt", "full_address", "status"),
    Channel.JD: ("paid_at", "full_address", "status"),
    Channel.PINDUODUO: ("paid_at", "status"),
    Channel.DOUYIN: ("paid_at", "status"),
    Channel.SHOPIFY: ("status", "cancelled_at"),
    Channel.MANUAL: (),
}
assert set(IMPORT_COLUMNS_OF_CHANNEL) == set(Channel.values), "every channel needs its columns"


def import_column_names(channel: str) -> list[str]:
    """The logical columns a file of this channel may have: what a shop's import mapping may
    rename (its keys)."""
    return sorted({*IMPORT_COLUMNS_GENERIC, *IMPORT_COLUMNS_OF_CHANNEL[channel]})


def import_mapping_clean(channel: str, mapping: object) -> dict[str, str]:
    """A shop's import mapping checked: a JSON object {the hub's column: this shop's header},
    keys among import_column_names(channel), values non-empty text. Raises ValueError with a
    message for people (translated)."""
    if mapping in (None, ""):
        return {}
    if not isinstance(mapping, dict):
        raise ValueError(_('The import mapping must be a JSON object: {"hub column": "the shop\'s header"}.'))
    known = import_column_names(channel)
    clean = {}
    for key, value in mapping.items():
        if key not in known:
            raise ValueError(
                _("“%(column)s” is not an import column of this channel; the columns are: %(known)s.")
                % {"column": key, "known": ", ".join(known)}
            )
        if not isinstance(value, str) or not value.strip():
            raise ValueError(
                _("The header for “%(column)s” must be the column's name in the shop's file.") % {"column": key}
            )
        clean[key] = value.strip()
    return clean
