"""Which shop an order belongs to."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ..exceptions import InvalidActionData
from ..models import Brand, Shop
from ..states import Channel

DEFAULT_BRAND_CODE = "default"
DEFAULT_BRAND_NAME = "默认品牌"


def shop_default_for_channel(channel: str) -> Shop:
    """The channel's default shop, made on first use (the migration makes them; a fresh test
    database or an operator who moved the flag to another shop may leave none)."""
    shop = Shop.objects.filter(channel=channel, is_channel_default=True).select_related("brand").first()
    if shop is not None:
        return shop
    brand, _created = Brand.objects.get_or_create(code=DEFAULT_BRAND_CODE, defaults={"name": DEFAULT_BRAND_NAME})
    try:
        with transaction.atomic():
            return Shop.objects.create(
                brand=brand,
                channel=channel,
                code=f"{channel}-default",
                name=str(Channel(channel).label),
                is_channel_default=True,
            )
    except IntegrityError:
        # Another request made it first (the one-default-per-channel constraint).
        return Shop.objects.select_related("brand").get(channel=channel, is_channel_default=True)


def shop_for_order(channel: str, shop: Shop | None) -> Shop:
    """`shop` checked against the order's channel, or the channel's default shop."""
    if shop is None:
        return shop_default_for_channel(channel)
    if shop.channel != channel:
        raise InvalidActionData(
            _("Shop “%(shop)s” sells on %(shop_channel)s, not on %(channel)s.")
            % {"shop": shop.name, "shop_channel": shop.get_channel_display(), "channel": Channel(channel).label}
        )
    return shop
