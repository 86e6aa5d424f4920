from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client

from rules.models import Rule, RuleAction
from rules.services import rules_apply_for_event
from rules.validation import rule_check


@pytest.fixture
def make_rule(db):
    """make_rule(name=…, trigger=…, conditions…, actions=[{"kind": …, …}], enabled=True): a
    rule checked as the admin checks it, then saved."""

    def make(*, actions=({"kind": "set_priority", "priority": 1},), shops=(), brands=(), warehouses=(), **fields):
        fields.setdefault("name", f"rule {Rule.objects.count() + 1}")
        fields.setdefault("enabled", True)
        rule = Rule(**fields)
        rule_actions = [RuleAction(**a) for a in actions]
        rule_check(rule, rule_actions)
        rule.save()
        rule.shops.set(shops)
        rule.brands.set(brands)
        rule.warehouses.set(warehouses)
        for action in rule_actions:
            action.rule = rule
            action.save()
        return rule

    return make


@pytest.fixture
def run_rules():
    """What the outbox worker does with a "rules_run" message: the event's rules, in a
    transaction."""

    def run(event) -> str:
        with transaction.atomic():
            return rules_apply_for_event(event)

    return run


@pytest.fixture
def login(users):
    def make(username) -> Client:
        client = Client()
        client.force_login(users[username])
        return client

    return make
