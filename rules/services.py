"""Evaluating operations rules and applying their actions.

    rules_enabled_for(trigger) -> [CompiledRule]                 # read once, cached briefly
    rules_matching(facts=..., trigger=..., rules=None) -> [CompiledRule]   # pure
    rules_intake_plan(orders) / rules_intake_record(plans, events)     # "order created"
    rules_apply_for_event(event) -> str                            # a trigger event, after commit
    rules_return_approval(order=..., event=...)                    # after-sales, in its transaction

Conditions are plain values compared in Python (and translated into a QuerySet filter with the
same meaning for the preview, `rules.preview`). Actions go through the order services as the
system only: the transition service (a risk hold, an allocation), the rule variant of the
details update (priority, owner, warehouse), the after-sales approval, the alert writer and
in-app notifications. Each action writes a timeline event whose note names the rule and whose
data holds {"rule": id, "rule_name": name}; each match is one `RuleFiring` row, unique per rule,
order and trigger event, so a reaction delivered twice acts once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from alerts.alerting import alert_raise
from alerts.models import Alert, AlertKind
from orders.events import order_event_create
from orders.exceptions import OrderError
from orders.model_rows import RowBuilder
from orders.models import Order, OrderEvent, OutboxMessage, Shop
from orders.outbox.services import (
    outbox_batch_memo,
    outbox_enqueue_for_event,
    outbox_enqueue_once,
    outbox_subscriptions_cache_clear,
)
from orders.permissions import user_display_name
from orders.plugins import hub_extensions
from orders.regions import places_expand, province_of
from orders.selectors import buyer_delivered_orders_counts as delivered_orders_counts
from orders.selectors import order_is_visible_to
from orders.services.approval import APPROVED, REFUSED, order_approve_automatically_in_transaction
from orders.services.locking import order_lock
from orders.services.orders import order_details_set_by_rule_in_transaction
from orders.services.transition import order_transition_in_transaction
from orders.states import TRANSITIONS_BY_ACTION, Carrier, Priority, Role, State

from .events import RULE_APPLIED, RULE_APPROVE_REACTION, RULES_RUN_REACTION
from .models import OUTBOX_ACTIONS, TRIGGER_ORDER_CREATED, ActionKind, FiringOutcome, Rule, RuleAction, RuleFiring

RULES_TIME_ZONE = ZoneInfo("Asia/Shanghai")

# Actions applied at intake before the order row is written; the others follow the commit.
_INTAKE_IMMEDIATE = frozenset({ActionKind.SET_PRIORITY})

# ---------------------------------------------------------------------------------------------
# Rules as plain values


@dataclass(frozen=True)
class CompiledAction:
    id: int
    kind: str
    priority: int | None = None
    user_id: int | None = None
    role: str = ""
    notify_cs_owner: bool = False
    warehouse_id: int | None = None
    alert_kind: str = ""
    alert_severity: str = ""
    message: str = ""
    user_ids: tuple[int, ...] = ()
    robot_ids: tuple[int, ...] = ()
    email: bool = False
    reaction: str = ""
    cooling_off_minutes: int | None = None
    carrier: str = ""
    params: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class CompiledRule:
    id: int
    name: str
    trigger: str
    stop_processing: bool
    channels: frozenset = frozenset()
    shop_ids: frozenset = frozenset()
    brand_ids: frozenset = frozenset()
    warehouse_ids: frozenset = frozenset()
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    amount_currency: str = ""
    previous_delivered_min: int | None = None
    is_gift: str = ""
    priority: str = ""
    time_from: dtime | None = None
    time_to: dtime | None = None
    # Province codes (orders.regions), regions expanded.
    provinces: frozenset = frozenset()
    weight_min_grams: int | None = None
    weight_max_grams: int | None = None
    actions: tuple[CompiledAction, ...] = ()

    @property
    def has_conditions(self) -> bool:
        return bool(
            self.channels
            or self.shop_ids
            or self.brand_ids
            or self.warehouse_ids
            or self.amount_currency
            or self.previous_delivered_min is not None
            or self.is_gift
            or self.priority
            or (self.time_from is not None and self.time_to is not None)
            or self.provinces
            or self.weight_min_grams is not None
            or self.weight_max_grams is not None
        )

    @property
    def direct(self) -> bool:
        """No condition and only actions the outbox delivers (notify, a built-in reaction): the
        outbox subscribes it to its trigger, one row per action written with the event."""
        return not self.has_conditions and bool(self.actions) and all(a.kind in OUTBOX_ACTIONS for a in self.actions)


def rule_compile(rule: Rule) -> CompiledRule:
    """A rule (with its many-to-many conditions and actions, prefetched or not) as values."""
    return CompiledRule(
        id=rule.pk,
        name=rule.name,
        trigger=rule.trigger,
        stop_processing=rule.stop_processing,
        channels=frozenset(rule.channels or ()),
        shop_ids=frozenset(s.pk for s in rule.shops.all()),
        brand_ids=frozenset(b.pk for b in rule.brands.all()),
        warehouse_ids=frozenset(w.pk for w in rule.warehouses.all()),
        amount_min=rule.amount_min,
        amount_max=rule.amount_max,
        amount_currency=(rule.amount_currency or "").upper(),
        previous_delivered_min=rule.previous_delivered_min,
        is_gift=rule.is_gift,
        priority=rule.priority,
        time_from=rule.time_from,
        time_to=rule.time_to,
        provinces=places_expand(rule.places),
        weight_min_grams=rule.weight_min_grams,
        weight_max_grams=rule.weight_max_grams,
        actions=tuple(
            CompiledAction(
                id=a.pk,
                kind=a.kind,
                priority=a.priority,
                user_id=a.user_id,
                role=a.role,
                notify_cs_owner=a.notify_cs_owner,
                warehouse_id=a.warehouse_id,
                alert_kind=a.alert_kind,
                alert_severity=a.alert_severity,
                message=a.message,
                user_ids=tuple(sorted(u.pk for u in a.users.all())),
                robot_ids=tuple(sorted(r.pk for r in a.robots.all())),
                email=a.email,
                reaction=a.reaction,
                cooling_off_minutes=a.cooling_off_minutes,
                carrier=a.carrier,
                params=dict(a.params or {}),
            )
            for a in rule.actions.all()
        ),
    )


_cache: dict[str, tuple[float, list[CompiledRule]]] = {}


def rules_cache_clear(**_kwargs) -> None:
    """A rule changed: the compiled rules and the outbox's subscriptions are read again."""
    _cache.clear()
    outbox_subscriptions_cache_clear()


