"""Promised ship time proposals: what the history of the last days says each warehouse can
promise, for operations to accept with one click (or dismiss).

The acceptance is the audit of the promise change: who, when, the promise before and after,
kept on the proposal row (the warehouse row itself keeps no history).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ProposalStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    # Not enough orders picked up in the window to say anything: the reason is recorded, and
    # nothing can be accepted.
    TOO_FEW = "too_few", _("Too few orders")
    ACCEPTED = "accepted", _("Accepted")
    DISMISSED = "dismissed", _("Dismissed")


# A warehouse has at most one of these at a time: a new computation replaces it.
OPEN_STATUSES = (ProposalStatus.PROPOSED, ProposalStatus.TOO_FEW)


class PromiseProposal(models.Model):
    warehouse = models.ForeignKey(
        "orders.Warehouse", verbose_name=_("warehouse"), on_delete=models.PROTECT, related_name="promise_proposals"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.PROPOSED
    )
    proposed_hours = models.PositiveSmallIntegerField(
        _("proposed promise (hours)"),
        null=True,
        blank=True,
        help_text=_("The percentile of paid → picked-up times, rounded up to whole hours."),
    )
    percentile = models.PositiveSmallIntegerField(_("percentile"))
    observed_hours = models.DecimalField(
        _("observed percentile (hours)"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    sample_size = models.PositiveIntegerField(_("orders in the sample"))
    min_sample_size = models.PositiveIntegerField(_("orders needed"))
    window_start = models.DateTimeField(_("window from"))
    window_end = models.DateTimeField(_("window to"))
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)
    promise_when_computed = models.PositiveSmallIntegerField(_("promise when computed (hours)"))
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    # The decision, and with an acceptance the change it made: the audit of the promise.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    old_hours = models.PositiveSmallIntegerField(_("promise before (hours)"), null=True, blank=True)
    new_hours = models.PositiveSmallIntegerField(_("promise after (hours)"), null=True, blank=True)

    class Meta:
        verbose_name = _("promised ship time proposal")
        verbose_name_plural = _("promised ship time proposals")
        ordering = ["-computed_at", "-id"]
        permissions = [("decide_promiseproposal", "Can accept or dismiss promised ship time proposals")]
        constraints = [
            models.UniqueConstraint(
                fields=["warehouse"],
                condition=Q(status__in=["proposed", "too_few"]),
                name="promise_proposal_one_open_per_warehouse",
            ),
            models.CheckConstraint(
                condition=~Q(status="proposed") | Q(proposed_hours__gte=1),
                name="promise_proposal_proposes_hours",
            ),
        ]
        indexes = [models.Index(fields=["warehouse", "-computed_at"], name="promise_proposal_wh_idx")]

    def __str__(self) -> str:
        if self.proposed_hours:
            return f"{self.warehouse}: {self.proposed_hours} h (P{self.percentile})"
        return f"{self.warehouse}: {self.get_status_display()}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES
