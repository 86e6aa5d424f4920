"""Operations rules: a trigger, conditions over order fields, a fixed list of safe actions.

A rule is data the operations lead edits in the admin with ordinary form fields: no code, no
expressions. `rules.services` evaluates it (in Python at intake and after events, as a
QuerySet filter for the preview) and applies its actions through the order services only.
Every change of a rule is kept by simple-history; every time a rule acts on an order there
is one `RuleFiring` (which also makes the reaction idempotent) and a timeline event or note
naming the rule.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from orders.events import EVENT_TYPE_CHOICES
from orders.outbox.kinds import reaction_kind_choices
from orders.states import HUMAN_ROLES, TRANSITIONS_BY_ACTION, Carrier, Priority, State

# The trigger of a rule that runs when the order enters the hub (orders.events.ORDER_CREATED).
TRIGGER_ORDER_CREATED = "created"


def trigger_choices():
    """ "Order created" and every event type the hub knows (transitions, and what other apps
    registered with orders.events.event_type_register), for the rule editor's select."""

    # Not the rules' own timeline lines: a rule triggered by a rule could loop.
    return [(code, label) for code, label in EVENT_TYPE_CHOICES if code != "rule_applied"]


class AnyYesNo(models.TextChoices):
    ANY = "", _("Any")
    YES = "yes", _("Yes")
    NO = "no", _("No")


class PriorityCondition(models.TextChoices):
    ANY = "", _("Any")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High (priority lane)")


class Rule(models.Model):
    """When `trigger` happens to an order that meets every condition set, take the actions.
    A condition left empty does not restrict."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    enabled = models.BooleanField(
        _("enabled"),
        default=False,
        help_text=_("Save a new rule switched off, preview it on the last 30 days' orders, then switch it on."),
    )
    trigger = models.CharField(_("when"), max_length=32, choices=trigger_choices, default=TRIGGER_ORDER_CREATED)
    position = models.PositiveSmallIntegerField(
        _("order of evaluation"), default=100, help_text=_("Rules with a smaller number run first.")
    )
    stop_processing = models.BooleanField(
        _("stop after this rule"),
        default=False,
        help_text=_("When this rule matches, later rules for the same trigger are not evaluated."),
    )

    # -- conditions (empty = any) ---------------------------------------------------------------
    channels = models.JSONField(_("channels"), default=list, blank=True)
    shops = models.ManyToManyField("orders.Shop", verbose_name=_("shops"), blank=True, related_name="+")
    brands = models.ManyToManyField("orders.Brand", verbose_name=_("brands"), blank=True, related_name="+")
    amount_min = models.DecimalField(
        _("amount at least"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    amount_max = models.DecimalField(
        _("amount at most"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    amount_currency = models.CharField(
        _("amount currency"),
        max_length=3,
        blank=True,
        help_text=_("Required with an amount: orders in another currency do not match."),
    )
    previous_delivered_min = models.PositiveSmallIntegerField(
        _("buyer's delivered orders at least"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Other orders of the same buyer (email or phone) that were delivered; gift orders do not count."),
    )
    warehouses = models.ManyToManyField("orders.Warehouse", verbose_name=_("warehouses"), blank=True, related_name="+")
    places = models.JSONField(
        _("ship-to provinces or regions"),
        default=list,
        blank=True,
        help_text=_(
            "The order's province, however the channel spells it (广东省, Guangdong); a region covers its provinces."
        ),
    )
    weight_min_grams = models.PositiveIntegerField(
        _("weight at least (g)"),
        null=True,
        blank=True,
        help_text=_("The parcel's weight by its lines; an order whose lines have no weight does not match."),
    )
    weight_max_grams = models.PositiveIntegerField(_("weight at most (g)"), null=True, blank=True)
    is_gift = models.CharField(_("gift order"), max_length=3, choices=AnyYesNo.choices, blank=True, default="")
    priority = models.CharField(_("priority"), max_length=6, choices=PriorityCondition.choices, blank=True, default="")
    time_from = models.TimeField(
        _("ordered from (time of day)"),
        null=True,
        blank=True,
        help_text=_("Asia/Shanghai time. A window may wrap midnight (22:00 to 06:00)."),
    )
    time_to = models.TimeField(_("ordered before (time of day)"), null=True, blank=True)

    updated_at = models.DateTimeField(_("last updated at"), auto_now=True)

    history = HistoricalRecords(m2m_fields=[shops, brands, warehouses])

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["trigger", "position", "id"]
        indexes = [models.Index(fields=["trigger", "enabled"], name="rule_trigger_enabled_idx")]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from .validation import rule_conditions_check

        errors = rule_conditions_check(self)
        if errors:
            raise ValidationError(errors)


class ActionKind(models.TextChoices):
    """The fixed, safe list. Each is applied through the order services as the system."""

    SET_PRIORITY = "set_priority", _("Set the priority lane")
    ASSIGN_CS_OWNER = "assign_cs_owner", _("Assign a customer-service owner")
    ASSIGN_WAREHOUSE = "assign_warehouse", _("Assign a warehouse")
    APPROVE_RETURN = "approve_return", _("Approve the return with a prepaid label")
    NOTIFY = "notify", _("Notify someone")
    OPEN_ALERT = "open_alert", _("Open an alert")
    HOLD_FOR_RISK = "hold_for_risk", _("Hold for risk review")
    APPROVE = "approve", _("Approve the order (after a cooling-off)")
    CHOOSE_CARRIER = "choose_carrier", _("Choose the carrier")
    REACTION = "reaction", _("Run a built-in reaction")


# Actions the outbox delivers as messages of their own (a notice, a carrier call): a rule made
# only of these, with no condition, is subscribed to its trigger directly (one outbox row per
# action, written with the event) instead of being evaluated after the commit.
OUTBOX_ACTIONS = frozenset({ActionKind.NOTIFY, ActionKind.REACTION})


def reaction_choices():
    """The reactions a rule may run: every kind the installed apps declare, but the internal
    ones (created by other reactions or services) and the rules' own runner."""

    return [
        (code, label) for code, label in reaction_kind_choices() if code not in {"notify", "rules_run", "rule_approve"}
    ]


