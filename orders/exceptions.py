"""What can go wrong when someone acts on an order. Each refusal has its own class and a clear,
translatable message; when one is raised, nothing has changed."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from .states import TRANSITIONS_BY_ACTION


class OrderError(Exception):
    """Base class: `message` is what the user reads."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class OrderNotFound(OrderError):
    def __init__(self, order_id):
        super().__init__(_("Order #%(id)s does not exist.") % {"id": order_id})


class UnknownAction(OrderError):
    def __init__(self, action: str):
        super().__init__(_("There is no order action called “%(action)s”.") % {"action": action})


class ActionNotPermitted(OrderError):
    def __init__(self, *, role_label: str, action_label: str):
        super().__init__(
            _("Your role (%(role)s) may not take the action “%(action)s”.")
            % {"role": role_label, "action": action_label}
        )


class IllegalTransition(OrderError):
    def __init__(self, *, number: str, state_label: str, action_label: str):
        super().__init__(
            _("Order %(number)s is “%(state)s”: “%(action)s” is not possible from there.")
            % {"number": number, "state": state_label, "action": action_label}
        )


class InvalidActionData(OrderError):
    """A required field is missing or a value is not acceptable (bad tracking number, …)."""


class AttachmentRejected(InvalidActionData):
    pass


class OwnerNotEligible(InvalidActionData):
    """Only an active customer-service user (or an admin) can own an order."""

    def __init__(self, *, name: str):
        super().__init__(_("%(name)s is not an active customer-service user.") % {"name": name})


class OwnerNotOfBrand(InvalidActionData):
    """Customer service sees only its brands' orders: one who could not see the order cannot
    own it."""

    def __init__(self, *, name: str):
        super().__init__(_("%(name)s does not work this order's brand.") % {"name": name})


class ConflictError(OrderError):
    """Someone else changed the order first. Reload, look, and try again."""


class OrderAlreadyOwned(ConflictError):
    """Taking an order is for unassigned orders; giving someone's order to another is an
    assignment."""

    def __init__(self, *, number: str, owner_name: str):
        super().__init__(_("%(number)s already belongs to %(name)s.") % {"number": number, "name": owner_name})


class StaleOrderError(ConflictError):
    def __init__(self, *, number: str, changed_by: str, changed_at, expected: int, actual: int):
        self.expected_version = expected
        self.actual_version = actual
        # Who and when, for callers that answer with data rather than the sentence (the API).
        self.changed_by = changed_by
        self.changed_at = changed_at
        when = timezone.localtime(changed_at).strftime("%Y-%m-%d %H:%M:%S")
        super().__init__(
            _(
                "Order %(number)s was changed by %(who)s at %(when)s after you opened it "
                "(your version %(expected)s, now %(actual)s). Nothing was saved: reload and try again."
            )
            % {"number": number, "who": changed_by, "when": when, "expected": expected, "actual": actual}
        )


class TrackingNumberConflict(ConflictError):
    def __init__(self, *, number: str, tracking_number: str, recorded_by: str, recorded_at):
        when = timezone.localtime(recorded_at).strftime("%Y-%m-%d %H:%M:%S")
        super().__init__(
            _(
                "Order %(number)s already has tracking number %(tracking)s, recorded by %(who)s at "
                "%(when)s. It is never overwritten: use “%(reship)s” to add a new shipment."
            )
            % {
                "number": number,
                "tracking": tracking_number,
                "who": recorded_by,
                "when": when,
                "reship": TRANSITIONS_BY_ACTION["reship"].label,
            }
        )


class DatabaseUnavailable(OrderError):
    """The connection to the database was lost during the change (a restart, a failover, a
    dropped connection). Inside the transaction PostgreSQL rolls everything back, so nothing
    was saved; lost while committing, the outcome is unknown and the order must be reloaded."""

    def __init__(self, *, order_id, action_label: str, maybe_saved: bool = False):
        self.maybe_saved = maybe_saved
        if maybe_saved:
            message = _(
                "The connection to the database was lost while “%(action)s” on order #%(id)s was "
                "being saved: it may or may not have been saved. Reload the order to check before "
                "trying again."
            )
        else:
            message = _(
                "“%(action)s” on order #%(id)s was not saved: the connection to the database was "
                "lost. Nothing was changed; try again in a moment."
            )
        super().__init__(message % {"action": action_label, "id": order_id})
