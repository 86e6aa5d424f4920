"""A bad rule is refused on save with an error that says what to fix, and nothing is saved."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from orders.models import Warehouse
from rules.models import Rule, RuleAction
from rules.validation import rule_check
from tests.rules.forms import rule_post_data

pytestmark = pytest.mark.django_db

PRIORITY = {"kind": "set_priority", "priority": 1}


def refused(rule: Rule, actions) -> str:
    with pytest.raises(ValidationError) as info:
        rule_check(rule, [RuleAction(**a) for a in actions])
    return " ".join(m for messages in info.value.message_dict.values() for m in messages)


@pytest.mark.parametrize(
    ("fields", "actions", "message"),
    [
        (
            {"amount_min": Decimal("900"), "amount_max": Decimal("100"), "amount_currency": "CNY"},
            [PRIORITY],
            "below the smallest",
        ),
        ({"amount_min": Decimal("100")}, [PRIORITY], "needs its currency"),
        ({"amount_min": Decimal("100"), "amount_currency": "RMB1"}, [PRIORITY], "not a currency code"),
        ({"amount_currency": "CNY"}, [PRIORITY], "restricts nothing"),
        ({"time_from": time(9)}, [PRIORITY], "needs both ends"),
        ({"time_from": time(9), "time_to": time(9)}, [PRIORITY], "window is empty"),
        ({"channels": ["ebay"]}, [PRIORITY], "channels from the list"),
        ({"trigger": "no_such_event"}, [PRIORITY], "trigger from the list"),
        ({}, [], "at least one action"),
        ({}, [{"kind": "set_priority"}], "needs the priority"),
        ({}, [{"kind": "assign_cs_owner"}], "needs the customer-service user"),
        ({}, [{"kind": "assign_warehouse"}], "needs the warehouse"),
        ({}, [{"kind": "approve_return"}], "whose trigger is"),
        ({"trigger": "deliver"}, [{"kind": "hold_for_risk"}], "cannot be held for risk review"),
        ({}, [{"kind": "notify"}], "needs whom"),
        ({}, [{"kind": "open_alert"}], "needs the alert kind"),
        ({}, [{"kind": "rm -rf"}], "action from the list"),
    ],
)
def test_bad_rules_are_refused(fields, actions, message):
    assert message in refused(Rule(name="bad", **fields), actions)


def test_assign_owner_needs_a_customer_service_user(users):
    text = refused(Rule(name="bad"), [{"kind": "assign_cs_owner", "user": users["wh1"]}])
    assert "not an active customer-service user" in text
    rule_check(Rule(name="good"), [RuleAction(kind="assign_cs_owner", user=users["cs1"])])


def test_assign_warehouse_needs_an_active_one(warehouses):
    closed = Warehouse.objects.create(code="closed", name="Closed", is_active=False)
    assert "not active" in refused(Rule(name="bad"), [{"kind": "assign_warehouse", "warehouse": closed}])


def test_the_good_ones_pass():
    rule_check(Rule(name="return", trigger="request_return"), [RuleAction(kind="approve_return")])
    rule_check(Rule(name="hold", trigger="pay"), [RuleAction(kind="hold_for_risk")])
    rule_check(Rule(name="night", time_from=time(22), time_to=time(6)), [RuleAction(**PRIORITY)])


def test_the_admin_refuses_a_bad_rule_and_saves_nothing(login, users):
    before = (Rule.objects.count(), RuleAction.objects.count(), Rule.history.count())
    ops = login("ops1")
    cases = [
        (
            rule_post_data(name="x", amount_min="900", amount_max="100", amount_currency="CNY", actions=[PRIORITY]),
            "below the smallest",
        ),
        (rule_post_data(name="x", actions=[]), "at least one action"),
        (rule_post_data(name="x", actions=[{"kind": "approve_return"}]), "whose trigger is"),
        (
            rule_post_data(name="x", actions=[{"kind": "assign_cs_owner", "user": users["fin1"]}]),
            "customer-service user",
        ),
        (rule_post_data(name="x", trigger="archive", actions=[{"kind": "hold_for_risk"}]), "cannot be held"),
        (rule_post_data(name="x", trigger="pay", actions=[{"kind": "approve"}]), "needs its cooling-off"),
        (rule_post_data(name="x", trigger="approve", actions=[{"kind": "choose_carrier"}]), "needs the carrier"),
        (
            rule_post_data(name="x", weight_min_grams=900, weight_max_grams=100, actions=[PRIORITY]),
            "below the smallest (900 g)",
        ),
    ]
    for data, message in cases:
        response = ops.post(reverse("admin:rules_rule_add"), data)
        assert response.status_code == 200, message
        assert message in response.content.decode(), message
    assert (Rule.objects.count(), RuleAction.objects.count(), Rule.history.count()) == before


def test_the_admin_saves_a_good_rule_off_with_its_actions(login, users, warehouses):
    response = login("ops1").post(
        reverse("admin:rules_rule_add"),
        rule_post_data(
            name="淘宝夜单 / Taobao night orders",
            channels=["taobao"],
            time_from="22:00",
            time_to="06:00",
            warehouses=[warehouses[0]],
            actions=[
                {"kind": "notify", "role": "operations", "message": "夜单"},
                {"kind": "open_alert", "alert_kind": "stale_order"},
            ],
        ),
    )
    assert response.status_code == 302
    rule = Rule.objects.get(name__startswith="淘宝夜单")
    assert not rule.enabled and rule.channels == ["taobao"] and list(rule.warehouses.all()) == [warehouses[0]]
    assert sorted(rule.actions.values_list("kind", flat=True)) == ["notify", "open_alert"]
    assert {h.history_user for h in rule.history.all()} == {users["ops1"]}
    assert rule.actions.first().history.get().history_user == users["ops1"]


def test_the_editor_pages_open_for_operations(login, users):
    ops = login("ops1")
    add = ops.get(reverse("admin:rules_rule_add"))
    assert add.status_code == 200
    body = add.content.decode()
    # Ordinary fields: the trigger is a list of the hub's events, the actions a fixed list.
    assert 'name="trigger"' in body and '<option value="request_return"' in body
    assert 'name="actions-0-kind"' in body or 'name="actions-__prefix__-kind"' in body
    assert '<option value="hold_for_risk"' in body
    rule = Rule.objects.get(name__startswith="高价值订单")
    assert ops.get(reverse("admin:rules_rule_change", args=[rule.pk])).status_code == 200
    assert ops.get(reverse("admin:rules_rule_history", args=[rule.pk])).status_code == 200


def test_the_admin_saves_an_approval_rule_and_a_regional_carrier_rule(login, users):
    ops = login("ops1")
    response = ops.post(
        reverse("admin:rules_rule_add"),
        rule_post_data(
            name="大促自动审单 / Sale-day approval",
            trigger="pay",
            channels=["shopify"],
            actions=[{"kind": "approve", "cooling_off_minutes": 5}],
        ),
    )
    assert response.status_code == 302
    action = Rule.objects.get(name__startswith="大促自动审单").actions.get()
    assert (action.kind, action.cooling_off_minutes) == ("approve", 5)
    response = ops.post(
        reverse("admin:rules_rule_add"),
        rule_post_data(
            name="西北重件 / Heavy to the northwest",
            trigger="allocate",
            places=["region:northwest", "SC"],
            weight_min_grams=5000,
            actions=[{"kind": "choose_carrier", "carrier": "zto"}],
        ),
    )
    assert response.status_code == 302
    rule = Rule.objects.get(name__startswith="西北重件")
    assert (rule.places, rule.weight_min_grams) == (["region:northwest", "SC"], 5000)
    listing = ops.get(reverse("admin:rules_rule_changelist")).content.decode()
    assert "Northwest China (西北)" in listing and "≥ 5000 g" in listing
