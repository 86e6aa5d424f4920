"""The checks a rule passes before it is saved, each with an error that says what to fix.

Used by the model's clean() (conditions), the admin's action rows (each action's parameters)
and `rule_check` (the whole rule, for services and tests that save outside the admin).
"""

from __future__ import annotations

from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from alerts.models import AlertKind, AlertSeverity
from orders.outbox.kinds import reaction_params_clean
from orders.permissions import role_of
from orders.regions import place_is_known
from orders.states import TRANSITIONS_BY_ACTION, Carrier, Channel, Priority, Role, State

from .models import TRIGGER_ORDER_CREATED, ActionKind, reaction_choices, states_after_trigger, trigger_choices

RETURN_REQUESTED_TRIGGER = "request_return"
_RISK_HOLD = TRANSITIONS_BY_ACTION["flag_risk"]
# A day: an approval later than that is a forgotten order, not a cooling-off.
MAX_COOLING_OFF_MINUTES = 24 * 60


def _currency_ok(code: str) -> bool:
    return len(code) == 3 and code.isascii() and code.isalpha()


def rule_conditions_check(rule) -> dict[str, list[str]]:
    """{field: [errors]} for the rule's own fields (not its many-to-many conditions)."""
    errors: dict[str, list[str]] = {}

    def add(name, message):
        errors.setdefault(name, []).append(message)

    if rule.trigger not in {code for code, _label in trigger_choices()}:
        add("trigger", _("Choose the trigger from the list."))
    channels = rule.channels or []
    if not isinstance(channels, list) or any(c not in Channel.values for c in channels):
        add("channels", _("Choose the channels from the list."))
    currency = (rule.amount_currency or "").strip().upper()
    rule.amount_currency = currency
    has_amount = rule.amount_min is not None or rule.amount_max is not None
    if has_amount and not currency:
        add("amount_currency", _("An amount condition needs its currency (e.g. CNY)."))
    elif currency and not _currency_ok(currency):
        add(
            "amount_currency",
            _("“%(currency)s” is not a currency code: three letters, e.g. CNY.") % {"currency": currency},
        )
    elif currency and not has_amount:
        add("amount_currency", _("A currency without an amount restricts nothing: give an amount or leave it empty."))
    if rule.amount_min is not None and rule.amount_max is not None and rule.amount_min > rule.amount_max:
        add(
            "amount_max",
            _("The largest amount (%(max)s) is below the smallest (%(min)s): no order could match.")
            % {"max": rule.amount_max, "min": rule.amount_min},
        )
    places = rule.places or []
    if not isinstance(places, list) or any(not isinstance(p, str) or not place_is_known(p) for p in places):
        add("places", _("Choose the provinces and regions from the list."))
    if (
        rule.weight_min_grams is not None
        and rule.weight_max_grams is not None
        and rule.weight_min_grams > rule.weight_max_grams
    ):
        add(
            "weight_max_grams",
            _("The largest weight (%(max)s g) is below the smallest (%(min)s g): no order could match.")
            % {"max": rule.weight_max_grams, "min": rule.weight_min_grams},
        )
    if (rule.time_from is None) != (rule.time_to is None):
        add("time_to", _("A time window needs both ends: from and before."))
    elif rule.time_from is not None and rule.time_from == rule.time_to:
        add("time_to", _("The time window is empty: “from” and “before” are the same time."))
    return errors


