"""Saving the thresholds operations own (HubSettings)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from ..models import HubSettings
from ..selectors import hub_settings_cache_clear
from .conflicts import orders_contested_refresh

CONFLICT_FIELDS = frozenset({"conflict_role_count", "conflict_window_hours"})


def hub_settings_save(settings_row: HubSettings, *, changed: Iterable[str]) -> None:
    """Save the row (its history records who changed what); when the thresholds of "changed by
    many roles" are among the `changed` fields, work every order's contested flag out again
    once the new values are committed, so the board and the sweep follow them at once."""
    settings_row.save()
    # This process reads its new values at once; the others within ORDERHUB_RULES_CACHE_SECONDS.
    hub_settings_cache_clear()
    if CONFLICT_FIELDS & set(changed):
        transaction.on_commit(orders_contested_refresh)
