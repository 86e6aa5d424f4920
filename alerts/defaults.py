"""The alert kinds' default settings: installed by a data migration, and again by the tests
after a database flush. Operations change them in the admin afterwards."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Per alert kind: severity, whose it is, escalate after (minutes), thresholds. Operations
# change them in the admin afterwards.
ALERT_KIND_DEFAULTS = {
    "stale_order": ("warning", "operations", 30, {}),
    "conflicting_edits": ("warning", "operations", 30, {}),
    "sla_breach": ("critical", "operations", 15, {"default_promised_hours": 48}),
    "integration_failure": ("critical", "tech_lead", 15, {}),
    "duplicate_refund": ("critical", "operations", 15, {}),
    "risk_hold_waiting": ("warning", "operations", 30, {"minutes": 120}),
    # The logistics watch (alerts/watch.py). The warehouse owns what it can still ship or hand
    # over; customer service what the buyer will ask about once the parcel is out.
    "ship_by_due_soon": ("warning", "warehouse", 60, {"hours_before": 6}),
    "not_collected": ("warning", "warehouse", 60, {"hours": 24}),
    # Escalated when the silence reaches escalate_hours (severity up, then the kind's robots),
    # not after the kind's escalation minutes.
    "tracking_silent": ("warning", "customer_service", 60, {"hours": 24, "escalate_hours": 48}),
    "delivery_exception": ("critical", "customer_service", 30, {}),
    "returned_to_sender": ("warning", "customer_service", 60, {}),
}

# The thresholds each kind accepts in its parameters: {kind: {key: smallest value}}, whole
# numbers. A key left out means the default above.
ALERT_KIND_PARAMS = {kind: dict.fromkeys(params, 1) for kind, (_s, _r, _m, params) in ALERT_KIND_DEFAULTS.items()}

# High value above this amount, per currency: the thresholds migration 0005 installed, which
# rules 0002 turned into the "High value" rules (the thresholds' model is gone since 0007).
DEFAULT_PRIORITY_THRESHOLDS = {"CNY": "500"}


def alert_defaults_install(settings_model, priority_model=None) -> None:
    """Create the per-kind settings that are missing; never touch edited ones. (Migration 0005
    also passes the old high-value thresholds' model.)"""
    for kind, (severity, role, minutes, params) in ALERT_KIND_DEFAULTS.items():
        settings_model.objects.get_or_create(
            kind=kind,
            defaults={
                "enabled": True,
                "severity": severity,
                "assigned_role": role,
                "escalation_minutes": minutes,
                "params": dict(params),
            },
        )
    for currency, amount in DEFAULT_PRIORITY_THRESHOLDS.items() if priority_model is not None else ():
        priority_model.objects.get_or_create(currency=currency, defaults={"amount": amount})


def alert_kind_params_clean(kind: str, params) -> dict:
    """The kind's thresholds, checked: known keys only, whole numbers at or above their minimum.
    Raises ValidationError with every problem named."""
    if params in (None, ""):
        return {}
    if not isinstance(params, dict):
        raise ValidationError(_('The thresholds must be an object such as {"minutes": 120}.'))
    allowed = ALERT_KIND_PARAMS.get(kind, {})
    errors = []
    for key, value in params.items():
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or _("none")
            errors.append(
                _("“%(key)s” is not a threshold of this kind (it takes: %(known)s).") % {"key": key, "known": known}
            )
        elif isinstance(value, bool) or not isinstance(value, int) or value < allowed[key]:
            errors.append(
                _("“%(key)s” must be a whole number of at least %(minimum)s (got %(value)s).")
                % {"key": key, "minimum": allowed[key], "value": value}
            )
    if errors:
        raise ValidationError(errors)
    return dict(params)