def action_check(action, *, trigger: str) -> dict[str, list[str]]:
    """{field: [errors]} for one action row, given the rule's trigger."""
    errors: dict[str, list[str]] = {}

    def add(name, message):
        errors.setdefault(name, []).append(message)

    kind = action.kind
    if kind not in ActionKind.values:
        add("kind", _("Choose the action from the list."))
        return errors
    if kind == ActionKind.SET_PRIORITY:
        if action.priority is None or action.priority not in Priority.values:
            add("priority", _("“Set the priority lane” needs the priority to set."))
    elif kind == ActionKind.ASSIGN_CS_OWNER:
        user = action.user
        if user is None:
            add("user", _("“Assign a customer-service owner” needs the customer-service user."))
        elif not user.is_active or role_of(user) not in (Role.CUSTOMER_SERVICE, Role.ADMIN):
            add("user", _("%(name)s is not an active customer-service user.") % {"name": user.get_username()})
    elif kind == ActionKind.ASSIGN_WAREHOUSE:
        if action.warehouse is None:
            add("warehouse", _("“Assign a warehouse” needs the warehouse."))
        elif not action.warehouse.is_active:
            add("warehouse", _("Warehouse “%(name)s” is not active.") % {"name": action.warehouse.name})
    elif kind == ActionKind.APPROVE_RETURN:
        if trigger != RETURN_REQUESTED_TRIGGER:
            add(
                "kind",
                _("A return can only be approved by a rule whose trigger is “%(trigger)s”.")
                % {"trigger": TRANSITIONS_BY_ACTION[RETURN_REQUESTED_TRIGGER].label},
            )
    elif kind == ActionKind.NOTIFY:
        users, robots = _many(action, "users"), _many(action, "robots")
        if action.user is None and not action.role and not action.notify_cs_owner and not users and not robots:
            add(
                "user",
                _("“Notify someone” needs whom: a user, a role, the order's customer-service owner or a chat robot."),
            )
        for user in users:
            if not user.is_active:
                add("users", _("%(name)s is not an active user.") % {"name": user.get_username()})
        if action.user is not None and not action.user.is_active:
            add("user", _("%(name)s is not an active user.") % {"name": action.user.get_username()})
    elif kind == ActionKind.OPEN_ALERT:
        if action.alert_kind not in AlertKind.values:
            add("alert_kind", _("“Open an alert” needs the alert kind."))
        if action.alert_severity and action.alert_severity not in AlertSeverity.values:
            add("alert_severity", _("Choose the severity from the list."))
    elif kind == ActionKind.REACTION:
        if action.reaction not in {code for code, _label in reaction_choices()}:
            add("reaction", _("“Run a built-in reaction” needs the reaction, from the list."))
        else:
            try:
                reaction_params_clean(action.reaction, action.params)
            except ValidationError as exc:
                for message in exc.messages:
                    add("params", message)
    elif kind == ActionKind.APPROVE:
        states = states_after_trigger(trigger)
        if states is not None and State.PAID not in states:
            add(
                "kind",
                _("Only a paid order is approved: choose a trigger after which the order is paid (e.g. “%(pay)s”).")
                % {"pay": TRANSITIONS_BY_ACTION["pay"].label},
            )
        if action.cooling_off_minutes is None:
            add("cooling_off_minutes", _("“Approve the order” needs its cooling-off, in minutes (0 for none)."))
        elif action.cooling_off_minutes > MAX_COOLING_OFF_MINUTES:
            add(
                "cooling_off_minutes",
                _("A cooling-off of at most %(max)s minutes: longer, and the ship-by promise is at risk.")
                % {"max": MAX_COOLING_OFF_MINUTES},
            )
    elif kind == ActionKind.CHOOSE_CARRIER:
        if action.carrier not in Carrier.values:
            add("carrier", _("“Choose the carrier” needs the carrier, from the list."))
    elif kind == ActionKind.HOLD_FOR_RISK:
        states = states_after_trigger(trigger)
        if states is not None and not states & set(_RISK_HOLD.sources):
            add(
                "kind",
                _(
                    "An order cannot be held for risk review right after this trigger: only paid or reviewed "
                    "orders can be held."
                ),
            )
    return errors


def _many(action, name: str) -> list:
    """An action's many-to-many people or robots: what the admin form chose, or what a saved
    row holds (an unsaved row has none yet)."""
    if not isinstance(action, SimpleNamespace) and getattr(action, "pk", None) is None:
        return []
    value = getattr(action, name, None)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    if hasattr(value, "all"):
        return list(value.all()) if getattr(action, "pk", None) else []
    return list(value)


def rule_check(rule, actions) -> None:
    """The whole rule with its actions; raises ValidationError naming every problem."""
    errors = rule_conditions_check(rule)
    actions = list(actions)
    if not actions:
        errors.setdefault("__all__", []).append(_("A rule needs at least one action."))
    for number, action in enumerate(actions, start=1):
        for name, messages in action_check(action, trigger=rule.trigger).items():
            for message in messages:
                errors.setdefault("__all__", []).append(
                    _("Action %(number)s (%(field)s): %(message)s")
                    % {"number": number, "field": name, "message": message}
                )
    if errors:
        raise ValidationError(errors)


def trigger_label(trigger: str) -> str:
    if trigger == TRIGGER_ORDER_CREATED:
        return str(_("Order created"))
    return str(dict(trigger_choices()).get(trigger, trigger))
