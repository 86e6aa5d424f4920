"""The seed's reaction rules: installed by a data migration, and again by the tests after a
database flush. Operations change them in the admin afterwards."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DEFAULT_RULES = [
    # name, event type, reaction, tell the CS owner, tell a role
    ("审核通过：通知客服负责人 / Approved: tell the CS owner", "approve", "notify", True, ""),
    ("打包完成：通知客服负责人 / Packed: tell the CS owner", "pack", "notify", True, ""),
    ("打包完成：预约快递上门取件 / Packed: book the carrier pickup", "pack", "carrier_book_pickup", False, ""),
    ("打包完成：加入财务待开票清单 / Packed: add to the to-invoice list", "pack", "invoice_list_add", False, ""),
    ("已发货：上传运单 / Shipped: upload the waybill", "ship", "carrier_upload_waybill", False, ""),
    ("退款被拒：通知财务 / A refund was refused: tell finance", "refund_failed", "notify", False, "finance"),
    (
        "退款已打款：移出待开票清单 / Refund paid: off the to-invoice list",
        "refund",
        "invoice_list_cancel",
        False,
        "",
    ),
    (
        "反应最终失败：通知技术负责人 / A reaction failed: tell the tech lead",
        "reaction_failed",
        "notify",
        False,
        "tech_lead",
    ),
]


def default_rules_install(rule_model) -> None:
    """Create the rules that are missing (by event type and reaction); never touch edited ones."""
    for name, event_type, kind, cs_owner, role in DEFAULT_RULES:
        rule_model.objects.get_or_create(
            event_type=event_type,
            kind=kind,
            defaults={"name": name, "recipient_cs_owner": cs_owner, "recipient_role": role, "params": {}},
        )


# Per alert kind: severity, whose it is, escalate after (minutes), thresholds. Operations
# change them in the admin afterwards.
ALERT_KIND_DEFAULTS = {
    "stale_order": ("warning", "operations", 30, {}),
    "conflicting_edits": ("warning", "operations", 30, {}),
    "sla_breach": ("critical", "operations", 15, {"default_promised_hours": 48}),
    "integration_failure": ("critical", "tech_lead", 15, {}),
    "duplicate_refund": ("critical", "operations", 15, {}),
    "risk_hold_waiting": ("warning", "operations", 30, {"minutes": 120}),
}

# The thresholds each kind accepts in its parameters: {kind: {key: smallest value}}, whole
# numbers. A key left out means the default above.
ALERT_KIND_PARAMS = {kind: dict.fromkeys(params, 1) for kind, (_s, _r, _m, params) in ALERT_KIND_DEFAULTS.items()}

# High value above this amount, per currency.
DEFAULT_PRIORITY_THRESHOLDS = {"CNY": "500"}


def alert_defaults_install(settings_model, priority_model) -> None:
    """Create the per-kind settings and high-value thresholds that are missing; never touch
    edited ones."""
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
    for currency, amount in DEFAULT_PRIORITY_THRESHOLDS.items():
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