def rules_enabled_for(trigger: str) -> list[CompiledRule]:
    """The enabled rules of a trigger in evaluation order. Cached per process for
    ORDERHUB_RULES_CACHE_SECONDS, like the reaction rules: a rule saved in this process clears
    the cache at once, other processes see it within the TTL."""
    ttl = settings.ORDERHUB_RULES_CACHE_SECONDS
    now = time.monotonic()
    cached = _cache.get(trigger)
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    rows = list(Rule.objects.filter(trigger=trigger, enabled=True).order_by("position", "id"))
    if rows:
        prefetch_related_objects(rows, "shops", "brands", "warehouses", "actions__users", "actions__robots")
    rules = [rule_compile(rule) for rule in rows]
    if ttl > 0:
        _cache[trigger] = (now, rules)
    return rules


def action_outbox_request(action) -> tuple[str, dict]:
    """(reaction kind, params) of an action the outbox delivers: a notify action's people as the
    notify reaction reads them, or a built-in reaction with its parameters. `action` is a
    compiled action or a RuleAction row (its users and robots prefetched)."""
    if action.kind == ActionKind.NOTIFY:
        if isinstance(action, CompiledAction):
            user_ids, robot_ids = list(action.user_ids), list(action.robot_ids)
        else:
            user_ids = sorted(u.pk for u in action.users.all())
            robot_ids = sorted(r.pk for r in action.robots.all())
        if action.user_id and action.user_id not in user_ids:
            user_ids = sorted([*user_ids, action.user_id])
        return "notify", {
            "cs_owner": bool(action.notify_cs_owner),
            "role": action.role or "",
            "users": user_ids,
            "robots": robot_ids,
            "email": bool(action.email),
            "message": action.message or "",
        }
    return action.reaction, dict(action.params or {})


def action_outbox_key(rule_id: int, action_id: int) -> str:
    return f"rule:{rule_id}:action:{action_id}"


