"""Reaction kinds: what an outbox message can ask for. The operations rules pick a kind and give
it parameters; the outbox worker runs it.

A reaction's `run(message)` must be idempotent: it may run again after a crash between its
effect and the commit. It raises ReactionRetryLater for a passing trouble (rate limit, timeout,
server error) and ReactionFailed when retrying cannot help. Each app declares its own kinds on
its AppConfig (`reaction_kinds = "<app>.reactions.REACTION_KINDS"`, orders.plugins); a rule
naming a kind no installed app provides fails clearly as "unknown reaction kind", never as a
silent no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# The two delivery lanes. "hub": reactions that only write the hub's own database (in-app
# notices, the rules, finance's list), taken many per transaction. "calls": reactions that wait
# on someone else's server, one per transaction, on their own queue and workers.
LANE_HUB = "hub"
LANE_CALLS = "calls"


class ReactionRetryLater(Exception):
    """Try again after a back-off (rate limit, timeout, 5xx). `retry_after` (seconds): the
    peer said when it can take the call again (a rate limit's restore time); the next attempt
    is due then instead of after the exponential back-off."""

    def __init__(self, message: str = "", *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ReactionFailed(Exception):
    """Retrying cannot help: the message fails now and the tech lead is told."""


@dataclass(frozen=True)
class ReactionKind:
    code: str
    label: str
    run: Callable  # (OutboxMessage) -> str, a short result for the record
    clean_params: Callable[[dict], dict]
    # Failures of integrations (carriers, robots, channels) alert the tech lead.
    integration: bool = False
    # Internal kinds are created by other reactions (one chat message per robot), not by rules.
    internal: bool = False
    # Called when a message of this kind fails for good, in the transaction that records the
    # failure (its own savepoint): (OutboxMessage, error text) -> None. For the records the
    # kind keeps in step with its outcome (a return label marked failed).
    on_failure: Callable | None = None
    # Called when an attempt fails and the message will be tried again, in the transaction that
    # records it (its own savepoint): (OutboxMessage, error text) -> None. The reaction's own
    # savepoint was rolled back, so this is where a kind keeps its record of attempts.
    on_retry: Callable | None = None
    # Reaches outside the hub (HTTP, SMTP) without being an integration whose failure alerts
    # (the email reaction). Such kinds, and every integration, run in the "calls" lane: one
    # message per transaction on a queue of their own, so a slow carrier never delays an
    # in-app notice (orders.outbox.services, lanes).
    calls_out: bool = False
    # How many attempts before the message fails for good; None: ORDERHUB_OUTBOX_MAX_ATTEMPTS.
    # A kind whose receiver may be down for an hour (outbound webhooks) asks for more.
    max_attempts: int | None = None
    # Called after an attempt raised, once its savepoint is rolled back, in the transaction
    # that records the retry or the failure: (OutboxMessage, exception) -> None. For a log the
    # kind keeps of every attempt (webhook deliveries), which the rollback would otherwise undo.
    on_attempt_error: Callable | None = None
    # A calls-lane kind whose calls can go out together (outbound webhooks: many small POSTs):
    # (list[OutboxMessage]) -> one outcome per message, in order, each the result text or the
    # exception its attempt raised. The drain then claims up to ORDERHUB_CALLS_BATCH due rows of
    # the kind in one transaction instead of one, so a burst costs one claim, one log INSERT and
    # one UPDATE, not each of them per row. `run` stays the one-message path (a retry alone).
    run_batch: Callable | None = None
    # Which peer a message of this kind calls, in words: (OutboxMessage) -> str ("ERP
    # production" for an outbound webhook's subscription). An integration failure's alert
    # names it beside the kind; without it the alerts app guesses from the parameters.
    target_name: Callable | None = None

    @property
    def lane(self) -> str:
        return LANE_CALLS if self.integration or self.calls_out else LANE_HUB


_KINDS: dict[str, ReactionKind] = {}


def reaction_kind_register(kind: ReactionKind) -> None:
    _KINDS[kind.code] = kind


def reaction_kind(code: str) -> ReactionKind | None:
    return _KINDS.get(code)


def reaction_kinds_calling_out() -> list[str]:
    """The codes of the kinds in the "calls" lane; every other code (an unknown one too, so it
    fails clearly) is the hub lane's."""
    return sorted(k.code for k in _KINDS.values() if k.lane == LANE_CALLS)


def reaction_lane(code: str) -> str:
    kind = _KINDS.get(code)
    return kind.lane if kind is not None else LANE_HUB


def reaction_kind_choices() -> list[tuple[str, str]]:
    return [(k.code, k.label) for k in _KINDS.values() if not k.internal]


def reaction_params_clean(code: str, params) -> dict:
    kind = reaction_kind(code)
    if kind is None:
        raise ValidationError(_("Unknown reaction “%(kind)s”.") % {"kind": code})
    if params in (None, ""):
        params = {}
    if not isinstance(params, dict):
        raise ValidationError(_("Parameters must be a JSON object."))
    return kind.clean_params(params)


def no_params(params: dict) -> dict:
    if params:
        raise ValidationError(_("This reaction takes no parameters (got: %(keys)s).") % {"keys": ", ".join(params)})
    return {}
