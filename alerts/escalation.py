"""Escalation: an alert nobody acknowledged within its kind's escalation time goes to the
operations lead's chat robots, once.

- To the robots chosen on the kind's settings (AlertKindSettings.robots, enabled ones). A kind
  with no robot configured sends nothing (it is not sprayed to every group, which would put an
  operations matter into customer-service or warehouse chats): the alert is still marked
  escalated so it is not looked at again every minute, and a warning is logged.
- Exactly once: candidates are read from the partial index alert_escalation_due_idx, then each
  alert is locked on its own (SKIP LOCKED: a second beat run passes over it), re-checked, sent
  and marked `escalated_at` in that one transaction. The robots are called directly (an alert
  about an integration has no order event for an outbox row to hang on). When every robot
  answers "retry later" nothing is marked and the next run (every minute) tries again; when at
  least one got it, the others' failures are logged and not retried.
- No buyer personal data: the message holds the kind, severity, order number (or the
  integration), how long it has been open and the path of the order's timeline. The title is
  passed through mask_personal_data with the buyer's and recipient's details as a second line
  of defence.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.timesince import timesince

from integrations.chat.base import ChatGiveUp, ChatRetryLater, RobotConfig, chat_send
from notifications.models import ChatRobot
from notifications.privacy import mask_personal_data

from .models import Alert, AlertKindSettings, AlertStatus

logger = logging.getLogger(__name__)


def _personal_values(order) -> tuple[str, ...]:
    if order is None:
        return ()
    return (
        order.buyer_email,
        order.buyer_phone,
        order.recipient_name,
        order.recipient_phone,
        order.ship_address,
    )


def alert_escalation_text(alert: Alert, *, now: datetime) -> tuple[str, str]:
    """Title and Markdown body for the chat group, in the hub's language."""
    with translation.override(settings.LANGUAGE_CODE):
        subject = alert.order.number if alert.order_id else alert.integration
        title = f"⚠ {alert.get_kind_display()} · {subject}"
        lines = [
            f"**{title}**",
            f"{alert.get_severity_display()} · {alert.get_assigned_role_display() or '—'}",
            str(alert.title),
            f"{timesince(alert.opened_at, now)} · {alert.seen_count}×",
        ]
        if alert.order_id:
            lines.append(reverse("orders:timeline", args=[alert.order.number]))
    also = _personal_values(alert.order if alert.order_id else None)
    return _masked(title, also), _masked("\n\n".join(lines), also)


def _masked(text: str, also: tuple[str, ...]) -> str:
    # Chinese names are often two characters, shorter than mask_personal_data's own minimum.
    for value in also:
        if value and len(value) >= 2:
            text = text.replace(value, "***")
    return mask_personal_data(text, also=also)


def _robots_by_kind() -> dict[str, list[ChatRobot]]:
    rows = AlertKindSettings.objects.prefetch_related("robots")
    return {row.kind: [robot for robot in row.robots.all() if robot.enabled] for row in rows}


def alerts_escalate_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Send every due, unacknowledged alert to its kind's robots. Returns how many alerts were
    marked escalated."""
    now = now or timezone.now()
    due = list(
        Alert.objects.filter(status=AlertStatus.OPEN, escalated_at__isnull=True, escalate_at__lte=now)
        .order_by("escalate_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not due:
        return 0
    robots = _robots_by_kind()
    escalated = 0
    for alert_id in due:
        with transaction.atomic():
            alert = (
                Alert.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("order")
                .filter(pk=alert_id, status=AlertStatus.OPEN, escalated_at__isnull=True, escalate_at__lte=now)
                .first()
            )
            if alert is None:  # acknowledged, resolved or being escalated meanwhile
                continue
            if _escalate(alert, robots.get(alert.kind, []), now=now):
                alert.escalated_at = now
                alert.save(update_fields=["escalated_at"])
                escalated += 1
    return escalated


def _escalate(alert: Alert, robots: list[ChatRobot], *, now: datetime) -> bool:
    """True when the alert counts as escalated (someone got it, or nobody ever can)."""
    if not robots:
        logger.warning(
            "alerts: alert %s (%s) is due for escalation but its kind has no chat robot", alert.pk, alert.kind
        )
        return True
    title, text = alert_escalation_text(alert, now=now)
    sent = later = 0
    for robot in robots:
        config = RobotConfig(kind=robot.kind, url=robot.webhook_url, secret=robot.secret)
        try:
            chat_send(config, title=title, text=text)
        except ChatRetryLater as exc:
            later += 1
            logger.warning("alerts: escalation of alert %s to %s: retry later (%s)", alert.pk, robot.name, exc.message)
        except ChatGiveUp as exc:
            logger.error("alerts: escalation of alert %s to %s refused: %s", alert.pk, robot.name, exc.message)
        else:
            sent += 1
    return sent > 0 or later == 0
