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


class ReactionRetryLater(Exception):
    """Try again after a back-off (rate limit, timeout, 5xx)."""


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


_KINDS: dict[str, ReactionKind] = {}


def reaction_kind_register(kind: ReactionKind) -> None:
    _KINDS[kind.code] = kind


def reaction_kind(code: str) -> ReactionKind | None:
    return _KINDS.get(code)


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
