"""Rules operations own: per-kind alert settings, stale thresholds, the high-value threshold
(the "High value" operations rule since the rules app), the warehouse's promised ship time.
Seeded by a data migration, edited in the admin by operations, every change audited, taking
effect at the next use without a restart."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from alerts.models import AlertKind, AlertKindSettings, StaleThreshold
from notifications.models import ChatRobot
from orders.demo import demo_address
from orders.models import Order, Warehouse
from orders.services.intake import IntakeItem, order_intake, order_intake_batch_in_transaction
from orders.states import Priority
from rules.defaults import HIGH_VALUE_NAME
from rules.models import Rule
from tests.rules.forms import rule_post_data

OTHER_ROLES = ["cs1", "wh1", "fin1", "tech1"]


@pytest.fixture
def login(users):
    def make(username) -> Client:
        client = Client()
        client.force_login(users[username])
        return client

    return make


_keys = iter(range(1, 10_000))


def intake(amount: str, currency: str) -> Order:
    fields = {"amount": amount, "currency": currency, **demo_address(random.Random(3))}
    result = order_intake(
        channel="manual", external_id=f"T-{next(_keys)}", fields=fields, paid=None, cancelled=False, source_note=""
    )
    return result.order


def intake_batch(*amounts: tuple[str, str]) -> list[Order]:
    items = [
        IntakeItem(
            external_id=f"B-{next(_keys)}",
            fields={"amount": amount, "currency": currency, **demo_address(random.Random(4))},
        )
        for amount, currency in amounts
    ]
    with transaction.atomic():
        results = order_intake_batch_in_transaction(channel="manual", items=items)
    return [Order.objects.get(pk=r.order.pk) for r in results]


def kind_url(kind: str) -> str:
    return reverse("admin:alerts_alertkindsettings_change", args=[AlertKindSettings.objects.get(kind=kind).pk])


def kind_form(row: AlertKindSettings, **changes) -> dict:
    data = {
        "enabled": "on" if row.enabled else "",
        "severity": row.severity,
        "assigned_role": row.assigned_role,
        "escalation_minutes": row.escalation_minutes,
        "robots": [r.pk for r in row.robots.all()],
        "params": json.dumps(row.params),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


# ---------------------------------------------------------------------------------------------
# The seed


@pytest.mark.django_db
def test_the_defaults_are_seeded():
    rows = {r.kind: r for r in AlertKindSettings.objects.all()}
    assert set(rows) == set(AlertKind.values)
    assert {k: (r.enabled, r.severity, r.assigned_role) for k, r in rows.items()} == {
        "stale_order": (True, "warning", "operations"),
        "conflicting_edits": (True, "warning", "operations"),
        "sla_breach": (True, "critical", "operations"),
        "integration_failure": (True, "critical", "tech_lead"),
        "duplicate_refund": (True, "critical", "operations"),
        "risk_hold_waiting": (True, "warning", "operations"),
        "ship_by_due_soon": (True, "warning", "warehouse"),
        "not_collected": (True, "warning", "warehouse"),
        "tracking_silent": (True, "warning", "customer_service"),
        "delivery_exception": (True, "critical", "customer_service"),
        "returned_to_sender": (True, "warning", "customer_service"),
    }
    assert rows["risk_hold_waiting"].params == {"minutes": 120}
    assert rows["tracking_silent"].params == {"hours": 24, "escalate_hours": 48}
    assert rows["not_collected"].params == {"hours": 24} and rows["ship_by_due_soon"].params == {"hours_before": 6}
    assert rows["sla_breach"].params == {"default_promised_hours": 48}
    assert rows["sla_breach"].escalation_minutes == 15 and rows["stale_order"].escalation_minutes == 30


@pytest.mark.django_db(transaction=True)
def test_the_defaults_are_back_after_a_flush(roles):
    assert AlertKindSettings.objects.count() == len(AlertKind.values)


# ---------------------------------------------------------------------------------------------
# High value at intake, from data


def test_high_value_at_intake_follows_the_seeded_threshold(users):
    assert intake("500.01", "CNY").priority == Priority.HIGH
    assert intake("500.00", "CNY").priority == Priority.NORMAL
    assert intake("900.00", "USD").priority == Priority.NORMAL  # no USD threshold yet
    high, normal = intake_batch(("501", "CNY"), ("499", "CNY"))
    assert (high.priority, normal.priority) == (Priority.HIGH, Priority.NORMAL)


def _high_value_rule() -> Rule:
    return Rule.objects.get(name=HIGH_VALUE_NAME)


def test_operations_edit_thresholds_and_the_next_intake_uses_them(login, users):
    # The high-value threshold is the "High value" operations rule (one per currency).
    ops = login("ops1")
    data = rule_post_data(
        name="High value (USD)",
        enabled=True,
        trigger="created",
        amount_min="100.01",
        amount_currency="usd",
        actions=[{"kind": "set_priority", "priority": 1}],
    )
    response = ops.post(reverse("admin:rules_rule_add"), data)
    assert response.status_code == 302
    assert Rule.objects.get(name="High value (USD)").amount_currency == "USD"
    assert intake("150.00", "USD").priority == Priority.HIGH
    assert intake("99.00", "USD").priority == Priority.NORMAL

    cny = _high_value_rule()
    url = reverse("admin:rules_rule_change", args=[cny.pk])
    assert ops.post(url, rule_post_data(cny, amount_min="1000.01")).status_code == 302
    assert intake("899.00", "CNY").priority == Priority.NORMAL
    assert intake("1000.01", "CNY").priority == Priority.HIGH
    batch = intake_batch(("899", "CNY"), ("1001", "CNY"), ("150", "USD"), ("50", "USD"))
    assert [o.priority for o in batch] == [Priority.NORMAL, Priority.HIGH, Priority.HIGH, Priority.NORMAL]

    history = [(h.name, h.amount_min, h.history_type, h.history_user) for h in Rule.history.order_by("history_id")]
    assert history[-2:] == [
        ("High value (USD)", Decimal("100.01"), "+", users["ops1"]),
        (HIGH_VALUE_NAME, Decimal("1000.01"), "~", users["ops1"]),
    ]
    assert ops.get(reverse("admin:rules_rule_history", args=[cny.pk])).status_code == 200


def test_with_the_high_value_rule_off_nothing_takes_the_priority_lane(users):
    Rule.objects.filter(name=HIGH_VALUE_NAME).update(enabled=False)
    assert intake("900", "CNY").priority == Priority.NORMAL
    assert [o.priority for o in intake_batch(("900", "CNY"), ("150", "CNY"))] == [Priority.NORMAL, Priority.NORMAL]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"amount_currency": "US", "amount_min": "100"}, "not a currency code"),
        ({"amount_currency": "US1", "amount_min": "100"}, "not a currency code"),
        ({"amount_currency": "USD", "amount_min": "-1"}, "greater than or equal to 0"),
        ({"amount_min": "100"}, "needs its currency"),
    ],
)
def test_bad_priority_thresholds_are_refused(login, users, data, error):
    before = (Rule.objects.count(), Rule.history.count())
    post = rule_post_data(name="High value (bad)", actions=[{"kind": "set_priority", "priority": 1}], **data)
    response = login("ops1").post(reverse("admin:rules_rule_add"), post)
    assert response.status_code == 200 and error in response.content.decode()
    assert (Rule.objects.count(), Rule.history.count()) == before


# ---------------------------------------------------------------------------------------------
# Alert kind settings


def test_operations_edit_a_kind_and_the_history_says_who_and_what(login, users):
    robot = ChatRobot.objects.create(name="运营群", kind="wecom", webhook_url="https://qyapi.example.com/x?key=k")
    row = AlertKindSettings.objects.get(kind="risk_hold_waiting")
    ops = login("ops1")
    changes = {"severity": "critical", "escalation_minutes": 5, "robots": [robot.pk], "params": '{"minutes": 60}'}
    response = ops.post(kind_url("risk_hold_waiting"), kind_form(row, **changes))
    assert response.status_code == 302, response.content.decode()[:2000]

    row.refresh_from_db()
    assert (row.severity, row.escalation_minutes, row.params) == ("critical", 5, {"minutes": 60})
    assert list(row.robots.all()) == [robot]
    record = row.history.order_by("-history_id").first()
    assert (record.history_user, record.history_type, record.severity, record.params) == (
        users["ops1"],
        "~",
        "critical",
        {"minutes": 60},
    )
    assert [r.chatrobot_id for r in record.robots.all()] == [robot.pk]
    assert row.history.count() == 1  # one record per save, not one more per robot change
    assert "运营群" in ops.get(reverse("admin:alerts_alertkindsettings_changelist")).content.decode()

    # Taking the robot off again: the next record has none, the one before still has it.
    response = ops.post(kind_url("risk_hold_waiting"), kind_form(row, robots=[]))
    assert response.status_code == 302
    latest = row.history.order_by("-history_id").first()
    assert list(latest.robots.all()) == [] and [r.chatrobot_id for r in latest.prev_record.robots.all()] == [robot.pk]
    assert ops.get(reverse("admin:alerts_alertkindsettings_history", args=[row.pk])).status_code == 200


def test_kinds_are_neither_added_nor_deleted(login, users):
    ops = login("ops1")
    assert ops.get(reverse("admin:alerts_alertkindsettings_add")).status_code == 403
    pk = AlertKindSettings.objects.get(kind="stale_order").pk
    assert ops.post(reverse("admin:alerts_alertkindsettings_delete", args=[pk]), {"post": "yes"}).status_code == 403
    assert AlertKindSettings.objects.count() == len(AlertKind.values)


@pytest.mark.parametrize(
    ("kind", "params", "error"),
    [
        ("risk_hold_waiting", {"minutes": 0}, "at least 1"),
        ("risk_hold_waiting", {"minutes": "ten"}, "whole number"),
        ("risk_hold_waiting", {"minutes": 1.5}, "whole number"),
        ("risk_hold_waiting", {"minutes": True}, "whole number"),
        ("risk_hold_waiting", {"minute": 60}, "not a threshold of this kind"),
        ("sla_breach", {"minutes": 60}, "it takes: default_promised_hours"),
        ("duplicate_refund", {"minutes": 60}, "not a threshold of this kind"),
        ("risk_hold_waiting", [60], "must be an object"),
    ],
)
def test_bad_parameters_are_refused_and_change_nothing(login, users, kind, params, error):
    row = AlertKindSettings.objects.get(kind=kind)
    before = (row.params, row.severity, AlertKindSettings.history.count())
    response = login("ops1").post(kind_url(kind), kind_form(row, severity="info", params=json.dumps(params)))
    assert response.status_code == 200
    assert error in response.content.decode()
    row.refresh_from_db()
    assert (row.params, row.severity, AlertKindSettings.history.count()) == before


# ---------------------------------------------------------------------------------------------
# Stale thresholds per state


def test_operations_set_a_stale_threshold_for_a_watched_state(login, users):
    ops = login("ops1")
    assert ops.post(reverse("admin:alerts_stalethreshold_add"), {"state": "paid", "minutes": 90}).status_code == 302
    threshold = StaleThreshold.objects.get(state="paid")
    assert threshold.minutes == 90
    url = reverse("admin:alerts_stalethreshold_change", args=[threshold.pk])
    assert ops.post(url, {"state": "paid", "minutes": 45}).status_code == 302
    history = [(h.minutes, h.history_type, h.history_user) for h in threshold.history.order_by("history_id")]
    assert history == [(90, "+", users["ops1"]), (45, "~", users["ops1"])]
    delete = reverse("admin:alerts_stalethreshold_delete", args=[threshold.pk])
    assert ops.post(delete, {"post": "yes"}).status_code == 302
    assert not StaleThreshold.objects.exists()
    assert StaleThreshold.history.order_by("-history_id").first().history_type == "-"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"state": "submitted", "minutes": 60}, "not watched for staleness"),
        ({"state": "nonsense", "minutes": 60}, "Select a valid choice"),
        ({"state": "paid", "minutes": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_stale_thresholds_are_refused(login, users, data, error):
    response = login("ops1").post(reverse("admin:alerts_stalethreshold_add"), data)
    assert response.status_code == 200 and error in response.content.decode()
    assert not StaleThreshold.objects.exists() and not StaleThreshold.history.exists()


# ---------------------------------------------------------------------------------------------
# The warehouse's promise


def test_operations_edit_the_promised_ship_time(login, users, warehouses):
    warehouse = Warehouse.objects.order_by("pk").first()
    ops = login("ops1")
    assert "promised_ship_hours" in ops.get(reverse("admin:orders_warehouse_changelist")).content.decode()
    data = {
        f.name: getattr(warehouse, f.name)
        for f in Warehouse._meta.concrete_fields
        if f.name != "id" and getattr(warehouse, f.name) not in (None, False)
    }
    data["promised_ship_hours"] = 24
    response = ops.post(reverse("admin:orders_warehouse_change", args=[warehouse.pk]), data)
    assert response.status_code == 302
    warehouse.refresh_from_db()
    assert warehouse.promised_ship_hours == 24


# ---------------------------------------------------------------------------------------------
# Only operations


@pytest.mark.parametrize("who", OTHER_ROLES)
def test_other_roles_cannot_edit_the_rules(login, users, who):
    client = login(who)
    row = AlertKindSettings.objects.get(kind="stale_order")
    cny = _high_value_rule()
    before = (AlertKindSettings.history.count(), Rule.history.count())
    attempts = [
        (kind_url("stale_order"), kind_form(row, enabled="")),
        (reverse("admin:rules_rule_change", args=[cny.pk]), rule_post_data(cny, amount_min="1")),
        (
            reverse("admin:rules_rule_add"),
            rule_post_data(name="x", amount_min="1", amount_currency="USD", actions=[{"kind": "set_priority"}]),
        ),
        (reverse("admin:alerts_stalethreshold_add"), {"state": "paid", "minutes": 1}),
    ]
    for url, data in attempts:
        assert client.post(url, data).status_code == 403, url
    row.refresh_from_db()
    cny.refresh_from_db()
    assert row.enabled and cny.amount_min == Decimal("500.01") and not StaleThreshold.objects.exists()
    assert (AlertKindSettings.history.count(), Rule.history.count()) == before
