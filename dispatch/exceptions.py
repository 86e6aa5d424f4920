"""Refusals of the proposal services: each has a clear, translatable message; nothing changes."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from orders.exceptions import OrderError


class ProposalError(OrderError):
    """Base class (an OrderError, so every page that shows `.message` shows these too)."""


class ProposalNotFound(ProposalError):
    def __init__(self, proposal_id):
        super().__init__(_("Promise proposal #%(id)s does not exist.") % {"id": proposal_id})


class ProposalNotPermitted(ProposalError):
    def __init__(self, *, role_label: str):
        super().__init__(
            _("Your role (%(role)s) may not accept or dismiss promised ship times: that is for the operations lead.")
            % {"role": role_label}
        )


class ProposalAlreadyDecided(ProposalError):
    def __init__(self, *, status_label: str, decided_by: str, decided_at):
        when = timezone.localtime(decided_at).strftime("%Y-%m-%d %H:%M") if decided_at else "—"
        super().__init__(
            _("This proposal was already %(status)s by %(who)s at %(when)s.")
            % {"status": status_label, "who": decided_by, "when": when}
        )


class ProposalNothingToAccept(ProposalError):
    def __init__(self, *, reason: str):
        super().__init__(_("There is nothing to accept: %(reason)s") % {"reason": reason})


class ProposalChanged(ProposalError):
    def __init__(self, *, shown: int, now: int | None):
        super().__init__(
            _(
                "The proposal was recomputed since the page was shown (%(shown)s h then, %(now)s h now): "
                "look at it again."
            )
            % {"shown": shown, "now": now if now is not None else "—"}
        )
