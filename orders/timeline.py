"""Reads for the order timeline page: the order's essentials, one chronological list of its
events and field changes, its shipments, and the sections other apps add (TIMELINE_SECTIONS:
the notifications app, whom the order's events told).

A constant number of queries whatever the length of the record: the order (with owner,
warehouse, main order) and its gifts, the events and their attachments, every history row of
the order (with the users and records its foreign keys point to), the shipments, and a
constant number per added section. Field changes are diffed in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone

from .events import ORDER_CREATED
from .models import Attachment, Order, OrderEvent, OrderException, OrderLine, Shipment
from .permissions import role_of, user_display_name
from .plugins import hub_extensions
from .selectors import order_list_visible_to, order_shipments, order_timeline, order_visibility_q
from .states import Role

HistoricalOrder = Order.history.model

# Shown inline on the page (and served inline); every other type is a download.
INLINE_CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})

# Bookkeeping that changes with every write, and the state, whose changes the events already
# show (from → to). Everything else that differs between two history rows is a field change.
IGNORED_HISTORY_FIELDS = frozenset({"version", "updated_at", "updated_by", "state", "state_changed_at"})

# Foreign keys of the order whose old and new values are shown by name: the history query
# fetches them with the rows (simple-history keeps them as foreign keys without constraints).
_HISTORY_RELATED = ("history_user", "cs_owner", "warehouse", "main_order")

_EMPTY = "—"


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryChange:
    """What one history row changed compared with the row before it."""

    at: datetime
    user: object  # the user who saved it, or None for the system
    version: int
    changes: tuple[FieldChange, ...]


@dataclass
class TimelineEntry:
    """One line of the page: an event (with the field changes its save made, and the shipment
    it recorded), or field changes no event accounts for."""

    at: datetime
    name: str
    role: str
    event: OrderEvent | None = None
    changes: list[FieldChange] = field(default_factory=list)
    shipment: Shipment | None = None

    @property
    def anchor(self) -> str:
        return f"event-{self.event.pk}" if self.event else f"change-{int(self.at.timestamp() * 1e6)}"

    @property
    def is_state_change(self) -> bool:
        return self.event is not None and self.event.from_state != self.event.to_state

    @property
    def images(self) -> list[Attachment]:
        return [a for a in self._attachments() if a.content_type in INLINE_CONTENT_TYPES]

    @property
    def files(self) -> list[Attachment]:
        return [a for a in self._attachments() if a.content_type not in INLINE_CONTENT_TYPES]

    def _attachments(self) -> list[Attachment]:
        # .all() reads the prefetched attachments: no query.
        return list(self.event.attachments.all()) if self.event else []


@dataclass
class OrderTimelinePage:
    order: Order
    gifts: list[Order]
    entries: list[TimelineEntry]
    shipments: list[Shipment]
    current_shipment: Shipment | None
    sections: list[str] = field(default_factory=list)  # what other apps add, rendered (HTML)
    lines: list[OrderLine] = field(default_factory=list)
    # The sentence the `created` event recorded when the lines did not add up to the amount.
    totals_mismatch: str = ""
    # What the order waits for a person for (异常订单), oldest first.
    open_exceptions: list[OrderException] = field(default_factory=list)
    # 拆单/合单: the orders split off this one and those merged into it (its own split_from and
    # merged_into are on the order).
    split_parts: list[Order] = field(default_factory=list)
    merged_parts: list[Order] = field(default_factory=list)

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


def order_for_timeline(*, number: str, user=None) -> Order | None:
    """The order by its number (what people type: any case), with what its header shows; None
    when there is no such order or `user` may not see it (another brand's): the page then says
    the same in both cases, so it does not tell which numbers exist."""
    return (
        order_list_visible_to(user=user)
        .select_related("cs_owner", "warehouse", "main_order", "split_from", "merged_into", "shop__brand")
        .prefetch_related(Prefetch("gifts", queryset=Order.objects.only("id", "number", "main_order_id")))
        .filter(number=(number or "").strip().upper())
        .first()
    )


def order_history_changes(*, order: Order) -> list[HistoryChange]:
    """Field changes from the order's history rows (django-simple-history): each row diffed
    with the one before, in one query for all rows (two when someone other than the system
    saved: the savers' role groups)."""
    rows = list(
        HistoricalOrder.objects.filter(id=order.pk)
        .select_related(*_HISTORY_RELATED)
        .prefetch_related("history_user__groups")
        .order_by("history_date", "history_id")
    )
    fields = [f for f in HistoricalOrder.tracked_fields if f.name not in IGNORED_HISTORY_FIELDS]
    changes = []
    for previous, row in pairwise(rows):
        diff = tuple(
            FieldChange(f.name, str(f.verbose_name), _history_value(previous, f), _history_value(row, f))
            for f in fields
            if getattr(previous, f.attname) != getattr(row, f.attname)
        )
        if diff:
            changes.append(HistoryChange(at=row.history_date, user=row.history_user, version=row.version, changes=diff))
    return changes


def _history_value(row, model_field) -> str:
    value = getattr(row, model_field.attname)
    if value is None or value == "":
        return _EMPTY
    if model_field.is_relation:
        related = getattr(row, model_field.name, None)  # fetched with the row
        if related is None:
            return f"#{value}"
        if hasattr(related, "get_username"):
            return user_display_name(related)
        return str(related)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def _actor_parts(event: OrderEvent) -> tuple[str, str]:
    """(name, role) from the event's snapshot; the system has only its role."""
    role = event.get_actor_role_display()
    return ("" if event.actor_role == Role.SYSTEM else event.actor_name), str(role)


def _user_parts(user) -> tuple[str, str]:
    if user is None:
        return "", str(Role.SYSTEM.label)
    role = role_of(user)  # from the groups prefetched with the history rows
    return user_display_name(user), (str(Role(role).label) if role else "")


def order_timeline_entries(*, order: Order, shipments: list[Shipment] | None = None) -> list[TimelineEntry]:
    """Every event of the order, oldest first, merged with the field changes of its history.

    A history row written together with an event (same time, same person, and the version the
    event recorded: every service saves the order and appends the event with one timestamp)
    is shown inside that event, e.g. the warehouse chosen by "allocated". Rows no event
    accounts for (an edit made around the services) are entries of their own.

    Field changes come from the history only. `details_updated` events also carry
    data["changes"], but only those events do, with values as the service stored them (raw
    codes, names of that day); the history covers every save of the order the same way and
    is shown in the reader's language. Its rows for those events are attached to them, so
    each change is shown once.
    """
    if shipments is None:
        shipments = list(order_shipments(order_id=order.pk))
    shipment_by_event = {s.event_id: s for s in shipments}
    entries = []
    by_key = {}
    for event in order_timeline(order_id=order.pk):
        name, role = _actor_parts(event)
        entry = TimelineEntry(
            at=event.occurred_at, name=name, role=role, event=event, shipment=shipment_by_event.get(event.pk)
        )
        entries.append(entry)
        by_key.setdefault((event.occurred_at, event.actor_id, event.order_version), entry)
    for change in order_history_changes(order=order):
        entry = by_key.get((change.at, getattr(change.user, "pk", None), change.version))
        if entry is not None:
            entry.changes.extend(change.changes)
            continue
        name, role = _user_parts(change.user)
        entries.append(TimelineEntry(at=change.at, name=name, role=role, changes=list(change.changes)))
    # Stable: events keep their order; a standalone change goes after events of the same instant.
    entries.sort(key=lambda e: e.at)
    return entries


# The extension point for the timeline page's sections below the shipments: an app declares
# `extensions = {TIMELINE_SECTIONS: "<dotted path of a list of TimelineSection>"}` on its
# HubAppConfig (notifications: whom the order's events told), so orders names no app.
TIMELINE_SECTIONS = "orders.timeline_sections"


@dataclass(frozen=True)
class TimelineSection:
    """`context(order=, user=)` returns the template's context, or None when `user` may see
    nothing of it (the section is then left out); a constant number of queries per page."""

    template: str
    context: Callable[..., dict | None]


def _interceptions_context(*, order: Order, user) -> dict | None:
    if not user.has_perm("orders.view_interception"):
        return None
    interceptions = list(order.interceptions.select_related("requested_by").order_by("requested_at", "pk"))
    return {"interceptions": interceptions} if interceptions else None


INTERCEPTION_SECTIONS = [
    TimelineSection(template="orders/_timeline_interceptions.html", context=_interceptions_context)
]


def timeline_sections_render(*, order: Order, user, request=None) -> list[str]:
    rendered = []
    for declared in hub_extensions(TIMELINE_SECTIONS):
        for section in declared:
            context = section.context(order=order, user=user)
            if context is not None:
                rendered.append(render_to_string(section.template, context, request=request))
    return rendered


def order_timeline_page_data(*, order: Order, user, request=None) -> OrderTimelinePage:
    """Everything the page shows, for this viewer."""
    shipments = list(order_shipments(order_id=order.pk))
    entries = order_timeline_entries(order=order, shipments=shipments)
    created = next((e.event for e in entries if e.event is not None and e.event.action == ORDER_CREATED), None)
    return OrderTimelinePage(
        order=order,
        gifts=list(order.gifts.all()),
        entries=entries,
        shipments=shipments,
        current_shipment=shipments[-1] if shipments else None,
        sections=timeline_sections_render(order=order, user=user, request=request),
        lines=list(order.lines.all()),
        totals_mismatch=(created.data or {}).get("totals_mismatch", "") if created is not None else "",
        open_exceptions=list(order.exceptions.filter(cleared_at__isnull=True).order_by("raised_at", "id")),
        split_parts=list(order.split_parts.only("id", "number").order_by("pk")),
        merged_parts=list(order.merged_parts.only("id", "number").order_by("pk")),
    )


def order_attachment_for_download(*, number: str, attachment_id: int, user=None) -> Attachment | None:
    """The attachment, only if it belongs to an event of the order with that number, and
    `user` may see that order."""
    return (
        Attachment.objects.select_related("event")
        .filter(order_visibility_q(user, prefix="event__order__"))
        .filter(pk=attachment_id, event__order__number=(number or "").strip().upper())
        .first()
    )
