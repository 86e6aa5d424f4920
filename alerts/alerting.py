"""Opening, touching and resolving alerts: the one place that writes Alert rows.

    alert_raise(kind=..., order_id=... or integration=..., title=..., details=...)
    alert_clear(kind=..., order_id=... or integration=..., reason=...)
    alerts_clear_except(kind=..., keep_order_ids=..., reason=...)                    # sweeps

At most one active (open or acknowledged) alert per kind and order, or per kind and
integration: raising again touches it (last seen, times seen, details), never duplicates it.
The database's partial unique constraints hold that line even when two raisers race; the
loser's insert is turned into a touch. Clearing resolves it as the system, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.exceptions import ActionNotPermitted, ConflictError, InvalidActionData, OrderError
from orders.permissions import role_of, user_display_name
from orders.states import Role

from .models import ACTIVE_ALERT_STATUSES, Alert, AlertKindSettings, AlertSeverity, AlertStatus

DEFAULT_ESCALATION_MINUTES = 30


@dataclass(frozen=True)
class KindPolicy:
    """What operations set for one kind (or the defaults while they have not)."""

    enabled: bool
    severity: str
    assigned_role: str
    escalation_minutes: int
    params: dict


def alert_policy(kind: str) -> KindPolicy:
    """The kind's settings as operations last saved them: read at each use, so an edit in the
    admin takes effect at the next sweep without a restart."""
    row = AlertKindSettings.objects.filter(kind=kind).first()
    if row is None:
        return KindPolicy(True, AlertSeverity.WARNING, "operations", DEFAULT_ESCALATION_MINUTES, {})
    return KindPolicy(row.enabled, row.severity, row.assigned_role, row.escalation_minutes, row.params or {})


def _active(kind: str, *, order_id: int | None, integration: str):
    scope = Q(order_id=order_id) if order_id is not None else Q(integration=integration, order__isnull=True)
    return Alert.objects.filter(scope, kind=kind, status__in=ACTIVE_ALERT_STATUSES)


def alert_raise(
    *,
    kind: str,
    title: str,
    order_id: int | None = None,
    integration: str = "",
    details: dict | None = None,
    now: datetime | None = None,
) -> Alert | None:
    """Open the alert, or touch the active one. None when operations switched the kind off."""
    if (order_id is None) == (not integration):
        raise ValueError("an alert is about an order or an integration, not both or neither")
    policy = alert_policy(kind)
    if not policy.enabled:
        return None
    now = now or timezone.now()
    details = details or {}
    for _attempt in range(2):
        with transaction.atomic():
            existing = _active(kind, order_id=order_id, integration=integration).select_for_update().first()
            if existing is not None:
                _touch(existing, title=title, details=details, now=now)
                return existing
            try:
                with transaction.atomic():
                    return Alert.objects.create(
                        kind=kind,
                        order_id=order_id,
                        integration=integration,
                        severity=policy.severity,
                        assigned_role=policy.assigned_role,
                        title=title[:200],
                        details=details,
                        opened_at=now,
                        last_seen_at=now,
                        escalate_at=now + timedelta(minutes=policy.escalation_minutes),
                    )
            except IntegrityError:
                # Someone opened it a moment ago: touch theirs instead (next attempt).
                continue
    raise RuntimeError("could not open or touch the alert")  # pragma: no cover - two races in a row


def _touch(alert: Alert, *, title: str, details: dict, now: datetime) -> None:
    Alert.objects.filter(pk=alert.pk).update(
        title=title[:200], details=details, last_seen_at=now, seen_count=F("seen_count") + 1
    )
    alert.refresh_from_db()


def alert_clear(*, kind: str, reason: str, order_id: int | None = None, integration: str = "", now=None) -> int:
    """The condition cleared (the order moved, the upload succeeded): resolve the active alert
    as the system, with the reason. Returns how many were resolved (0 or 1)."""
    now = now or timezone.now()
    return _active(kind, order_id=order_id, integration=integration).update(
        status=AlertStatus.RESOLVED, resolved_at=now, resolved_by=None, resolution=reason, version=F("version") + 1
    )


def alerts_clear_except(*, kind: str, keep_order_ids, reason: str, now=None) -> int:
    """For sweeps: resolve every active order alert of `kind` whose order is not among
    `keep_order_ids` (a queryset or a list of the orders still in that condition), in one
    UPDATE."""
    now = now or timezone.now()
    return (
        Alert.objects.filter(kind=kind, status__in=ACTIVE_ALERT_STATUSES, order__isnull=False)
        .exclude(order_id__in=keep_order_ids)
        .update(
            status=AlertStatus.RESOLVED,
            resolved_at=now,
            resolved_by=None,
            resolution=reason,
            version=F("version") + 1,
        )
    )


# --- People acknowledge and resolve -------------------------------------------------------------

ALERT_CHANGE_PERMISSION = "alerts.change_alert"


class AlertNotFound(OrderError):
    def __init__(self, alert_id):
        super().__init__(_("Alert #%(id)s does not exist.") % {"id": alert_id})


class AlertNotPermitted(ActionNotPermitted):
    pass


class AlertNoteRequired(InvalidActionData):
    def __init__(self):
        super().__init__(_("Say how the alert was resolved: a note is required."))


class AlertNotActive(InvalidActionData):
    pass


class AlertStale(ConflictError):
    """Someone acknowledged or resolved the alert (or the system resolved it) after the page
    showed it."""

    def __init__(self, *, alert: Alert, expected: int):
        self.expected_version = expected
        self.actual_version = alert.version
        if alert.resolved_at is not None:
            who, when = alert.resolved_by, alert.resolved_at
        elif alert.acknowledged_at is not None:
            who, when = alert.acknowledged_by, alert.acknowledged_at
        else:
            who, when = None, alert.last_seen_at
        super().__init__(
            _(
                "Alert “%(title)s” was changed by %(who)s at %(when)s after you opened it "
                "(your version %(expected)s, now %(actual)s). Nothing was saved: reload and try again."
            )
            % {
                "title": alert.title,
                "who": user_display_name(who) if who is not None else _("the system"),
                "when": timezone.localtime(when).strftime("%Y-%m-%d %H:%M:%S"),
                "expected": expected,
                "actual": alert.version,
            }
        )


def _check_may_change(actor, action_label) -> None:
    if actor is not None and actor.is_active and actor.has_perm(ALERT_CHANGE_PERMISSION):
        return
    role = role_of(actor) if actor is not None else None
    raise AlertNotPermitted(role_label=str(Role(role).label) if role else _("no role"), action_label=action_label)


def _locked_active(alert_id: int, *, expected_version: int | None) -> Alert:
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("acknowledged_by", "resolved_by")
        .filter(pk=alert_id)
        .first()
    )
    if alert is None:
        raise AlertNotFound(alert_id)
    if expected_version is not None and int(expected_version) != alert.version:
        raise AlertStale(alert=alert, expected=int(expected_version))
    if alert.status == AlertStatus.RESOLVED:
        raise AlertNotActive(_("Alert “%(title)s” is already resolved.") % {"title": alert.title})
    return alert


def alert_acknowledge(*, alert_id: int, actor, expected_version: int | None) -> Alert:
    """“I am on it”: stops the escalation. Refused (nothing changes) without the permission,
    on a stale version, or when it is no longer open."""
    _check_may_change(actor, _("Acknowledge the alert"))
    with transaction.atomic(durable=True):
        alert = _locked_active(alert_id, expected_version=expected_version)
        if alert.status != AlertStatus.OPEN:
            raise AlertNotActive(
                _("Alert “%(title)s” was already acknowledged by %(who)s.")
                % {"title": alert.title, "who": user_display_name(alert.acknowledged_by)}
            )
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = actor
        alert.version += 1
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "version"])
    return alert


def alert_resolve(*, alert_id: int, actor, note: str, expected_version: int | None) -> Alert:
    """Resolved by a person, with a note saying how (duplicate refunds are only ever resolved
    this way). Open or acknowledged alerts; refusals change nothing."""
    _check_may_change(actor, _("Resolve the alert"))
    note = (note or "").strip()
    if not note:
        raise AlertNoteRequired()
    with transaction.atomic(durable=True):
        alert = _locked_active(alert_id, expected_version=expected_version)
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = timezone.now()
        alert.resolved_by = actor
        alert.resolution = note[:2000]
        alert.version += 1
        alert.save(update_fields=["status", "resolved_at", "resolved_by", "resolution", "version"])
    return alert


# ---------------------------------------------------------------------------------------------
# Sweeps: a whole kind at once


@dataclass(frozen=True)
class AlertRow:
    """One order found in a kind's condition by a sweep. `severity` and `escalate_at`, when
    given, are the row's own (a kind whose alerts grow worse with time: no carrier scan for
    48 h is critical and escalates then); otherwise the kind's settings decide."""

    order_id: int
    title: str
    details: dict
    severity: str = ""
    escalate_at: datetime | None = None


