"""Writes of promised ship times: the daily proposal from history, and the operations lead's
decision on it.

    promise_proposals_compute(now=None, days=30, percentile=90, min_sample_size=20)
    promise_proposal_accept(proposal_id=…, actor=…, expected_hours=None)
    promise_proposal_dismiss(proposal_id=…, actor=…)

A warehouse has at most one open proposal (a partial unique constraint): computing again
replaces it in place rather than adding another, so running the task twice, or by hand after
the schedule, leaves one row per warehouse. Every write locks the warehouse row first, then the
proposal, so an acceptance and a recomputation never interleave. The acceptance is the audit
of the promise change (who, when, hours before and after), kept on the proposal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Warehouse
from orders.permissions import role_of, user_display_name
from orders.states import Role

from .exceptions import (
    ProposalAlreadyDecided,
    ProposalChanged,
    ProposalNotFound,
    ProposalNothingToAccept,
    ProposalNotPermitted,
)
from .models import OPEN_STATUSES, PromiseProposal, ProposalStatus
from .selectors import ship_time_percentiles

DECIDE_PERMISSION = "dispatch.decide_promiseproposal"
DEFAULT_DAYS = 30
DEFAULT_PERCENTILE = 90
# Fewer orders than this say too little about a warehouse: no proposal, the reason recorded.
DEFAULT_MIN_SAMPLE_SIZE = 20


@dataclass(frozen=True)
class ComputeResult:
    proposed: int
    too_few: int

    def as_dict(self) -> dict:
        return {"proposed": self.proposed, "too_few": self.too_few}


def promised_hours_from_seconds(seconds: float) -> int:
    """Rounded up to whole hours (at least one). Whole seconds first, so that the floating-point
    noise of an exact 36 h (36.000000001) does not become 37."""
    return max(1, math.ceil(round(seconds) / 3600))


def promise_proposals_compute(
    *,
    now: datetime | None = None,
    days: int = DEFAULT_DAYS,
    percentile: int = DEFAULT_PERCENTILE,
    min_sample_size: int = DEFAULT_MIN_SAMPLE_SIZE,
) -> ComputeResult:
    """One proposal per active warehouse from the last `days` of paid → picked-up times: the
    `percentile` rounded up to whole hours, or "too few orders" with the reason."""
    if not 1 <= percentile <= 99:
        raise ValueError("percentile must be between 1 and 99")
    if days < 1 or min_sample_size < 1:
        raise ValueError("days and min_sample_size must be at least 1")
    end = now or timezone.now()
    start = end - timedelta(days=days)
    # The read first, outside the locks: it is the long part, and it reads only the past.
    found = ship_time_percentiles(start=start, end=end, percentile=percentile)
    proposed = too_few = 0
    with transaction.atomic(durable=True):
        warehouses = Warehouse.objects.select_for_update().filter(is_active=True).order_by("pk")
        open_by_warehouse = {
            p.warehouse_id: p for p in PromiseProposal.objects.select_for_update().filter(status__in=OPEN_STATUSES)
        }
        for warehouse in warehouses:
            stats = found.get(warehouse.pk)
            size = stats.sample_size if stats else 0
            values = {
                "percentile": percentile,
                "sample_size": size,
                "min_sample_size": min_sample_size,
                "window_start": start,
                "window_end": end,
                "computed_at": timezone.now(),
                "promise_when_computed": warehouse.promised_ship_hours,
            }
            if stats is not None and size >= min_sample_size:
                values.update(
                    status=ProposalStatus.PROPOSED,
                    proposed_hours=promised_hours_from_seconds(stats.seconds),
                    observed_hours=Decimal(stats.seconds / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP),
                    reason="",
                )
                proposed += 1
            else:
                values.update(
                    status=ProposalStatus.TOO_FEW,
                    proposed_hours=None,
                    observed_hours=None,
                    reason=_(
                        "Only %(count)d orders were picked up in the last %(days)d days; "
                        "%(needed)d are needed for a proposal."
                    )
                    % {"count": size, "days": days, "needed": min_sample_size},
                )
                too_few += 1
            current = open_by_warehouse.get(warehouse.pk)
            if current is None:
                PromiseProposal.objects.create(warehouse=warehouse, **values)
            else:
                for name, value in values.items():
                    setattr(current, name, value)
                current.save(update_fields=list(values))
    return ComputeResult(proposed=proposed, too_few=too_few)


def promise_proposal_accept(*, proposal_id, actor, expected_hours: int | None = None) -> PromiseProposal:
    """Set the warehouse's promised ship time to the proposal's hours and record who accepted
    it, when, and the promise before and after. `expected_hours`: what the page showed; a
    proposal recomputed since is refused. The SLA sweep uses the new promise from its next run."""
    _check_permission(actor)
    with transaction.atomic(durable=True):
        proposal, warehouse = _lock(proposal_id)
        if proposal.status == ProposalStatus.TOO_FEW or proposal.proposed_hours is None:
            raise ProposalNothingToAccept(reason=proposal.reason)
        _check_open(proposal)
        if expected_hours is not None and int(expected_hours) != proposal.proposed_hours:
            raise ProposalChanged(shown=int(expected_hours), now=proposal.proposed_hours)
        old = warehouse.promised_ship_hours
        warehouse.promised_ship_hours = proposal.proposed_hours
        warehouse.save(update_fields=["promised_ship_hours"])
        _decide(proposal, actor, ProposalStatus.ACCEPTED, old_hours=old, new_hours=proposal.proposed_hours)
    return proposal


def promise_proposal_dismiss(*, proposal_id, actor) -> PromiseProposal:
    """Close an open proposal without changing the promise (the next computation may propose
    again if the history still says so)."""
    _check_permission(actor)
    with transaction.atomic(durable=True):
        proposal, warehouse = _lock(proposal_id)
        _check_open(proposal)
        _decide(proposal, actor, ProposalStatus.DISMISSED, old_hours=warehouse.promised_ship_hours, new_hours=None)
    return proposal


def _check_permission(actor) -> None:
    if actor is not None and actor.is_active and actor.has_perm(DECIDE_PERMISSION):
        return
    role = role_of(actor)
    raise ProposalNotPermitted(role_label=str(Role(role).label) if role else _("no role"))


def _lock(proposal_id) -> tuple[PromiseProposal, Warehouse]:
    """The warehouse row first (as the computation), then the proposal."""
    try:
        warehouse_id = PromiseProposal.objects.filter(pk=proposal_id).values_list("warehouse_id", flat=True).first()
    except (ValueError, TypeError):
        warehouse_id = None
    if warehouse_id is None:
        raise ProposalNotFound(proposal_id)
    warehouse = Warehouse.objects.select_for_update().get(pk=warehouse_id)
    proposal = PromiseProposal.objects.select_for_update().get(pk=proposal_id)
    proposal.warehouse = warehouse
    return proposal, warehouse


def _check_open(proposal: PromiseProposal) -> None:
    if proposal.is_open:
        return
    raise ProposalAlreadyDecided(
        status_label=str(proposal.get_status_display()).lower(),
        decided_by=user_display_name(proposal.decided_by) if proposal.decided_by_id else str(Role.SYSTEM.label),
        decided_at=proposal.decided_at,
    )


def _decide(proposal: PromiseProposal, actor, status: str, *, old_hours, new_hours) -> None:
    proposal.status = status
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.old_hours = old_hours
    proposal.new_hours = new_hours
    proposal.save(update_fields=["status", "decided_by", "decided_at", "old_hours", "new_hours"])
