"""API clients: created with a token shown once, found by it, revoked.

    api_client_create(name=..., role=..., brands=..., actor=...) -> (ApiClient, token)
    api_client_authenticate(token=...) -> ApiClient | None
    api_client_revoke(client_id=..., actor=...) -> ApiClient

A token is `ohk_<prefix>_<secret>`: the prefix (public, unique) finds the row, the SHA-256 of
the whole token is compared in constant time. A random 32-byte secret needs no slow hash: it
cannot be guessed, and SHA-256 makes a leaked table useless. The client acts as a service
user of its own, in its role's group, so the role × action rules and the timeline's actor are
the people's, unchanged."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.exceptions import InvalidActionData
from orders.models import Brand
from orders.states import HUMAN_ROLES, SERVICE_ACCOUNTS_GROUP, Role

from ..models import ApiClient

TOKEN_PREFIX = "ohk"
# last_used_at is written at most this often per client: not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _token_new() -> tuple[str, str]:
    prefix = secrets.token_hex(4)
    return prefix, f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def api_client_create(
    *, name: str, role: str, brands: Iterable[Brand] = (), rate_limit_per_minute: int = 600, actor
) -> tuple[ApiClient, str]:
    """A new client and its token (returned once, never stored). Its service user is in the
    role's group, active, with no password (it cannot log in to the admin)."""
    name = (name or "").strip()
    brands = list(brands)
    if not name:
        raise InvalidActionData(_("An API client needs a name."))
    if role not in {r.value for r in HUMAN_ROLES}:
        raise InvalidActionData(_("“%(role)s” is not a role an API client can have.") % {"role": role})
    if role == Role.CUSTOMER_SERVICE and not brands:
        raise InvalidActionData(_("A customer-service client works for chosen brands: pick at least one."))
    if ApiClient.objects.filter(name=name).exists():
        raise InvalidActionData(_("There is an API client called “%(name)s” already.") % {"name": name})
    group = Group.objects.filter(name=role).first()
    if group is None:
        raise InvalidActionData(_("The role groups are missing: run `manage.py setup_roles` first."))
    prefix, token = _token_new()
    with transaction.atomic():
        user = get_user_model().objects.create(
            username=f"api-{prefix}", first_name=name[:150], is_staff=False, is_active=True
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        service_accounts, _created = Group.objects.get_or_create(name=SERVICE_ACCOUNTS_GROUP)
        user.groups.add(group, service_accounts)
        client = ApiClient.objects.create(
            name=name,
            role=role,
            service_user=user,
            token_prefix=prefix,
            token_hash=token_hash(token),
            rate_limit_per_minute=rate_limit_per_minute,
            created_by=actor,
        )
        client.brands.set(brands)
    return client, token


def api_client_authenticate(*, token: str) -> ApiClient | None:
    """The active client this token belongs to, or None (unknown, malformed or revoked)."""
    parts = (token or "").strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    client = (
        ApiClient.objects.select_related("service_user")
        .filter(token_prefix=parts[1], revoked_at__isnull=True, service_user__is_active=True)
        .first()
    )
    if client is None or not hmac.compare_digest(client.token_hash, token_hash(token.strip())):
        return None
    return client


def api_client_touch(client: ApiClient, *, now=None) -> None:
    """Record that the client was used, at most once per LAST_USED_RESOLUTION."""
    now = now or timezone.now()
    if client.last_used_at is not None and now - client.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
    client.last_used_at = now


def api_client_revoke(*, client_id: int, actor) -> ApiClient:
    """Revoke the token at once (the next call answers 401) and deactivate the service user.
    The client and its user stay: the timeline names them."""
    with transaction.atomic():
        client = ApiClient.objects.select_for_update().select_related("service_user").get(pk=client_id)
        if client.revoked_at is not None:
            return client
        client.revoked_at = timezone.now()
        client.revoked_by = actor
        client.save(update_fields=["revoked_at", "revoked_by"])
        user = client.service_user
        user.is_active = False
        user.save(update_fields=["is_active"])
    return client
