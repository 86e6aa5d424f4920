"""Why finance's list refuses a change. Each is an orders OrderError, so the admin and the boards
report them the same way; when one is raised, nothing has changed."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from orders.exceptions import ConflictError, InvalidActionData, OrderError


class InvoiceNotFound(OrderError):
    def __init__(self, invoice_id):
        super().__init__(_("Invoice request #%(id)s is not on the to-invoice list.") % {"id": invoice_id})


class InvoiceRefused(InvalidActionData):
    """The move is not possible from where the row or its order is (already issued, gift order,
    refunded order, …)."""


class InvoiceNumberInvalid(InvalidActionData):
    pass


class InvoiceNumberTaken(ConflictError):
    def __init__(self, *, invoice_number: str, other_order: str):
        super().__init__(
            _(
                "Invoice number %(invoice)s is already recorded for order %(other)s. "
                "Nothing was saved: check the number."
            )
            % {"invoice": invoice_number, "other": other_order}
        )


class StaleInvoiceError(ConflictError):
    def __init__(self, *, number: str, changed_by: str, changed_at, expected: int, actual: int):
        self.expected_version = expected
        self.actual_version = actual
        when = timezone.localtime(changed_at).strftime("%Y-%m-%d %H:%M:%S")
        super().__init__(
            _(
                "The invoice request of order %(number)s was changed by %(who)s at %(when)s after you "
                "opened it (your version %(expected)s, now %(actual)s). Nothing was saved: reload and try again."
            )
            % {"number": number, "who": changed_by, "when": when, "expected": expected, "actual": actual}
        )
