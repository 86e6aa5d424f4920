"""Preview: which of the last 30 days' orders a rule would have matched, and what it would have
done, before it is switched on. Reads only.

The conditions become one QuerySet filter (`rule_filter`, the same meaning as
`services.rule_matches`, which a test checks on the same data); the buyer's delivered orders,
the one condition that is not a column, is counted in one grouped query over the candidates'
buyers and applied in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from orders.models import Order, OrderEvent, OrderException
from orders.regions import province_filter_prefixes
from orders.states import Priority

from .models import TRIGGER_ORDER_CREATED, ActionKind, Rule
from .services import RULES_TIME_ZONE, CompiledRule, delivered_orders_counts, rule_compile

PREVIEW_DAYS = 30
SAMPLE_SIZE = 20


@dataclass(frozen=True)
class ActionPreview:
    label: str
    text: str
    would: int
    already: int = 0


@dataclass
class RulePreview:
    rule: Rule
    since: datetime
    until: datetime
    candidates: int
    matched: int
    actions: list[ActionPreview] = field(default_factory=list)
    sample: list[tuple[int, str]] = field(default_factory=list)  # (pk, number), newest first
    matched_ids: list[int] = field(default_factory=list)


def rule_filter(rule: CompiledRule) -> Q:
    """The rule's column conditions as a filter on Order. Time of day is compared in
    Asia/Shanghai: evaluate the queryset under timezone.override(RULES_TIME_ZONE)."""
    q = Q()
    if rule.channels:
        q &= Q(channel__in=sorted(rule.channels))
    if rule.shop_ids:
        q &= Q(shop_id__in=sorted(rule.shop_ids))
    if rule.brand_ids:
        q &= Q(shop__brand_id__in=sorted(rule.brand_ids))
    if rule.warehouse_ids:
        q &= Q(warehouse_id__in=sorted(rule.warehouse_ids))
    if rule.amount_currency:
        q &= Q(currency=rule.amount_currency)
        if rule.amount_min is not None:
            q &= Q(amount__gte=rule.amount_min)
        if rule.amount_max is not None:
            q &= Q(amount__lte=rule.amount_max)
    if rule.is_gift:
        q &= Q(is_gift=rule.is_gift == "yes")
    if rule.priority:
        q &= Q(priority=Priority.HIGH if rule.priority == "high" else Priority.NORMAL)
    if rule.time_from is not None and rule.time_to is not None:
        start, end = rule.time_from, rule.time_to
        if start < end:
            q &= Q(ordered_at__time__gte=start, ordered_at__time__lt=end)
        else:
            q &= Q(ordered_at__time__gte=start) | Q(ordered_at__time__lt=end)
    if rule.provinces:
        place = Q()
        for code in sorted(rule.provinces):
            place |= Q(ship_province__iexact=code)
        for prefix in province_filter_prefixes(rule.provinces):
            place |= Q(ship_province__istartswith=prefix)
        q &= place
    if rule.weight_min_grams is not None:
        q &= Q(weight_grams__gte=rule.weight_min_grams)
    if rule.weight_max_grams is not None:
        q &= Q(weight_grams__lte=rule.weight_max_grams)
    return q


def preview_candidates(trigger: str, *, since: datetime, until: datetime):
    """The orders a trigger saw in the window: created then, or with an event of that type then."""
    if trigger == TRIGGER_ORDER_CREATED:
        return Order.objects.filter(ordered_at__gte=since, ordered_at__lt=until)
    happened = OrderEvent.objects.filter(
        order_id=OuterRef("pk"), action=trigger, occurred_at__gte=since, occurred_at__lt=until
    )
    return Order.objects.filter(Exists(happened))


_COLUMNS = ("pk", "number", "buyer_email", "buyer_phone", "priority", "cs_owner_id", "warehouse_id")


def rule_preview(rule: Rule, *, days: int = PREVIEW_DAYS, now: datetime | None = None) -> RulePreview:
    """What `rule` (saved, enabled or not) would have done over the last `days` days."""
    compiled = rule_compile(rule)
    until = now or timezone.now()
    since = until - timedelta(days=days)
    candidates = preview_candidates(compiled.trigger, since=since, until=until)
    with timezone.override(RULES_TIME_ZONE):
        total = candidates.count()
        matching = candidates.filter(rule_filter(compiled))
        rows = list(matching.order_by("-ordered_at", "-pk").values_list(*_COLUMNS))
    if compiled.previous_delivered_min is not None and rows:
        buyers = [SimpleNamespace(pk=r[0], buyer_email=r[2], buyer_phone=r[3]) for r in rows]
        counts = delivered_orders_counts(buyers)
        rows = [r for r, count in zip(rows, counts, strict=True) if count >= compiled.previous_delivered_min]
    preview = RulePreview(
        rule=rule,
        since=since,
        until=until,
        candidates=total,
        matched=len(rows),
        sample=[(r[0], r[1]) for r in rows[:SAMPLE_SIZE]],
        matched_ids=[r[0] for r in rows],
    )
    actions = {a.pk: a for a in rule.actions.select_related("user", "warehouse")}
    for action in compiled.actions:
        if action.kind == ActionKind.APPROVE:
            approval = _approval_preview(actions[action.id], compiled, rows, matching, since=since, until=until)
            preview.actions.append(approval)
        else:
            preview.actions.append(_action_preview(actions[action.id], rows))
    return preview


def _approval_preview(action, rule: CompiledRule, rows, matching, *, since: datetime, until: datetime) -> ActionPreview:
    """Of the matched orders: those an exception was raised on (they would have waited in the
    queue), those cancelled within the cooling-off of the trigger (the buyer's early cancel),
    and the rest, which the rule would have approved with no one pressing a button."""
    ids = {r[0] for r in rows}
    if not ids:
        return ActionPreview(action.get_kind_display(), _("No order would have been approved."), 0)
    # `matching`: the candidates the rule's column conditions select (rule_preview's queryset).
    with timezone.override(RULES_TIME_ZONE):
        excepted = set(
            OrderException.objects.filter(order__in=matching.values("pk")).values_list("order_id", flat=True).distinct()
        )
        cooling = timedelta(minutes=action.cooling_off_minutes or 0)
        cancelled = _cancelled_within(matching, trigger=rule.trigger, window=cooling, since=since, until=until)
    queued = len(ids & excepted)
    early = len((ids & cancelled) - excepted)
    would = len(ids) - queued - early
    text = _(
        "%(would)s of %(count)s orders would have been approved automatically; %(queued)s would have waited in "
        "the exception queue and %(early)s were cancelled within the cooling-off."
    ) % {"would": would, "count": len(ids), "queued": queued, "early": early}
    return ActionPreview(action.get_kind_display(), text, would)


def _cancelled_within(orders, *, trigger: str, window: timedelta, since: datetime, until: datetime) -> set[int]:
    """The orders cancelled within `window` after their trigger event (the first in the window)."""
    pairs: dict[int, list] = {}
    trigger_events = OrderEvent.objects.filter(
        order__in=orders.values("pk"), occurred_at__gte=since, occurred_at__lt=until
    )
    if trigger == TRIGGER_ORDER_CREATED:
        trigger_events = trigger_events.filter(action="created")
    else:
        trigger_events = trigger_events.filter(action=trigger)
    for order_id, at in trigger_events.order_by("occurred_at").values_list("order_id", "occurred_at"):
        pairs.setdefault(order_id, [at, None])
    cancels = OrderEvent.objects.filter(order_id__in=list(pairs), action="cancel").values_list(
        "order_id", "occurred_at"
    )
    for order_id, at in cancels:
        pair = pairs[order_id]
        if pair[1] is None or at < pair[1]:
            pair[1] = at
    return {
        order_id
        for order_id, (start, cancel) in pairs.items()
        if cancel is not None and start <= cancel <= start + window
    }


def _action_preview(action, rows) -> ActionPreview:
    count = len(rows)
    label = action.get_kind_display()
    if action.kind == ActionKind.SET_PRIORITY:
        already = sum(1 for r in rows if r[4] == action.priority)
        lane = Priority(action.priority).label if action.priority is not None else ""
        text = ngettext(
            "%(count)s order would get priority “%(lane)s”, %(already)s already have it.",
            "%(count)s orders would get priority “%(lane)s”, %(already)s already have it.",
            count,
        ) % {"count": count, "lane": lane, "already": already}
        return ActionPreview(label, text, count, already)
    if action.kind == ActionKind.ASSIGN_CS_OWNER:
        already = sum(1 for r in rows if r[5] == action.user_id)
        text = ngettext(
            "%(count)s order would be assigned to %(user)s, %(already)s already are.",
            "%(count)s orders would be assigned to %(user)s, %(already)s already are.",
            count,
        ) % {"count": count, "user": action.user, "already": already}
        return ActionPreview(label, text, count, already)
    if action.kind == ActionKind.ASSIGN_WAREHOUSE:
        already = sum(1 for r in rows if r[6] == action.warehouse_id)
        text = ngettext(
            "%(count)s order would go to warehouse %(warehouse)s, %(already)s already do.",
            "%(count)s orders would go to warehouse %(warehouse)s, %(already)s already do.",
            count,
        ) % {"count": count, "warehouse": action.warehouse, "already": already}
        return ActionPreview(label, text, count, already)
    if action.kind == ActionKind.APPROVE_RETURN:
        text = ngettext(
            "%(count)s return would be approved with a prepaid label.",
            "%(count)s returns would be approved with a prepaid label.",
            count,
        ) % {"count": count}
    elif action.kind == ActionKind.NOTIFY:
        text = ngettext(
            "%(count)s order would send a notification.", "%(count)s orders would send a notification.", count
        ) % {"count": count}
    elif action.kind == ActionKind.OPEN_ALERT:
        text = ngettext("%(count)s alert would be opened.", "%(count)s alerts would be opened.", count) % {
            "count": count
        }
    elif action.kind == ActionKind.CHOOSE_CARRIER:
        text = ngettext(
            "%(count)s order would be planned for %(carrier)s.",
            "%(count)s orders would be planned for %(carrier)s.",
            count,
        ) % {"count": count, "carrier": action.get_carrier_display()}
    elif action.kind == ActionKind.HOLD_FOR_RISK:
        text = ngettext(
            "%(count)s order would be held for risk review.", "%(count)s orders would be held for risk review.", count
        ) % {"count": count}
    else:  # pragma: no cover - the kinds are a fixed list
        text = _("%(count)s orders.") % {"count": count}
    return ActionPreview(label, text, count)