class RuleAction(models.Model):
    """One action of a rule, with the typed parameters its kind needs (the others stay empty)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="actions", verbose_name=_("rule"))
    kind = models.CharField(_("action"), max_length=32, choices=ActionKind.choices)
    priority = models.SmallIntegerField(_("priority"), choices=Priority.choices, null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The customer-service owner to assign, or a person to notify."),
    )
    role = models.CharField(
        _("everyone in role"), max_length=32, blank=True, choices=[(r.value, r.label) for r in HUMAN_ROLES]
    )
    notify_cs_owner = models.BooleanField(_("the order's customer-service owner"), default=False)
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("named users"), blank=True, related_name="+"
    )
    robots = models.ManyToManyField(
        "notifications.ChatRobot", verbose_name=_("chat robots"), blank=True, related_name="+"
    )
    email = models.BooleanField(_("also by email"), default=False)
    reaction = models.CharField(_("reaction"), max_length=48, blank=True, choices=reaction_choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    warehouse = models.ForeignKey(
        "orders.Warehouse",
        verbose_name=_("warehouse"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    cooling_off_minutes = models.PositiveSmallIntegerField(
        _("cooling-off (minutes)"),
        null=True,
        blank=True,
        help_text=_(
            "Approve this long after payment, so that a buyer's early cancel or address change lands first. "
            "An order with an open exception is never approved: it waits in the exception queue."
        ),
    )
    carrier = models.CharField(_("carrier"), max_length=16, blank=True, choices=Carrier.choices)
    alert_kind = models.CharField(_("alert kind"), max_length=32, blank=True)
    alert_severity = models.CharField(_("alert severity"), max_length=16, blank=True)
    message = models.CharField(
        _("message"),
        max_length=200,
        blank=True,
        help_text=_("The notification's or alert's text; the rule's name by default."),
    )

    # Part of the rule: its changes are audited with it.
    history = HistoricalRecords(m2m_fields=[users, robots])

    class Meta:
        verbose_name = _("action")
        verbose_name_plural = _("actions")
        ordering = ["rule", "id"]

    def __str__(self) -> str:
        return self.get_kind_display()


class FiringOutcome(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")
    PARTLY = "partly", _("Partly done")
    FAILED = "failed", _("Not applied")


class RuleFiring(models.Model):
    """A rule matched an order at one trigger event: what it did. One per (rule, order,
    event): a reaction delivered twice finds it and does nothing more."""

    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="firings", verbose_name=_("rule"))
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="rule_firings", verbose_name=_("order")
    )
    event = models.ForeignKey(
        "orders.OrderEvent", on_delete=models.PROTECT, related_name="rule_firings", verbose_name=_("trigger event")
    )
    trigger = models.CharField(_("trigger"), max_length=32)
    # [{"kind": "set_priority", "status": "done" | "pending" | "skipped" | "failed", "detail": "…"}]
    actions = models.JSONField(_("actions taken"), default=list)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=FiringOutcome.choices, default=FiringOutcome.PENDING
    )
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("rule firing")
        verbose_name_plural = _("rule firings")
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "order", "event"], name="rule_firing_once_per_event"),
        ]
        indexes = [models.Index(fields=["order", "at"], name="rule_firing_order_idx")]

    def __str__(self) -> str:
        return f"{self.rule} → {self.order_id}"


# States an order is in after a trigger, for the actions that need a particular state.
def states_after_trigger(trigger: str) -> set[str] | None:
    """The states an order can be in right after `trigger`; None when unknown (any)."""

    if trigger == TRIGGER_ORDER_CREATED:
        # Intake creates orders submitted, and a paid channel order is paid in the same step.
        return {State.SUBMITTED, State.PAID, State.CANCELLED}
    transition = TRANSITIONS_BY_ACTION.get(trigger)
    if transition is not None:
        return {transition.target}
    return None
