"""The one way an app plugs into the hub: it declares, on its AppConfig, what it adds.

    class FinanceConfig(HubAppConfig):
        name = "finance"
        event_types = "finance.events.EVENT_TYPES"              # [EventType(code, verb, label)]
        reaction_kinds = "finance.reactions.REACTION_KINDS"     # [ReactionKind]
        outbox_subscriptions = ""                               # (event_type) -> [(id, kind, params)]
        outcome_listeners = ("alerts.outcomes.integration_outcome",)   # (message, status, error)
        event_listeners = ("kpis.interventions.interventions_tag",)    # (events), in their transaction
        order_actions_elsewhere = "aftersales.admin_returns.ORDER_ACTIONS_ELSEWHERE"  # {action: url_for}
        post_migrate = ("alerts.beat.sweep_schedules_install",)        # installers after `migrate`
        extensions = {"rules.action_handlers": "aftersales.services.returns.RULE_ACTION_HANDLERS"}

`extensions` feeds another app's extension point without either importing the other: the
point's owner reads `hub_extensions(point)` (the rules engine takes the actions whose records
live in after-sales this way, since after-sales itself asks the rules engine about returns).

Every value is a dotted path (import_string), read once in `ready()` by `hub_app_load`, so the
order app never names another app, and another app never calls a register function from an
import side effect. Registering the same thing twice is harmless (tests reload apps).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class EventType:
    """A timeline event type that is not a state change: its verb on the timeline ("paid a
    refund") and its name in the rule editor ("A refund was paid")."""

    code: str
    verb: Any
    label: Any


class HubAppConfig(AppConfig):
    """An app of the hub. Subclasses set the declarations below; `ready()` collects them."""

    event_types: str = ""
    reaction_kinds: str = ""
    outbox_subscriptions: str = ""
    outcome_listeners: tuple[str, ...] = ()
    event_listeners: tuple[str, ...] = ()
    order_actions_elsewhere: str = ""
    post_migrate: tuple[str, ...] = ()
    extensions: dict[str, str] = {}

    def ready(self) -> None:
        hub_app_load(self)


_extensions: dict[str, list] = {}


def hub_extensions(point: str) -> list:
    """What the installed apps declared for `point`, in INSTALLED_APPS order."""
    return list(_extensions.get(point, ()))


def _each(value: Any) -> Iterable:
    return value() if callable(value) else value


def hub_app_load(config: HubAppConfig) -> None:
    """Register what `config` declares with the hub's registries (orders.events, the outbox,
    the order admin)."""
    # Imported here: the registries import models, which are ready only once apps are.
    from .events import event_type_register
    from .outbox.kinds import reaction_kind_register
    from .outbox.listeners import event_listener_register, outcome_listener_register, subscription_source_register

    if config.event_types:
        for event_type in _each(import_string(config.event_types)):
            event_type_register(event_type.code, verb=event_type.verb, label=event_type.label)
    if config.reaction_kinds:
        for kind in _each(import_string(config.reaction_kinds)):
            reaction_kind_register(kind)
    if config.outbox_subscriptions:
        subscription_source_register(import_string(config.outbox_subscriptions))
    for path in config.outcome_listeners:
        outcome_listener_register(import_string(path))
    for path in config.event_listeners:
        event_listener_register(import_string(path))
    if config.order_actions_elsewhere:
        from .admin import order_action_elsewhere_register

        for action, url_for in import_string(config.order_actions_elsewhere).items():
            order_action_elsewhere_register(action, url_for)
    for point, path in config.extensions.items():
        value = import_string(path)
        if value not in _extensions.setdefault(point, []):
            _extensions[point].append(value)
    for path in config.post_migrate:
        installer: Callable = import_string(path)
        post_migrate.connect(installer, sender=config, dispatch_uid=f"{config.label}:{path}")