def rules_subscribed_directly(rules: list[CompiledRule]) -> tuple[list[CompiledRule], bool]:
    """Of a trigger's enabled rules in order: the direct ones the outbox subscribes (those
    surely applying: no earlier rule that may stop processing), and whether any rule is left
    to evaluate after the commit."""
    direct: list[CompiledRule] = []
    evaluate = blocked = False
    for rule in rules:
        if rule.direct and not blocked:
            direct.append(rule)
            if rule.stop_processing:
                break
            continue
        evaluate = True
        if rule.stop_processing:
            # Whether it matches decides whether the later rules run: they are evaluated too.
            blocked = True
    return direct, evaluate


def rules_subscriptions(event_type: str) -> list[tuple]:
    """The outbox's subscription source (declared on RulesConfig): for an event type, one
    (rule id, key, kind, params) per action of each direct rule (no condition, only notify and
    built-in reactions: written with the event, as fast as a plain subscription), and one
    "run the rules" message when any other rule listens (evaluated after the commit).
    The other "order created" rules are evaluated at intake (rules_intake_plan), which asks for
    their message itself."""
    if event_type == RULE_APPLIED:
        return []
    direct, evaluate = rules_subscribed_directly(rules_enabled_for(event_type))
    if event_type == TRIGGER_ORDER_CREATED:
        evaluate = False
    subscriptions: list[tuple] = []
    for rule in direct:
        for action in rule.actions:
            kind, params = action_outbox_request(action)
            subscriptions.append((rule.id, action_outbox_key(rule.id, action.id), kind, params))
    if evaluate:
        subscriptions.append((None, f"kind:{RULES_RUN_REACTION}", RULES_RUN_REACTION, {}))
    return subscriptions


# ---------------------------------------------------------------------------------------------
# What the conditions look at


@dataclass
class OrderFacts:
    channel: str
    shop_id: int | None
    brand_id: int | None
    amount: Decimal
    currency: str
    warehouse_id: int | None
    is_gift: bool
    priority: int
    ordered_at: datetime
    province: str | None = None  # orders.regions code; None when it names no province
    weight_grams: int | None = None
    # The buyer's other delivered orders: a number, or a callable asked only when a rule needs it.
    previous_delivered: int | Callable[[], int] | None = None

    def delivered_count(self) -> int:
        if callable(self.previous_delivered):
            self.previous_delivered = self.previous_delivered()
        return self.previous_delivered or 0


def order_facts(order: Order, *, previous_delivered=None) -> OrderFacts:
    shop = order.shop if order.shop_id else None
    return OrderFacts(
        channel=order.channel,
        shop_id=order.shop_id,
        brand_id=shop.brand_id if shop is not None else None,
        amount=Decimal(order.amount),
        currency=(order.currency or "").upper(),
        warehouse_id=order.warehouse_id,
        is_gift=order.main_order_id is not None,
        priority=int(order.priority),
        ordered_at=order.ordered_at,
        province=province_of(order.ship_province),
        weight_grams=order.weight_grams,
        previous_delivered=(
            previous_delivered if previous_delivered is not None else (lambda: delivered_orders_count(order=order))
        ),
    )


def _local_time(at: datetime) -> dtime:
    return timezone.localtime(at, RULES_TIME_ZONE).time().replace(tzinfo=None)


def in_time_window(at: datetime, start: dtime, end: dtime) -> bool:
    """[start, end) in Asia/Shanghai time; a window whose end is before its start wraps midnight."""
    moment = _local_time(at)
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def rule_matches(rule: CompiledRule, facts: OrderFacts) -> bool:
    """Every condition set holds (an empty condition does not restrict). Cheap tests first; the
    buyer's delivered orders (the only one that may need the database) last."""
    if rule.channels and facts.channel not in rule.channels:
        return False
    if rule.shop_ids and facts.shop_id not in rule.shop_ids:
        return False
    if rule.brand_ids and facts.brand_id not in rule.brand_ids:
        return False
    if rule.warehouse_ids and facts.warehouse_id not in rule.warehouse_ids:
        return False
    if rule.amount_currency:
        if facts.currency != rule.amount_currency:
            return False
        if rule.amount_min is not None and facts.amount < rule.amount_min:
            return False
        if rule.amount_max is not None and facts.amount > rule.amount_max:
            return False
    if rule.is_gift and facts.is_gift != (rule.is_gift == "yes"):
        return False
    if rule.priority and facts.priority != (Priority.HIGH if rule.priority == "high" else Priority.NORMAL):
        return False
    if (
        rule.time_from is not None
        and rule.time_to is not None
        and not in_time_window(facts.ordered_at, rule.time_from, rule.time_to)
    ):
        return False
    if rule.provinces and facts.province not in rule.provinces:
        return False
    if rule.weight_min_grams is not None or rule.weight_max_grams is not None:
        if facts.weight_grams is None:
            return False
        if rule.weight_min_grams is not None and facts.weight_grams < rule.weight_min_grams:
            return False
        if rule.weight_max_grams is not None and facts.weight_grams > rule.weight_max_grams:
            return False
    # Last: the only condition that may need the database.
    return rule.previous_delivered_min is None or facts.delivered_count() >= rule.previous_delivered_min