@dataclass(frozen=True)
class SweepCounts:
    """opened: new alerts; touched: active alerts found again (rewritten or not); resolved:
    cleared. `rewritten`, the touched alerts actually written (changed, or their last sighting
    refreshed), is for the benchmark and not part of `as_dict` (what the tasks return)."""

    opened: int = 0
    touched: int = 0
    resolved: int = 0
    rewritten: int = 0

    def as_dict(self) -> dict:
        return {"opened": self.opened, "touched": self.touched, "resolved": self.resolved}


# How stale an active sweep alert's "last seen" may get. A sweep that finds an alert again,
# unchanged, does not rewrite it (at 5 M orders rewriting every active alert each minute cost
# 11 s a run): last_seen_at is brought up to date, and seen_count counted up, only when the
# title, the details or the row's own severity changed, or when last_seen_at is older than this.
# So for a sweep's alert last_seen_at is "seen at or after this, and still true now" (an active
# alert is one the latest sweep found: otherwise it resolved it), and seen_count counts the
# recorded sightings: the opening, each change, at most one more per LAST_SEEN_EVERY.
# alert_raise (one alert at a time, not a sweep) still touches at every call.
LAST_SEEN_EVERY = timedelta(minutes=10)

_ACTIVE_SQL = "status IN ('open', 'acknowledged') AND order_id IS NOT NULL"


