"""What each role may do: the transitions from states.TRANSITIONS plus the admin pages it sees.

`setup_roles` applies this to the Django groups; `role_matrix` prints it for the README; the
tests check all three agree.
"""

from __future__ import annotations

from .states import HUMAN_ROLES, TRANSITIONS, Role

_SEE_ORDERS = [
    "orders.view_order",
    # A note with photos on the timeline (a damaged parcel, a buyer's screenshot).
    "orders.add_attachment",
    "orders.view_orderevent",
    "orders.view_shipment",
    "orders.view_attachment",
    "orders.view_historicalorder",
    "orders.view_warehouse",
    # 截单: who asked to stop which parcel, of whom, and the result.
    "orders.view_interception",
]

# 拆单: split an order by its lines (merging is the `merge` transition, in the table).
_SPLIT = "orders.split_order"

# The outbox: see what reactions did, give failed ones another go.
_OUTBOX = ["orders.view_outboxmessage", "orders.change_outboxmessage"]
_ROBOTS = ["notifications.view_chatrobot", "notifications.add_chatrobot", "notifications.change_chatrobot"]

# Carrier accounts and webhook secrets: operations and the tech lead keep them.
_INTEGRATIONS = [
    "integrations.view_carrieraccount",
    "integrations.add_carrieraccount",
    "integrations.change_carrieraccount",
    "integrations.view_webhooksource",
    "integrations.add_webhooksource",
    "integrations.change_webhooksource",
    "integrations.view_inbounddelivery",
    "integrations.view_trackingrecord",
    # The payment gateway that pays refunds (its keys are write-only, like carrier secrets).
    "integrations.view_paymentgatewayaccount",
    "integrations.add_paymentgatewayaccount",
    "integrations.change_paymentgatewayaccount",
    # Shopify Admin API access for the shipment write-back (the token is write-only).
    "integrations.view_shopifyadminaccount",
    "integrations.add_shopifyadminaccount",
    "integrations.change_shopifyadminaccount",
    "integrations.view_channelwriteback",
]
# Bulk-shipping upload files (批量发货) for the channels without an API: the warehouse and
# operations make and download them.
_UPLOAD_FILES = [
    "integrations.view_shipmentuploadfile",
    "integrations.view_shipmentuploadline",
    "integrations.make_shipmentuploadfile",
]

# Brands and their shops (webhook secrets, import mappings, who works which brand): operations
# manage them, the tech lead reads them (never a secret).
_BRANDS_MANAGE = [
    "orders.view_brand",
    "orders.add_brand",
    "orders.change_brand",
    "orders.view_shop",
    "orders.add_shop",
    "orders.change_shop",
]
_BRANDS_SEE = ["orders.view_brand", "orders.view_shop"]

# Each role's boards (proxy models of Order, so each is a permission of its own). Operations
# leads the others and sees every board; the thresholds behind "stale" are theirs.
_CS_BOARD = "orders.view_customerserviceboard"
_WAREHOUSE_BOARD = "orders.view_warehouseboard"
_OPERATIONS_BOARD = "orders.view_operationsboard"
# The exception queues: every role works the reasons it owns; operations see them all.
_EXCEPTION_BOARD = "orders.view_exceptionboard"
# Finance's to-invoice list is its own model (finance.InvoiceRequest): finance works it,
# operations and the tech lead read it.
_INVOICES_SEE = ["finance.view_invoicerequest"]
_INVOICES_WORK = ["finance.change_invoicerequest"]
_HUB_SETTINGS = ["orders.view_hubsettings", "orders.change_hubsettings", "orders.view_historicalhubsettings"]

# After-sales: customer service opens returns, finance pays refunds, operations see duplicate
# refund attempts (the repeat-customer rule is an operations rule); the warehouse sees what is coming back.
_RETURNS_SEE = ["aftersales.view_returnrequest"]
_RETURNS_OPEN = ["aftersales.add_returnrequest"]
_REFUNDS_SEE = ["aftersales.view_refund", "aftersales.view_duplicaterefundattempt"]
_REFUNDS_PAY = ["aftersales.add_refund"]

# Alerts: every role sees the alerts (its own on its boards); operations acknowledge and
# resolve them and own the thresholds behind them.
_ALERTS_SEE = ["alerts.view_alert"]
_ALERTS_HANDLE = ["alerts.change_alert"]
_ALERT_RULES = [
    "alerts.view_alertkindsettings",
    "alerts.change_alertkindsettings",
    "alerts.view_historicalalertkindsettings",
    "alerts.view_stalethreshold",
    "alerts.add_stalethreshold",
    "alerts.change_stalethreshold",
    "alerts.delete_stalethreshold",
    "alerts.view_historicalstalethreshold",
    # The logistics watch: the shops' ship rules, and the watch rows to read.
    "alerts.view_shopshiprule",
    "alerts.add_shopshiprule",
    "alerts.change_shopshiprule",
    "alerts.view_historicalshopshiprule",
    "alerts.view_orderwatch",
]

# Operations rules (the rules app): operations define them; the tech lead reads them.
_OPS_RULES_SEE = ["rules.view_rule", "rules.view_ruleaction", "rules.view_rulefiring", "rules.view_historicalrule"]
_OPS_RULES_EDIT = [
    "rules.add_rule",
    "rules.change_rule",
    "rules.delete_rule",
    "rules.add_ruleaction",
    "rules.change_ruleaction",
    "rules.delete_ruleaction",
    "rules.view_historicalruleaction",
]