def rules_matching(*, facts: OrderFacts, trigger: str, rules: list[CompiledRule] | None = None) -> list[CompiledRule]:
    """The enabled rules of `trigger` that match, in order; a matching rule that stops
    processing ends the list. Pure over `facts` (and the rules, read once if not given)."""
    if rules is None:
        rules = rules_enabled_for(trigger)
    matched = []
    for rule in rules:
        if rule.trigger != trigger or not rule_matches(rule, facts):
            continue
        matched.append(rule)
        if rule.stop_processing:
            break
    return matched


# -- the buyer's delivered orders ---------------------------------------------------------------


def delivered_orders_count(*, order: Order) -> int:
    """How many other delivered orders the order's buyer has (same email or phone; gift orders
    do not count). One COUNT through the email and phone indexes."""
    return delivered_orders_counts([order])[0]


# ---------------------------------------------------------------------------------------------
# Timeline texts: stored on the record, so in both languages (like the seed rules' names)

_ACTION_TEXT = {
    ActionKind.SET_PRIORITY: "优先级 / priority",
    ActionKind.ASSIGN_CS_OWNER: "客服负责人 / customer-service owner",
    ActionKind.ASSIGN_WAREHOUSE: "仓库 / warehouse",
    ActionKind.APPROVE_RETURN: "退货自动批准，预付退货运单 / return approved, prepaid return label",
    ActionKind.NOTIFY: "已通知 / notified",
    ActionKind.OPEN_ALERT: "已开启预警 / alert opened",
    ActionKind.HOLD_FOR_RISK: "风控拦截 / held for risk review",
    ActionKind.APPROVE: "自动审核通过 / approved automatically",
    ActionKind.CHOOSE_CARRIER: "快递 / carrier",
}
_PRIORITY_TEXT = {Priority.HIGH: "优先打包通道 / priority packing lane", Priority.NORMAL: "普通 / normal"}


def rule_note(rule_name: str, text: str) -> str:
    """`规则 / Rule “高价值订单 / High value”: 优先打包通道 / priority packing lane`"""
    return f"规则 / Rule “{rule_name}”: {text}"


def _rule_data(rule_id: int, rule_name: str, kind: str) -> dict:
    return {"rule": rule_id, "rule_name": rule_name, "rule_action": kind}


# ---------------------------------------------------------------------------------------------
# "Order created": at intake


