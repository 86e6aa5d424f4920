"""The one way to change an order's state.

    order_transition(order_id, action, *, actor, expected_version=None, note="", attachments=(), **data)

One durable transaction: lock the order row, compare the version the caller saw, check the role
and the move, run the django-fsm transition, bump the version, save, and append the event (and
the shipment or attachments it carries). Any refusal raises an OrderError subclass and leaves
everything as it was.
"""

from __future__ import annotations

import re

from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from ..events import GIFT_NOT_FOLLOWED, order_event_build, order_event_create, order_events_recorded
from ..exceptions import (
    ActionNotPermitted,
    DatabaseUnavailable,
    IllegalTransition,
    InvalidActionData,
    TrackingNumberConflict,
    UnknownAction,
)
from ..models import Attachment, Order, Shipment, Warehouse
from ..outbox.services import outbox_enqueue_for_event
from ..permissions import actor_may_take, role_of
from ..states import TRANSITIONS_BY_ACTION, Carrier, Role, State, Transition
from .attachments import CheckedAttachment, attachments_check
from .gifts import FOLLOWED_ACTIONS, gift_follow_note, gift_moves, gift_not_followed_note
from .interception import INTERCEPTION_ACTIONS, interception_after_move, interception_check_move
from .locking import order_check_version, order_lock
from .order_exceptions import EXCEPTION_TRANSITIONS, order_exceptions_for_transition
from .order_rows import order_save_locked

TRACKING_NUMBER_RE = re.compile(r"^[A-Za-z0-9-]{6,40}$")

_ORDER_FIELDS_SAVED = ["state", "version", "updated_by", "updated_at", "state_changed_at"]


def order_transition(
    order_id: int,
    action: str,
    *,
    actor,
    expected_version: int | None = None,
    note: str = "",
    attachments=(),
    event_data: dict | None = None,
    **data,
):
    """Take `action` on the order as `actor` (a user, or None for the system). Returns the
    OrderEvent written. Must be the outermost transaction, so what follows the commit really
    follows it. `event_data` is added to the event's data (where a system move came from, e.g.
    a reconciliation run's file and row)."""
    transition: Transition | None = None
    clean: dict = {}
    applied = False
    try:
        transition, clean = _prepare(action, actor=actor, note=note, data=data)
        if transition.service_only:
            raise InvalidActionData(
                _("“%(action)s” moves more than the state: it is done on its own page.") % {"action": transition.label}
            )
        files = attachments_check(attachments)
        with transaction.atomic(durable=True):
            event = _apply(
                order_id,
                transition,
                actor=actor,
                expected_version=expected_version,
                note=note.strip(),
                files=files,
                clean=clean,
                event_data=event_data,
            )
            applied = True
        return event
    except IntegrityError as exc:
        # Only the tracking number is unique across orders; say so instead of a database error.
        if "tracking" in str(exc).lower() and "tracking_number" in clean:
            raise _tracking_number_taken(clean) from exc
        raise
    except DatabaseError as exc:
        if not _connection_lost(exc):
            raise
        # Lost before the commit: the transaction died with the connection, nothing was written.
        # Lost during the commit (`applied`): PostgreSQL may have committed it.
        raise DatabaseUnavailable(
            order_id=order_id, action_label=str(transition.label) if transition else action, maybe_saved=applied
        ) from exc


def _connection_lost(exc: DatabaseError) -> bool:
    """The connection itself is gone (closed, reset, the server shut it down or restarts), as
    opposed to an error of the statement (a deadlock, a lock or statement timeout), which the
    caller may see as it is. PostgreSQL's SQLSTATE classes: 08 connection exception, 57P
    operator intervention (admin shutdown, crash shutdown, cannot connect now); psycopg gives
    no SQLSTATE when the socket broke."""
    if isinstance(exc, InterfaceError):  # "connection already closed"
        return True
    if not isinstance(exc, OperationalError) or not hasattr(exc.__cause__, "sqlstate"):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(("08", "57P"))


def order_transition_in_transaction(
    order_id: int,
    action: str,
    *,
    actor,
    expected_version=None,
    note: str = "",
    attachments=(),
    event_data: dict | None = None,
    **data,
):
    """The same, joining a transaction the caller already holds (e.g. moving a main order and
    its gifts together, locked in primary-key order by the caller)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_transition_in_transaction needs an open transaction")
    transition, clean = _prepare(action, actor=actor, note=note, data=data)
    files = attachments_check(attachments)
    return _apply(
        order_id,
        transition,
        actor=actor,
        expected_version=expected_version,
        note=note.strip(),
        files=files,
        clean=clean,
        event_data=event_data,
    )


def _prepare(action: str, *, actor, note: str, data: dict) -> tuple[Transition, dict]:
    """Everything that can be refused without reading the order: unknown action, a role that
    may never take it, missing or malformed data."""
    transition = TRANSITIONS_BY_ACTION.get(action)
    if transition is None:
        raise UnknownAction(action)
    # Known before the row is locked: the event needs it, and looking it up may cost a query.
    role = role_of(actor)
    if not actor_may_take(actor, transition):
        raise ActionNotPermitted(
            role_label=str(Role(role).label) if role else _("no role"),
            action_label=str(transition.label),
        )
    unexpected = set(data) - set(transition.requires)
    if unexpected:
        raise InvalidActionData(
            _("“%(action)s” does not accept: %(fields)s.")
            % {"action": transition.label, "fields": ", ".join(_field_label(name) for name in sorted(unexpected))}
        )
    if transition.note_required and not (note or "").strip():
        raise InvalidActionData(_("“%(action)s” needs a reason in the note.") % {"action": transition.label})
    clean = {}
    for name in transition.requires:
        value = data.get(name)
        if value in (None, ""):
            raise InvalidActionData(
                _("“%(action)s” needs %(field)s.") % {"action": transition.label, "field": _field_label(name)}
            )
        clean[name] = _clean_value(name, value)
    return transition, clean


def _field_label(name: str) -> str:
    return {
        "carrier": _("a carrier"),
        "tracking_number": _("a tracking number"),
        "warehouse": _("a warehouse"),
        "note": _("a note"),
    }.get(name, name)


def _clean_value(name: str, value):
    if name == "carrier":
        if value not in Carrier.values:
            raise InvalidActionData(_("Unknown carrier “%(carrier)s”.") % {"carrier": value})
        return value
    if name == "tracking_number":
        value = str(value).strip().upper()
        if not TRACKING_NUMBER_RE.match(value):
            raise InvalidActionData(
                _("“%(tracking)s” is not a valid tracking number (6–40 letters, digits or dashes).")
                % {"tracking": value}
            )
        return value
    if name == "warehouse":
        warehouse_id = value.pk if isinstance(value, Warehouse) else value
        warehouse = Warehouse.objects.filter(pk=warehouse_id, is_active=True).first()
        if warehouse is None:
            raise InvalidActionData(_("Warehouse %(id)s does not exist or is inactive.") % {"id": warehouse_id})
        return warehouse
    return value


def _apply(
    order_id,
    transition: Transition,
    *,
    actor,
    expected_version,
    note: str,
    files: list[CheckedAttachment],
    clean: dict,
    event_data: dict | None = None,
):
    order = order_lock(order_id)
    order_check_version(order, expected_version)

    current_shipment = None
    if "tracking_number" in clean:
        current_shipment = order.shipments.order_by("-sequence").first()
        if transition.action == "ship" and current_shipment is not None:
            # Someone recorded a tracking number first: never overwrite it.
            raise TrackingNumberConflict(
                number=order.number,
                tracking_number=current_shipment.tracking_number,
                recorded_by=current_shipment.event.actor_display,
                recorded_at=current_shipment.created_at,
            )
        if Shipment.objects.filter(carrier=clean["carrier"], tracking_number=clean["tracking_number"]).exists():
            raise _tracking_number_taken(clean)

    if transition.gift_only and order.main_order_id is None:
        raise InvalidActionData(_("Only a gift order ships with its main order."))

    if order.state == State.INTERCEPT_FAILED:
        interception_check_move(order, transition.action)

    method = getattr(order, transition.action)
    if not can_proceed(method):
        raise IllegalTransition(
            number=order.number,
            state_label=str(State(order.state).label),
            action_label=str(transition.label),
        )

    from_state = order.state
    now = timezone.now()
    method()
    order.version += 1
    order.updated_by = actor
    order.updated_at = now
    order.state_changed_at = now
    fields = list(_ORDER_FIELDS_SAVED)
    if "warehouse" in clean:
        order.warehouse = clean["warehouse"]
        fields.append("warehouse")
    # The event is built from the order as changed and saved with it: one statement on
    # PostgreSQL for the row, its history row and its event.
    event = order_event_build(
        order=order,
        action=transition.action,
        from_state=from_state,
        actor=actor,
        occurred_at=now,
        note=note,
        data={**(event_data or {}), **_event_data(clean)},
    )
    order_save_locked(order, update_fields=fields, actor=actor, at=now, event=event)
    order_events_recorded([event])
    if "tracking_number" in clean:
        Shipment.objects.create(
            order=order,
            sequence=(current_shipment.sequence + 1) if current_shipment else 1,
            carrier=clean["carrier"],
            tracking_number=clean["tracking_number"],
            reason=note if transition.action == "reship" else "",
            event=event,
            created_by=actor,
            created_at=now,
        )
    if transition.action in INTERCEPTION_ACTIONS:
        interception_after_move(order, event, from_state=from_state, actor=actor)
    outbox_enqueue_for_event(event)
    if transition.action in EXCEPTION_TRANSITIONS:
        order_exceptions_for_transition(
            order=order, actor=actor, action=transition.action, note=note, by_rule="rule" in (event_data or {})
        )
    for checked in files:
        Attachment.objects.create(
            event=event,
            file=checked.as_file(),
            original_name=checked.original_name,
            content_type=checked.content_type,
            size=len(checked.content),
        )
    if order.main_order_id is None and transition.action in FOLLOWED_ACTIONS:
        _gifts_follow(order, transition)
    return event


def _gifts_follow(main: Order, transition: Transition) -> None:
    """Move the main order's gifts where it went, in this transaction, as the system. The main
    order is locked already; the gifts are locked next, in primary-key order."""
    gifts = list(Order.objects.select_for_update().filter(main_order_id=main.pk).order_by("pk"))
    for gift in gifts:
        moves = gift_moves(main_action=transition.action, gift_state=gift.state)
        if moves is None:
            refused = order_event_create(
                order=gift,
                action=GIFT_NOT_FOLLOWED,
                from_state=gift.state,
                actor=None,
                occurred_at=timezone.now(),
                note=gift_not_followed_note(
                    main_number=main.number,
                    action_label=str(transition.verb),
                    state_label=str(State(gift.state).label),
                ),
                data={"main_order": main.number, "main_action": transition.action},
            )
            outbox_enqueue_for_event(refused)
            continue
        for action in moves:
            _apply(
                gift.pk,
                TRANSITIONS_BY_ACTION[action],
                actor=None,
                expected_version=None,
                note=gift_follow_note(main.number),
                files=[],
                clean={},
            )


def _event_data(clean: dict) -> dict:
    data: dict[str, object] = {}
    for name, value in clean.items():
        if isinstance(value, Warehouse):
            data["warehouse_id"] = value.pk
            data["warehouse"] = value.name
        else:
            data[name] = value
    return data


def _tracking_number_taken(clean: dict) -> InvalidActionData:
    existing = (
        Shipment.objects.filter(carrier=clean["carrier"], tracking_number=clean["tracking_number"])
        .select_related("order")
        .first()
    )
    return InvalidActionData(
        _("%(carrier)s tracking number %(tracking)s is already used by order %(number)s.")
        % {
            "carrier": Carrier(clean["carrier"]).label,
            "tracking": clean["tracking_number"],
            "number": existing.order.number if existing else "?",
        }
    )
