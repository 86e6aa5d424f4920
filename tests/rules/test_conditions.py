"""Each condition of a rule, matching and not matching; the evaluator is pure over the facts."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest

from orders.services.shops import shop_default_for_channel
from orders.states import Priority
from rules.services import OrderFacts, rule_compile, rules_matching
from tests.factories import BrandFactory, ShopFactory

pytestmark = pytest.mark.django_db

# 2026-01-28 14:22 in Shanghai.
AFTERNOON = datetime(2026, 1, 28, 6, 22, tzinfo=UTC)


def facts(**overrides) -> OrderFacts:
    values = {
        "channel": "shopify",
        "shop_id": None,
        "brand_id": None,
        "amount": Decimal("199.00"),
        "currency": "CNY",
        "warehouse_id": None,
        "is_gift": False,
        "priority": Priority.NORMAL,
        "ordered_at": AFTERNOON,
        "previous_delivered": 0,
    }
    values.update(overrides)
    return OrderFacts(**values)


def matches(rule, **overrides) -> bool:
    compiled = rule_compile(rule)
    return rules_matching(facts=facts(**overrides), trigger=compiled.trigger, rules=[compiled]) == [compiled]


def test_a_rule_without_conditions_matches_every_order(make_rule):
    assert matches(make_rule())


def test_channels(make_rule):
    rule = make_rule(channels=["taobao", "amazon"])
    assert matches(rule, channel="taobao")
    assert not matches(rule, channel="shopify")


def test_shops_and_brands(make_rule):
    default = shop_default_for_channel("shopify")
    brand = BrandFactory(code="tea", name="Tea")
    other = ShopFactory(brand=brand, channel="shopify", name="Tea on Shopify")
    by_shop = make_rule(shops=[other])
    assert matches(by_shop, shop_id=other.pk, brand_id=brand.pk)
    assert not matches(by_shop, shop_id=default.pk, brand_id=default.brand_id)
    by_brand = make_rule(brands=[brand])
    assert matches(by_brand, shop_id=other.pk, brand_id=brand.pk)
    assert not matches(by_brand, shop_id=default.pk, brand_id=default.brand_id)


def test_amount_at_least_and_at_most_in_its_currency(make_rule):
    rule = make_rule(amount_min=Decimal("500.01"), amount_max=Decimal("2000"), amount_currency="cny")
    assert rule.amount_currency == "CNY"
    assert matches(rule, amount=Decimal("500.01"))
    assert matches(rule, amount=Decimal("2000.00"))
    assert not matches(rule, amount=Decimal("500.00"))
    assert not matches(rule, amount=Decimal("2000.01"))
    assert not matches(rule, amount=Decimal("900"), currency="USD")  # another currency never matches


def test_buyer_s_delivered_orders(make_rule):
    rule = make_rule(previous_delivered_min=2)
    assert matches(rule, previous_delivered=2)
    assert matches(rule, previous_delivered=5)
    assert not matches(rule, previous_delivered=1)
    asked = []
    # Asked only when the rule needs it (a database count in real use).
    assert not matches(
        make_rule(channels=["amazon"], previous_delivered_min=1), previous_delivered=lambda: asked.append(1)
    )
    assert asked == []


def test_warehouses(make_rule, warehouses):
    first, second = warehouses[0], warehouses[1]
    rule = make_rule(warehouses=[first])
    assert matches(rule, warehouse_id=first.pk)
    assert not matches(rule, warehouse_id=second.pk)
    assert not matches(rule, warehouse_id=None)


@pytest.mark.parametrize(
    ("condition", "gift", "expected"),
    [("yes", True, True), ("yes", False, False), ("no", False, True), ("no", True, False), ("", True, True)],
)
def test_gift(make_rule, condition, gift, expected):
    assert matches(make_rule(is_gift=condition), is_gift=gift) is expected


@pytest.mark.parametrize(
    ("condition", "priority", "expected"),
    [
        ("high", Priority.HIGH, True),
        ("high", Priority.NORMAL, False),
        ("normal", Priority.NORMAL, True),
        ("normal", Priority.HIGH, False),
    ],
)
def test_priority(make_rule, condition, priority, expected):
    assert matches(make_rule(priority=condition), priority=priority) is expected


def _shanghai(hour: int, minute: int = 0) -> datetime:
    # Shanghai is UTC+8 all year.
    return datetime(2026, 1, 28, (hour - 8) % 24, minute, tzinfo=UTC)


def test_time_of_day_in_shanghai(make_rule):
    rule = make_rule(time_from=time(9, 0), time_to=time(18, 0))
    assert matches(rule, ordered_at=_shanghai(9, 0))
    assert matches(rule, ordered_at=_shanghai(17, 59))
    assert not matches(rule, ordered_at=_shanghai(18, 0))  # "before" 18:00
    assert not matches(rule, ordered_at=_shanghai(3, 0))


def test_a_night_window_wraps_midnight(make_rule):
    rule = make_rule(time_from=time(22, 0), time_to=time(6, 0))
    assert matches(rule, ordered_at=_shanghai(23, 30))
    assert matches(rule, ordered_at=_shanghai(2, 0))
    assert not matches(rule, ordered_at=_shanghai(6, 0))
    assert not matches(rule, ordered_at=_shanghai(14, 0))


def test_every_condition_must_hold(make_rule):
    rule = make_rule(channels=["taobao"], amount_min=Decimal("100"), amount_currency="CNY", is_gift="no")
    assert matches(rule, channel="taobao", amount=Decimal("100"))
    assert not matches(rule, channel="taobao", amount=Decimal("99.99"))
    assert not matches(rule, channel="shopify", amount=Decimal("100"))


def test_order_and_stop_processing(make_rule):
    late = make_rule(name="late", position=20)
    stopper = make_rule(name="stopper", position=10, stop_processing=True, channels=["taobao"])
    other_trigger = make_rule(name="other trigger", trigger="pay")
    rules = [rule_compile(r) for r in (stopper, late, other_trigger)]
    assert [r.name for r in rules_matching(facts=facts(channel="taobao"), trigger="created", rules=rules)] == [
        "stopper"
    ]
    assert [r.name for r in rules_matching(facts=facts(channel="shopify"), trigger="created", rules=rules)] == ["late"]


def test_disabled_rules_are_not_evaluated(make_rule, users):
    from rules.services import rules_enabled_for

    make_rule(name="off", enabled=False, channels=["walmart"])
    assert "off" not in [r.name for r in rules_enabled_for("created")]