@dataclass
class IntakePlan:
    """What the rules did to one new order before it was written, and what follows the commit."""

    order: Order
    # [(rule, [action statuses])] of the matching rules.
    fired: list[tuple[CompiledRule, list[dict]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def has_deferred(self) -> bool:
        return any(a["status"] == "pending" for _rule, actions in self.fired for a in actions)

    def note_with(self, note: str) -> str:
        return " · ".join(part for part in (note, *self.notes) if part)


def rules_intake_plan(orders: list[Order]) -> list[IntakePlan]:
    """Evaluate the "order created" rules for new (not yet saved) orders: one read of the rules,
    at most one query for the buyers' delivered orders, then Python per order. "Set the priority
    lane" is applied on the row here; the other actions are left pending for the outbox."""
    plans = [IntakePlan(order=order) for order in orders]
    rules = rules_enabled_for(TRIGGER_ORDER_CREATED)
    # The direct rules (no condition, only outbox actions) are the outbox's subscriptions of
    # the `created` event, as for any other trigger: written with the event, not planned here.
    direct = rules_subscribed_directly(rules)[0]
    if direct and direct[-1].stop_processing:
        rules = rules[: rules.index(direct[-1])]  # nothing after a direct rule that stops runs
    direct_ids = {rule.id for rule in direct}
    rules = [rule for rule in rules if rule.id not in direct_ids]
    if not rules or not orders:
        return plans
    counts = None
    if any(rule.previous_delivered_min is not None for rule in rules):
        counts = delivered_orders_counts(orders)
    for index, plan in enumerate(plans):
        order = plan.order
        facts = order_facts(order, previous_delivered=counts[index] if counts is not None else 0)
        for rule in rules:
            if not rule_matches(rule, facts):
                continue
            statuses = []
            for action in rule.actions:
                if action.kind == ActionKind.SET_PRIORITY and action.priority is not None:
                    order.priority = action.priority
                    facts.priority = int(action.priority)  # later rules see it
                    plan.notes.append(rule_note(rule.name, _PRIORITY_TEXT.get(action.priority, "")))
                    statuses.append(_status(action, "done"))
                else:
                    statuses.append(_status(action, "pending"))
            plan.fired.append((rule, statuses))
            if rule.stop_processing:
                break
    return plans


def _status(action: CompiledAction, status: str, detail: str = "") -> dict:
    return {"action": action.id, "kind": action.kind, "status": status, "detail": detail}


# An import's batch records thousands of firings: built without Model.__init__ (orders/model_rows.py).
_NEW_FIRING = RowBuilder(RuleFiring)


def rules_intake_record(plans: list[IntakePlan], events: list[OrderEvent], *, insert=None) -> list[OutboxMessage]:
    """After the orders and their `created` events are written (same transaction): one
    RuleFiring per matched rule; returns one outbox message (unsaved: the intake writes it with
    the events' own) per order whose rules left actions for after the commit. `insert(model,
    rows)`: how the batch path writes many rows (COPY on PostgreSQL); bulk_create otherwise."""
    firings, messages = [], []
    for plan, event in zip(plans, events, strict=True):
        for rule, statuses in plan.fired:
            firings.append(
                _NEW_FIRING(
                    rule_id=rule.id,
                    order_id=plan.order.pk,
                    event_id=event.pk,
                    trigger=TRIGGER_ORDER_CREATED,
                    actions=statuses,
                    outcome=_outcome(statuses),
                    at=event.occurred_at,
                )
            )
        if plan.has_deferred:
            messages.append(
                OutboxMessage(
                    event_id=event.pk,
                    kind=RULES_RUN_REACTION,
                    params={},
                    idempotency_key=f"event:{event.pk}:kind:{RULES_RUN_REACTION}",
                    next_attempt_at=event.occurred_at,
                )
            )
    if firings:
        if insert is not None:
            insert(RuleFiring, firings)
        else:
            RuleFiring.objects.bulk_create(firings, batch_size=2000)
    return messages


def _outcome(statuses: list[dict]) -> str:
    kinds = {s["status"] for s in statuses}
    if "pending" in kinds:
        return FiringOutcome.PENDING
    if kinds <= {"done", "skipped"}:
        return FiringOutcome.DONE
    if "done" in kinds:
        return FiringOutcome.PARTLY
    return FiringOutcome.FAILED


# ---------------------------------------------------------------------------------------------
# A trigger event: after its commit, in the outbox worker's transaction


def rules_apply_for_event(event: OrderEvent) -> str:
    """Run the rules of `event` on its order (locked), inside the caller's transaction (the
    outbox worker's). For "order created", the firings intake recorded; for any other trigger,
    the enabled rules that match now. Every pending action is applied once: a second delivery
    finds the firings done. Returns a short summary for the outbox record."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("rules_apply_for_event needs an open transaction")
    order = order_lock(event.order_id)
    # A rule's own change of details or timeline line does not trigger rules: two rules could
    # otherwise undo each other forever through the outbox. A rule's transition does (an
    # approval rule's approval is the allocation rules' trigger): the state machine only moves
    # forward without a person (a risk hold needs operations to release it), so the chain ends.
    by_rule = "rule" in (event.data or {}) and event.action not in TRANSITIONS_BY_ACTION
    if event.action != TRIGGER_ORDER_CREATED and not by_rule:
        rules = rules_enabled_for(event.action)
        # The rules the outbox subscribed directly have their own messages already.
        subscribed = {rule.id for rule in rules_subscribed_directly(rules)[0]}
        if len(subscribed) < len(rules):
            if order.shop_id:
                # The shop (its brand) of an outbox batch's orders, read once per batch.
                shops = outbox_batch_memo("rules.shops")
                if order.shop_id not in shops:
                    shops[order.shop_id] = Shop.objects.get(pk=order.shop_id)
                order.shop = shops[order.shop_id]
            facts = order_facts(order)
            matching = [
                rule
                for rule in rules_matching(facts=facts, trigger=event.action, rules=rules)
                if rule.id not in subscribed
            ]
            if matching:
                # Once per event and rule: a second delivery finds them (the order is locked,
                # so no other worker is writing this event's firings meanwhile).
                recorded = set(RuleFiring.objects.filter(event=event).values_list("rule_id", flat=True))
                now = timezone.now()
                RuleFiring.objects.bulk_create(
                    [
                        RuleFiring(
                            rule_id=rule.id,
                            order=order,
                            event=event,
                            trigger=event.action,
                            actions=[_status(a, "pending") for a in rule.actions],
                            at=now,
                        )
                        for rule in matching
                        if rule.id not in recorded
                    ],
                    ignore_conflicts=True,
                )
    firings = list(
        RuleFiring.objects.select_for_update(of=("self",))
        .select_related("rule")
        .filter(event=event, outcome=FiringOutcome.PENDING)
        .order_by("rule__position", "rule_id")
    )
    done = 0
    for firing in firings:
        done += _firing_apply(firing, order=order, event=event)
    return f"{len(firings)} rules, {done} actions applied"


def _firing_apply(firing: RuleFiring, *, order: Order, event: OrderEvent) -> int:
    # A rule's actions, read once per outbox batch (fifty orders paid, one rule).
    by_rule = outbox_batch_memo("rules.actions")
    actions = by_rule.get(firing.rule_id)
    if actions is None:
        actions = by_rule[firing.rule_id] = {
            a.pk: a
            for a in RuleAction.objects.filter(rule_id=firing.rule_id)
            .select_related("user", "warehouse")
            .prefetch_related("users", "robots")
        }
    applied = 0
    statuses = []
    for status in firing.actions:
        if status["status"] != "pending":
            statuses.append(status)
            continue
        action = actions.get(status["action"])
        if action is None:
            statuses.append({**status, "status": "skipped", "detail": "the action was removed from the rule"})
            continue
        try:
            with transaction.atomic():
                result, detail = _action_apply(action, rule=firing.rule, order=order, event=event)
        except OrderError as exc:
            result, detail = "failed", exc.message
            order.refresh_from_db()
        statuses.append({**status, "status": result, "detail": detail})
        applied += result == "done"
    firing.actions = statuses
    firing.outcome = _outcome(statuses)
    firing.save(update_fields=["actions", "outcome"])
    return applied


def _action_apply(action, *, rule: Rule, order: Order, event: OrderEvent) -> tuple[str, str]:
    """Apply one action to the locked order as the system. Returns (status, detail)."""
    data = _rule_data(rule.pk, rule.name, action.kind)
    kind = action.kind
    if kind == ActionKind.SET_PRIORITY:
        text = _PRIORITY_TEXT.get(action.priority, "")
        changed = order_details_set_by_rule_in_transaction(
            order=order, note=rule_note(rule.name, text), data=data, priority=action.priority
        )
        return ("done", text) if changed else ("skipped", "already so")
    if kind == ActionKind.ASSIGN_CS_OWNER:
        if not order_is_visible_to(order=order, user=action.user):
            # Customer service sees only its brands' orders: an owner who could not see it is no owner.
            return "failed", f"{action.user.get_username()} does not work this order's brand"
        text = f"{_ACTION_TEXT[kind]}: {action.user.get_full_name() or action.user.get_username()}"
        changed = order_details_set_by_rule_in_transaction(
            order=order, note=rule_note(rule.name, text), data=data, cs_owner=action.user
        )
        return ("done", text) if changed else ("skipped", "already so")
    if kind == ActionKind.ASSIGN_WAREHOUSE:
        text = f"{_ACTION_TEXT[kind]}: {action.warehouse.name}"
        if order.state == State.REVIEWED:
            order_transition_in_transaction(
                order.pk,
                "allocate",
                actor=None,
                note=rule_note(rule.name, text),
                event_data=data,
                warehouse=action.warehouse,
            )
            order.refresh_from_db()
            return "done", text
        if order.state not in (State.SUBMITTED, State.PAYMENT_FAILED, State.PAID, State.RISK_HOLD):
            return "skipped", f"the order is {order.state}: past allocation"
        changed = order_details_set_by_rule_in_transaction(
            order=order, note=rule_note(rule.name, text), data=data, warehouse=action.warehouse
        )
        return ("done", text) if changed else ("skipped", "already so")
    if kind == ActionKind.APPROVE:
        return _approval_schedule(action, rule=rule, order=order, event=event)
    if kind == ActionKind.CHOOSE_CARRIER:
        if order.state not in _CARRIER_CHOOSABLE:
            return "skipped", f"the order is {order.state}: past shipping"
        text = f"{_ACTION_TEXT[kind]}: {Carrier(action.carrier).label}"
        changed = order_details_set_by_rule_in_transaction(
            order=order, note=rule_note(rule.name, text), data=data, carrier=action.carrier
        )
        return ("done", text) if changed else ("skipped", "already so")
    if kind == ActionKind.HOLD_FOR_RISK:
        if order.state not in TRANSITIONS_BY_ACTION["flag_risk"].sources:
            return "skipped", f"the order is {order.state}: cannot be held"
        order_transition_in_transaction(
            order.pk, "flag_risk", actor=None, note=rule_note(rule.name, _ACTION_TEXT[kind]), event_data=data
        )
        order.refresh_from_db()
        return "done", _ACTION_TEXT[kind]
    if kind == ActionKind.APPROVE_RETURN:
        handler = _action_handler(kind)
        if handler is None:
            return "failed", "no installed app approves returns"
        approved = handler(order=order, rule_name=rule.name, note=rule_note(rule.name, _ACTION_TEXT[kind]), data=data)
        if approved:
            order.refresh_from_db()
        return ("done", _ACTION_TEXT[kind]) if approved else ("skipped", "no return waiting for review")
    if kind == ActionKind.NOTIFY:
        return _notify(action, rule=rule, order=order, event=event, data=data)
    if kind == ActionKind.REACTION:
        return _reaction_run(action, rule=rule, event=event)
    if kind == ActionKind.OPEN_ALERT:
        return _alert_open(action, rule=rule, order=order, data=data)
    return "failed", f"unknown action {kind}"


# Before the parcel leaves: a carrier chosen later would name a parcel already on its way.
_CARRIER_CHOOSABLE = frozenset(
    {State.SUBMITTED, State.PAYMENT_FAILED, State.PAID, State.RISK_HOLD, State.REVIEWED, State.ALLOCATED, State.PACKED}
)


def _approval_schedule(action, *, rule: Rule, order: Order, event: OrderEvent) -> tuple[str, str]:
    """The approval is the system's, after the rule's cooling-off from the trigger (payment):
    an outbox message due then (rules.reactions.rule_approve decides on the order as it is by
    that time), once per trigger event."""
    if order.state != State.PAID:
        return "skipped", f"the order is {order.state}: not waiting for approval"
    due = event.occurred_at + timedelta(minutes=action.cooling_off_minutes or 0)
    outbox_enqueue_once(
        event,
        key=action_outbox_key(rule.pk, action.pk),
        kind=RULE_APPROVE_REACTION,
        params={"rule": rule.pk, "action": action.pk},
        rule_id=rule.pk,
        not_before=due,
    )
    return "done", f"approval due at {timezone.localtime(due, RULES_TIME_ZONE):%Y-%m-%d %H:%M:%S}"


def rule_approval_run(*, rule_id: int, order_id: int) -> str:
    """An approval rule's turn on an order (the outbox worker's transaction): approved when the
    order is paid and clean and the rule still on; otherwise what stopped it."""
    rule = Rule.objects.filter(pk=rule_id).only("pk", "name", "enabled").first()
    if rule is None or not rule.enabled:
        # Switched off during the cooling-off (an incident, a sale gone wrong): nothing more.
        return "skipped: the rule is switched off"
    data = _rule_data(rule.pk, rule.name, ActionKind.APPROVE)
    approval = order_approve_automatically_in_transaction(
        order_id, note=rule_note(rule.name, _ACTION_TEXT[ActionKind.APPROVE]), data=data
    )
    if approval.outcome == APPROVED:
        return "approved"
    if approval.outcome == REFUSED:
        return f"refused: open exceptions {approval.detail}"
    return f"skipped: {approval.detail}"


def _action_handler(kind: str):
    """The handler an installed app declared for an action whose records it keeps
    (orders.plugins, extension point "rules.action_handlers")."""
    for handlers in hub_extensions("rules.action_handlers"):
        if kind in handlers:
            return handlers[kind]
    return None


def _rule_event(*, order: Order, rule: Rule, text: str, data: dict) -> OrderEvent:
    """The timeline line of an action that changes neither state nor fields: like a note, it
    leaves the order's version as it is."""
    event = order_event_create(
        order=order,
        action=RULE_APPLIED,
        from_state=order.state,
        actor=None,
        occurred_at=timezone.now(),
        note=rule_note(rule.name, text),
        data=data,
    )
    outbox_enqueue_for_event(event)
    return event


def _notify(action, *, rule: Rule, order: Order, event: OrderEvent, data: dict) -> tuple[str, str]:
    """A notify action: the notify reaction of the outbox tells the people (in-app, chat,
    email), once per trigger event; the timeline says whom the rule named."""
    kind, params = action_outbox_request(action)
    outbox_enqueue_once(event, key=action_outbox_key(rule.pk, action.pk), kind=kind, params=params, rule_id=rule.pk)
    whom = []
    if action.notify_cs_owner:
        whom.append("客服负责人 / CS owner")
    if action.role:
        whom.append(str(Role(action.role).label))
    named = [action.user, *action.users.all()] if action.user_id else list(action.users.all())
    whom += [user_display_name(u) for u in named]
    whom += [r.name for r in action.robots.all()]
    message = action.message or rule.name
    text = f"{_ACTION_TEXT[ActionKind.NOTIFY]}: {', '.join(whom)} — {message}"
    _rule_event(order=order, rule=rule, text=text, data=data)
    return "done", "queued"


def _reaction_run(action, *, rule: Rule, event: OrderEvent) -> tuple[str, str]:
    """A built-in reaction (a carrier call, the to-invoice list …): queued once per trigger
    event, under the same key a direct subscription of the rule would have used."""
    kind, params = action_outbox_request(action)
    if not kind:
        return "failed", "the action names no reaction"
    outbox_enqueue_once(event, key=action_outbox_key(rule.pk, action.pk), kind=kind, params=params, rule_id=rule.pk)
    return "done", f"{kind} queued"


def _alert_open(action, *, rule: Rule, order: Order, data: dict) -> tuple[str, str]:
    title = f"{order.number} · {action.message or rule.name}"
    alert = alert_raise(kind=action.alert_kind, order_id=order.pk, title=title, details=data)
    if alert is None:
        return "skipped", f"alerts of kind {action.alert_kind} are switched off"
    if action.alert_severity and alert.severity != action.alert_severity:
        Alert.objects.filter(pk=alert.pk).update(severity=action.alert_severity)
    label = AlertKind(action.alert_kind).label
    _rule_event(order=order, rule=rule, text=f"{_ACTION_TEXT[ActionKind.OPEN_ALERT]}: {label}", data=data)
    return "done", f"alert #{alert.pk}"


# ---------------------------------------------------------------------------------------------
# After-sales: a return request, decided in its own transaction


def rules_return_approval(*, order: Order, event: OrderEvent) -> CompiledRule | None:
    """The first enabled rule of the "return requested" trigger that matches the order and
    approves returns: recorded as fired (its approval done, its other actions left for the
    reaction) and returned, for the after-sales service to approve in the request's
    transaction. None: a person reviews the return."""
    trigger = event.action
    rules = [r for r in rules_enabled_for(trigger) if any(a.kind == ActionKind.APPROVE_RETURN for a in r.actions)]
    if not rules:
        return None
    facts = order_facts(Order.objects.select_related("shop").get(pk=order.pk))
    for rule in rules_matching(facts=facts, trigger=trigger, rules=rules_enabled_for(trigger)):
        if not any(a.kind == ActionKind.APPROVE_RETURN for a in rule.actions):
            continue
        statuses = [
            _status(a, "done", _ACTION_TEXT[a.kind]) if a.kind == ActionKind.APPROVE_RETURN else _status(a, "pending")
            for a in rule.actions
        ]
        RuleFiring.objects.create(
            rule_id=rule.id,
            order=order,
            event=event,
            trigger=trigger,
            actions=statuses,
            outcome=_outcome(statuses),
            at=event.occurred_at,
        )
        return rule
    return None