# Reconciliation: operations own the export mappings and read the runs; finance reads the runs.
_RECONCILIATION_SEE = ["reconciliation.view_reconciliationrun"]
_RECONCILIATION_MAPPINGS = [
    "reconciliation.view_sourcemapping",
    "reconciliation.add_sourcemapping",
    "reconciliation.change_sourcemapping",
    "reconciliation.view_historicalsourcemapping",
]

# The health KPIs: operations and the tech lead see the dashboard (kpis.view_kpidaily);
# operations own the thresholds.
_KPIS_SEE = ["kpis.view_kpidaily", "kpis.view_manualintervention", "kpis.view_kpithresholds"]
_KPI_THRESHOLDS = ["kpis.add_kpithresholds", "kpis.change_kpithresholds", "kpis.view_historicalkpithresholds"]

# Promised ship times: the daily proposals from history, accepted or dismissed by operations.
_PROMISE_PROPOSALS = ["dispatch.view_promiseproposal", "dispatch.decide_promiseproposal"]

# The open API (api app): the tech lead creates and revokes API clients and keeps the outbound
# webhooks; operations read them and the delivery log. Replaying a delivery is "change".
_API_KEEP = [
    "api.view_apiclient",
    "api.add_apiclient",
    "api.change_apiclient",
    "api.view_webhooksubscription",
    "api.add_webhooksubscription",
    "api.change_webhooksubscription",
    "api.view_webhookdelivery",
    "api.change_webhookdelivery",
]
_API_SEE = ["api.view_apiclient", "api.view_webhooksubscription", "api.view_webhookdelivery"]

# Model permissions beyond the transitions ("app_label.codename").
ROLE_MODEL_PERMISSIONS: dict[str, list[str]] = {
    Role.CUSTOMER_SERVICE: [
        *_SEE_ORDERS,
        *_ALERTS_SEE,
        _CS_BOARD,
        _EXCEPTION_BOARD,
        "orders.add_order",
        "orders.change_order",
        _SPLIT,
        *_RETURNS_SEE,
        *_RETURNS_OPEN,
        "aftersales.view_refund",
    ],
    Role.WAREHOUSE: [
        *_SEE_ORDERS,
        *_ALERTS_SEE,
        _WAREHOUSE_BOARD,
        _EXCEPTION_BOARD,
        "integrations.view_trackingrecord",
        *_RETURNS_SEE,
        *_UPLOAD_FILES,
    ],
    Role.FINANCE: [
        *_SEE_ORDERS,
        *_ALERTS_SEE,
        _EXCEPTION_BOARD,
        *_INVOICES_SEE,
        *_INVOICES_WORK,
        *_RETURNS_SEE,
        *_REFUNDS_SEE,
        *_REFUNDS_PAY,
        *_RECONCILIATION_SEE,
    ],
    Role.OPERATIONS: [
        *_SEE_ORDERS,
        *_ALERTS_SEE,
        *_ALERTS_HANDLE,
        *_ALERT_RULES,
        _CS_BOARD,
        _WAREHOUSE_BOARD,
        _OPERATIONS_BOARD,
        _EXCEPTION_BOARD,
        *_INVOICES_SEE,
        *_HUB_SETTINGS,
        *_RETURNS_SEE,
        *_RETURNS_OPEN,
        *_REFUNDS_SEE,
        "orders.add_order",
        "orders.change_order",
        _SPLIT,
        "orders.add_warehouse",
        "orders.change_warehouse",
        *_PROMISE_PROPOSALS,
        *_BRANDS_MANAGE,
        *_OUTBOX,
        *_ROBOTS,
        "notifications.view_notification",
        "notifications.view_chatdelivery",
        *_INTEGRATIONS,
        *_UPLOAD_FILES,
        *_KPIS_SEE,
        *_KPI_THRESHOLDS,
        *_RECONCILIATION_SEE,
        *_RECONCILIATION_MAPPINGS,
        *_OPS_RULES_SEE,
        *_OPS_RULES_EDIT,
        *_API_SEE,
    ],
    Role.TECH_LEAD: [
        *_SEE_ORDERS,
        *_ALERTS_SEE,
        *_ALERTS_HANDLE,
        *_INVOICES_SEE,
        *_RETURNS_SEE,
        *_REFUNDS_SEE,
        *_OUTBOX,
        *_ROBOTS,
        *_INTEGRATIONS,
        *_BRANDS_SEE,
        "notifications.view_chatdelivery",
        *_KPIS_SEE,
        *_OPS_RULES_SEE,
        *_API_KEEP,
    ],
}


def role_permissions(role: str) -> list[str]:
    """Every permission ("app_label.codename") the role's group holds."""
    transitions = [f"orders.{t.permission_codename}" for t in TRANSITIONS if role in t.roles]
    return sorted({*ROLE_MODEL_PERMISSIONS.get(role, []), *transitions})


def role_matrix_markdown() -> str:
    """The role × action table of the README, generated from TRANSITIONS."""
    roles = [*HUMAN_ROLES, Role.SYSTEM]
    header = "| action | from → to | " + " | ".join(f"{r.label} ({r.value})" for r in roles) + " |"
    lines = [header, "|" + "---|" * (len(roles) + 2)]
    for t in TRANSITIONS:
        cells = " | ".join("✓" if r in t.roles else "" for r in roles)
        lines.append(f"| `{t.action}` {t.label} | {', '.join(t.sources)} → {t.target} | {cells} |")
    return "\n".join(lines)