def alerts_sync(
    *,
    kind: str,
    rows: list[AlertRow],
    reason: str,
    reason_by_state: dict[str, str] | None = None,
    only_if_moved: bool = False,
    rows_own_severity: bool = False,
    now: datetime,
) -> SweepCounts:
    """Make the active order alerts of `kind` match `rows`, the orders a sweep found in the
    condition, in three set-based statements: open the new ones and update the ones already
    active whose content changed (title, details; last seen, times seen) in one upsert against the partial unique
    index `alert_one_active_per_kind_order`; then resolve, as the system, every other active
    alert of the kind. Its reason: `reason_by_state[the order's state now]` when there is one
    (with `only_if_moved`: and the order changed state after the alert opened), else `reason`
    (the condition cleared in place: a threshold was raised, the window slid past).

    Run again with the same rows it opens nothing and resolves nothing; it counts the active
    alerts as touched but rewrites only those whose title or details changed, or whose last
    sighting is older than LAST_SEEN_EVERY (see there). A kind operations switched off opens nothing, and its
    active order alerts are resolved (nobody would ever update them again)."""
    from django.db import connection
    from django.utils.translation import gettext

    policy = alert_policy(kind)
    if not policy.enabled:
        rows = []
        reason, reason_by_state = gettext("Operations switched this alert kind off."), None
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # One sweep of a kind at a time (beat and a manual run, say).
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"alerts_sync:{kind}"])
            opened, touched, rewritten = _upsert_postgresql(
                kind=kind, rows=rows, policy=policy, now=now, rows_own_severity=rows_own_severity
            )
        else:
            opened, touched, rewritten = _upsert_portable(
                kind=kind, rows=rows, policy=policy, now=now, rows_own_severity=rows_own_severity
            )
        resolved = _resolve_others(
            kind=kind,
            keep=[row.order_id for row in rows],
            reason=reason,
            reason_by_state=reason_by_state,
            only_if_moved=only_if_moved,
            now=now,
        )
    return SweepCounts(opened=opened, touched=touched, resolved=resolved, rewritten=rewritten)


