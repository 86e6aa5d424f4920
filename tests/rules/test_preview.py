"""Preview: the last 30 days' orders a rule would have matched, with counts per action; the
QuerySet filter means what the Python evaluator means; nothing changes."""

from __future__ import annotations

from datetime import UTC, time, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEvent
from orders.services.orders import order_create
from rules.models import Rule, RuleFiring
from rules.preview import preview_candidates, rule_preview
from rules.services import delivered_orders_counts, order_facts, rule_compile, rule_matches

pytestmark = pytest.mark.django_db


def _order(channel, amount, *, days_ago=0, hour=None, **fields):
    at = timezone.now() - timedelta(days=days_ago)
    if hour is not None:
        # That hour in Shanghai (UTC+8), the same day.
        at = at.astimezone(UTC).replace(hour=(hour - 8) % 24, minute=30)
    return order_create(actor=None, channel=channel, amount=amount, ordered_at=at, **fields)


@pytest.fixture
def known(users):
    """Ten orders of the last 30 days, and two older ones the preview must not count."""
    orders = {
        "tb_big": _order("taobao", "800.00"),  # high value already (the default rule)
        "tb_mid": _order("taobao", "350.00"),
        "tb_mid2": _order("taobao", "300.00", days_ago=10),
        "tb_small": _order("taobao", "120.00"),
        "tb_usd": _order("taobao", "350.00", currency="USD"),
        "az_mid": _order("amazon", "350.00"),
        "sh_big": _order("shopify", "999.00"),
        "sh_small": _order("shopify", "10.00"),
        "man_mid": _order("manual", "450.00", days_ago=29),
        "wm_mid": _order("walmart", "450.00"),
        "old_tb": _order("taobao", "350.00", days_ago=31),
        "old_big": _order("taobao", "900.00", days_ago=45),
    }
    return orders


def test_counts_on_known_data(known, make_rule):
    rule = make_rule(
        name="淘宝中额单 / Taobao mid-value",
        enabled=False,
        channels=["taobao"],
        amount_min=Decimal("300"),
        amount_currency="CNY",
        actions=[{"kind": "set_priority", "priority": 1}, {"kind": "notify", "role": "operations"}],
    )
    before = (Order.objects.count(), OrderEvent.objects.count(), RuleFiring.objects.count())
    preview = rule_preview(rule)
    assert preview.candidates == 10  # the last 30 days only
    assert preview.matched == 3
    assert set(preview.matched_ids) == {known[k].pk for k in ("tb_big", "tb_mid", "tb_mid2")}
    lane, notify = preview.actions
    assert (lane.would, lane.already) == (3, 1)
    assert "3 orders would get priority" in lane.text and "1 already have it" in lane.text
    assert notify.would == 3
    # Newest first; a preview changes nothing.
    assert [number for _pk, number in preview.sample][-1] == known["tb_mid2"].number
    assert (Order.objects.count(), OrderEvent.objects.count(), RuleFiring.objects.count()) == before
    assert not Rule.objects.get(pk=rule.pk).enabled


def test_preview_of_an_event_trigger_looks_at_orders_with_that_event(make_order, make_rule):
    paid = make_order("paid", channel="taobao")
    make_order("submitted", channel="taobao")
    rule = make_rule(name="paid taobao", trigger="pay", channels=["taobao"], enabled=False)
    preview = rule_preview(rule)
    assert preview.matched_ids == [paid.pk]


def _agree(rule: Rule) -> set[int]:
    """The orders the Python evaluator matches among the preview's candidates."""
    compiled = rule_compile(rule)
    now = timezone.now()
    candidates = list(
        preview_candidates(compiled.trigger, since=now - timedelta(days=30), until=now).select_related("shop")
    )
    counts = delivered_orders_counts(candidates)
    return {
        order.pk
        for order, count in zip(candidates, counts, strict=True)
        if rule_matches(compiled, order_facts(order, previous_delivered=count))
    }


def test_the_filter_and_the_evaluator_agree(known, make_rule, make_order, warehouses):
    for _ in range(2):
        make_order("delivered", buyer_email="repeat@example.com", channel="taobao")
    make_order("allocated", buyer_email="repeat@example.com", channel="taobao", amount="600.00")
    night = _order("taobao", "66.00", hour=23, days_ago=2)
    morning = _order("taobao", "66.00", hour=3, days_ago=2)
    rules = [
        make_rule(name="a", enabled=False, channels=["taobao", "shopify"]),
        make_rule(name="b", enabled=False, amount_min=Decimal("300"), amount_max=Decimal("450"), amount_currency="CNY"),
        make_rule(name="c", enabled=False, priority="high"),
        make_rule(name="d", enabled=False, is_gift="no", channels=["amazon"]),
        make_rule(name="e", enabled=False, time_from=time(22), time_to=time(4)),
        make_rule(name="f", enabled=False, previous_delivered_min=2),
        make_rule(name="g", enabled=False, warehouses=[warehouses[0]]),
        make_rule(name="h", enabled=False, time_from=time(9), time_to=time(18), channels=["taobao"]),
        make_rule(name="i", enabled=False, places=["region:south", "ZJ"]),
        make_rule(name="j", enabled=False, weight_min_grams=1000, weight_max_grams=4000),
    ]
    # Provinces spelt as the channels do, and parcels with and without a weight by their lines.
    for number, province in enumerate(["广东省", "广东", "Guangdong Province", "GD", "浙江", "zhejiang", "江苏省", ""]):
        _order("shopify", "10.00", ship_province=province, external_id=f"place-{number}")
    for number, grams in enumerate([500, 1000, 2500, 4000, 4001, None]):
        line = {"sku": "S", "quantity": 1, "unit_price": "10.00", "weight_grams": grams}
        _order("shopify", "10.00", lines=[line], external_id=f"weight-{number}")
    for rule in rules:
        preview = rule_preview(rule)
        assert set(preview.matched_ids) == _agree(rule), rule.name
    assert {night.pk, morning.pk} <= set(rule_preview(rules[4]).matched_ids)
    assert rule_preview(rules[5]).matched >= 1
    placed = Order.objects.filter(pk__in=rule_preview(rules[8]).matched_ids, external_id__startswith="place-")
    assert placed.count() == 6  # four spellings of Guangdong, two of Zhejiang
    assert rule_preview(rules[9]).matched == 3


def test_the_preview_page(known, make_rule, login):
    rule = make_rule(
        name="Preview me",
        enabled=False,
        channels=["taobao"],
        amount_min=Decimal("300"),
        amount_currency="CNY",
    )
    ops = login("ops1")
    change = ops.get(reverse("admin:rules_rule_change", args=[rule.pk])).content.decode()
    assert reverse("admin:rules_rule_preview", args=[rule.pk]) in change
    page = ops.get(reverse("admin:rules_rule_preview", args=[rule.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "3 of 10 orders would have matched" in body
    assert reverse("orders:timeline", args=[known["tb_mid"].number]) in body
    assert "switched off" in body


def test_customer_service_cannot_preview(make_rule, login):
    rule = make_rule(name="secret", enabled=False)
    assert login("cs1").get(reverse("admin:rules_rule_preview", args=[rule.pk])).status_code in (302, 403)
