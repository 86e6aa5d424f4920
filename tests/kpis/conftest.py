from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone


@pytest.fixture
def now():
    """A fixed local noon: windows and local days are known."""
    return timezone.make_aware(datetime(2026, 3, 10, 12, 0), timezone.get_current_timezone())


@pytest.fixture
def make_run():
    from reconciliation.models import ReconciliationRun

    def make(source, compared, matched, *, finished_at, error=""):
        return ReconciliationRun.objects.create(
            source=source,
            file_name=f"{source}.csv",
            file_sha256="0" * 64,
            started_at=finished_at - timedelta(minutes=1),
            finished_at=finished_at,
            orders_compared=compared,
            status_compared=compared,
            status_matched=matched,
            error=error,
        )

    return make


@pytest.fixture
def make_notification(users):
    """A notification about `event` to `recipient`, acted on `acted_after` seconds after the event."""
    from notifications.models import Notification

    def make(event, recipient, role, *, event_at, acted_after=None, delivered_after=1.0):
        return Notification.objects.create(
            recipient=users[recipient],
            recipient_role=role,
            order=event.order,
            event=event,
            text="t",
            event_at=event_at,
            created_at=event_at + timedelta(seconds=delivered_after),
            acted_at=None if acted_after is None else event_at + timedelta(seconds=acted_after),
        )

    return make