def _upsert_postgresql(
    *, kind: str, rows: list[AlertRow], policy: KindPolicy, now: datetime, rows_own_severity: bool = False
) -> tuple[int, int, int]:
    import json

    from django.db import connection

    if not rows:
        return 0, 0, 0
    payload = json.dumps(
        [
            {
                "order_id": r.order_id,
                "title": r.title[:200],
                "details": r.details,
                "severity": r.severity or None,
                "escalate_at": r.escalate_at.isoformat() if r.escalate_at else None,
            }
            for r in rows
        ],
        default=str,
    )

    # A repeat rewrites only what changed: the title, the details (jsonb compares by value), the
    # rows' own severity and escalation time, or a last sighting older than LAST_SEEN_EVERY. The
    # pre-filter (`todo`) skips the unchanged alerts without even locking them (an ON CONFLICT …
    # DO UPDATE … WHERE still locks every conflicting row); the WHERE on the update repeats the
    # test for an alert opened by someone else between the two.
    def changed(alert: str, row: str) -> str:
        tests = [
            f"{alert}.title IS DISTINCT FROM {row}.title",
            f"{alert}.details IS DISTINCT FROM {row}.details",
            f"{alert}.last_seen_at < %(seen_before)s",
        ]
        if rows_own_severity:
            tests += [
                f"{alert}.severity IS DISTINCT FROM {row}.severity",
                f"({alert}.escalated_at IS NULL AND {alert}.escalate_at IS DISTINCT FROM {row}.escalate_at)",
            ]
        return "(" + " OR ".join(tests) + ")"

    own = ""
    if rows_own_severity:
        own = """,
                          severity = EXCLUDED.severity,
                          escalate_at = CASE WHEN alerts_alert.escalated_at IS NULL THEN EXCLUDED.escalate_at
                                             ELSE alerts_alert.escalate_at END"""
    sql = f"""
        WITH r AS (
            SELECT r.order_id, r.title, r.details, COALESCE(r.severity, %(severity)s) AS severity,
                   COALESCE(r.escalate_at, %(escalate_at)s) AS escalate_at
            FROM jsonb_to_recordset(%(payload)s::jsonb)
                 AS r(order_id bigint, title text, details jsonb, severity text, escalate_at timestamptz)
        ), todo AS (
            SELECT r.* FROM r
            LEFT JOIN alerts_alert a ON a.kind = %(kind)s AND a.order_id = r.order_id
                 AND a.status IN ('open', 'acknowledged')
            WHERE a.id IS NULL OR {changed("a", "r")}
        ), up AS (
            INSERT INTO alerts_alert (kind, order_id, integration, severity, status, assigned_role, title, details,
                                      opened_at, last_seen_at, seen_count, escalate_at, version, resolution)
            SELECT %(kind)s, r.order_id, '', r.severity, 'open', %(role)s, r.title, r.details, %(now)s, %(now)s, 1,
                   r.escalate_at, 1, ''
            FROM todo r
            ORDER BY r.order_id
            ON CONFLICT (kind, order_id) WHERE {_ACTIVE_SQL}
            DO UPDATE SET last_seen_at = GREATEST(alerts_alert.last_seen_at, EXCLUDED.last_seen_at),
                          seen_count = alerts_alert.seen_count + 1,
                          title = EXCLUDED.title,
                          details = EXCLUDED.details{own}
            WHERE {changed("alerts_alert", "EXCLUDED")}
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
    """
    params = {
        "kind": kind,
        "severity": policy.severity,
        "role": policy.assigned_role,
        "now": now,
        "seen_before": now - LAST_SEEN_EVERY,
        "escalate_at": now + timedelta(minutes=policy.escalation_minutes),
        "payload": payload,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        opened, rewritten = cursor.fetchone()
    # Touched: found again, still active (rewritten or not).
    return opened, len(rows) - opened, rewritten


def _upsert_portable(
    *, kind: str, rows: list[AlertRow], policy: KindPolicy, now: datetime, rows_own_severity: bool = False
) -> tuple[int, int, int]:
    """SQLite (the embedded mode): the same effect in a few ORM statements."""
    active = set(
        Alert.objects.filter(kind=kind, status__in=ACTIVE_ALERT_STATUSES, order__isnull=False).values_list(
            "order_id", flat=True
        )
    )
    new = [row for row in rows if row.order_id not in active]
    Alert.objects.bulk_create(
        [
            Alert(
                kind=kind,
                order_id=row.order_id,
                severity=row.severity or policy.severity,
                assigned_role=policy.assigned_role,
                title=row.title[:200],
                details=row.details,
                opened_at=now,
                last_seen_at=now,
                escalate_at=row.escalate_at or now + timedelta(minutes=policy.escalation_minutes),
            )
            for row in new
        ],
        batch_size=500,
    )
    # Found again: rewritten only when something changed (title, details, with rows_own_severity
    # the rows' severity and escalation time) or the last sighting is older than LAST_SEEN_EVERY,
    # as the PostgreSQL upsert does.
    by_order = {row.order_id: row for row in rows if row.order_id in active}
    seen = list(by_order)
    fields = ["last_seen_at", "seen_count", "title", "details"]
    if rows_own_severity:
        fields += ["severity", "escalate_at"]
    rewritten = 0
    for start in range(0, len(seen), 500):
        alerts = list(
            Alert.objects.filter(kind=kind, status__in=ACTIVE_ALERT_STATUSES, order_id__in=seen[start : start + 500])
        )
        changed = []
        for alert in alerts:
            row = by_order[alert.order_id]
            before = (alert.title, alert.details, alert.severity, alert.escalate_at)
            alert.title, alert.details = row.title[:200], row.details
            if rows_own_severity:
                alert.severity = row.severity or policy.severity
                if alert.escalated_at is None and row.escalate_at is not None:
                    alert.escalate_at = row.escalate_at
            if before == (alert.title, alert.details, alert.severity, alert.escalate_at) and (
                alert.last_seen_at >= now - LAST_SEEN_EVERY
            ):
                continue
            alert.last_seen_at = max(alert.last_seen_at, now)
            alert.seen_count += 1
            changed.append(alert)
        Alert.objects.bulk_update(changed, fields)
        rewritten += len(changed)
    return len(new), len(seen), rewritten


def _resolve_others(
    *,
    kind: str,
    keep: list[int],
    reason: str,
    reason_by_state: dict[str, str] | None,
    only_if_moved: bool,
    now: datetime,
) -> int:
    import json

    from django.db import connection

    params: list = []
    moved_sql = "NULL"
    if reason_by_state:
        whens = []
        for state, text in reason_by_state.items():
            whens.append("WHEN %s THEN %s")
            params += [state, text]
        by_state = "CASE o.state " + " ".join(whens) + " END"
        if only_if_moved:
            by_state = f"CASE WHEN o.state_changed_at > alerts_alert.opened_at THEN {by_state} END"
        moved_sql = f"(SELECT {by_state} FROM orders_order o WHERE o.id = alerts_alert.order_id)"
    if connection.vendor == "postgresql":
        # A hashed subplan: one probe per active alert, not a scan of the list.
        keep_sql, keep_param = "order_id NOT IN (SELECT unnest(%s::bigint[]))", list(keep)
    else:
        keep_sql, keep_param = "order_id NOT IN (SELECT value FROM json_each(%s))", json.dumps(list(keep))
    sql = f"""
        UPDATE alerts_alert
        SET status = 'resolved', resolved_at = %s, resolved_by_id = NULL, version = version + 1,
            resolution = COALESCE({moved_sql}, %s)
        WHERE kind = %s AND {_ACTIVE_SQL} AND {keep_sql}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), *params, reason, kind, keep_param])
        return cursor.rowcount
