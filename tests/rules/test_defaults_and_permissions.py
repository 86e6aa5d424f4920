"""The seed's rules ship as editable defaults; only operations and administrators change rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from orders.outbox.listeners import subscriptions_for
from rules.defaults import (
    APPROVAL_AFTER_EXCEPTION_NAME,
    APPROVAL_NAME,
    BUILTIN_REACTIONS,
    HIGH_VALUE_NAME,
    REPEAT_RETURN_NAME,
    SLA_NAME,
)
from rules.events import RULES_RUN_REACTION
from rules.models import Rule, RuleFiring
from tests.rules.forms import rule_post_data

pytestmark = pytest.mark.django_db


def test_the_defaults_are_there_after_migrate():
    high = Rule.objects.get(name=HIGH_VALUE_NAME)
    assert (high.enabled, high.trigger, high.amount_min, high.amount_currency) == (
        True,
        "created",
        Decimal("500.01"),
        "CNY",
    )
    assert [(a.kind, a.priority) for a in high.actions.all()] == [("set_priority", 1)]

    repeat = Rule.objects.get(name=REPEAT_RETURN_NAME)
    assert (repeat.enabled, repeat.trigger, repeat.previous_delivered_min) == (True, "request_return", 3)
    assert [a.kind for a in repeat.actions.all()] == ["approve_return"]
    # The outbox runs the rules of "return requested" after each such event.
    assert ("kind:rules_run", RULES_RUN_REACTION) in {
        (key, kind) for _r, key, kind, _p in subscriptions_for("request_return")
    }

    sla = Rule.objects.get(name=SLA_NAME)
    assert (sla.enabled, sla.trigger) == (False, "allocate")
    assert [(a.kind, a.role) for a in sla.actions.all()] == [("notify", "warehouse")]


@pytest.mark.django_db(transaction=True)
def test_the_defaults_come_back_after_a_flush():
    import io

    from django.core.management import call_command

    # What pytest-django does between transactional tests: empty every table, then post_migrate.
    call_command("flush", interactive=False, stdout=io.StringIO())
    assert set(Rule.objects.values_list("name", flat=True)) == {
        HIGH_VALUE_NAME,
        REPEAT_RETURN_NAME,
        SLA_NAME,
        APPROVAL_NAME,
        APPROVAL_AFTER_EXCEPTION_NAME,
        *(name for name, *_rest in BUILTIN_REACTIONS),
    }
    assert RULES_RUN_REACTION in {kind for _r, _k, kind, _p in subscriptions_for("request_return")}


def test_operations_edit_a_default(login):
    high = Rule.objects.get(name=HIGH_VALUE_NAME)
    response = login("ops1").post(reverse("admin:rules_rule_change", args=[high.pk]), rule_post_data(high, position=5))
    assert response.status_code == 302
    assert Rule.objects.get(pk=high.pk).position == 5


@pytest.mark.parametrize("who", ["cs1", "wh1", "fin1", "tech1"])
def test_other_roles_cannot_change_rules(login, who):
    high = Rule.objects.get(name=HIGH_VALUE_NAME)
    client = login(who)
    before = (Rule.objects.count(), Rule.history.count())
    assert (
        client.post(reverse("admin:rules_rule_change", args=[high.pk]), rule_post_data(high, enabled=False)).status_code
        == 403
    )
    added = client.post(
        reverse("admin:rules_rule_add"), rule_post_data(name="mine", actions=[{"kind": "set_priority", "priority": 1}])
    )
    assert added.status_code == 403
    assert client.post(reverse("admin:rules_rule_delete", args=[high.pk]), {"post": "yes"}).status_code == 403
    assert (Rule.objects.count(), Rule.history.count()) == before
    assert Rule.objects.get(pk=high.pk).enabled


@pytest.mark.parametrize(("who", "status"), [("cs1", 403), ("wh1", 403), ("fin1", 403), ("tech1", 200), ("ops1", 200)])
def test_who_sees_the_rules(login, who, status):
    assert login(who).get(reverse("admin:rules_rule_changelist")).status_code == status


def test_an_administrator_may_change_rules(login, users):
    high = Rule.objects.get(name=HIGH_VALUE_NAME)
    assert (
        login("admin").post(reverse("admin:rules_rule_change", args=[high.pk]), rule_post_data(high)).status_code == 302
    )


def test_firings_are_read_only(login, users):
    from orders.services.orders import order_create

    order_create(actor=None, channel="taobao", amount="900.00")
    firing = RuleFiring.objects.get()
    ops = login("ops1")
    assert ops.get(reverse("admin:rules_rulefiring_changelist")).status_code == 200
    rule_page = ops.get(reverse("admin:rules_rule_change", args=[firing.rule_id])).content.decode()
    assert "1 firing<" in rule_page and f"rule__id__exact={firing.rule_id}" in rule_page
    assert ops.get(reverse("admin:rules_rulefiring_change", args=[firing.pk])).status_code == 200
    assert ops.post(reverse("admin:rules_rulefiring_delete", args=[firing.pk]), {"post": "yes"}).status_code == 403


def test_the_list_shows_each_rule_s_conditions_and_actions(login):
    body = login("ops1").get(reverse("admin:rules_rule_changelist")).content.decode()
    assert "≥ 500.01 CNY" in body and "3+ delivered" in body
    assert reverse("admin:rules_rule_preview", args=[Rule.objects.get(name=HIGH_VALUE_NAME).pk]) in body
