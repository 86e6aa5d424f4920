"""Outbound webhooks: the events of the chosen types, POSTed to the subscribers' URLs, signed,
through the outbox (so a delivery is written with its event and retried until it lands).

    webhook_subscriptions(event_type) -> [(None, key, "webhook_deliver", params)]   # outbox source
    webhook_deliver(message) -> str                        # the reaction: one POST, one log row
    webhook_deliver_batch(messages) -> [str | exception]   # many, their POSTs in parallel
    webhook_delivery_replay(delivery_id=..., actor=...)    # send an event again (admin button)
    webhook_signature(secret=..., timestamp=..., body=...) # what the receiver recomputes

The request (docs/api.md has a verification example):

    POST <subscription URL>
    Content-Type: application/json
    X-OrderHub-Event: <event type>            e.g. pack
    X-OrderHub-Delivery: <delivery id>        the same on every retry of one delivery
    X-OrderHub-Timestamp: <Unix seconds>      when this attempt was signed
    X-OrderHub-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>

The timestamp is signed with the body, so a captured request cannot be sent again later
with a fresh timestamp; receivers refuse timestamps more than five minutes away. Any 2xx
answer is a delivery; anything else (a timeout, a refused connection, 429, 5xx and 4xx alike:
a receiver that is misconfigured today is fixed tomorrow) is retried with back-off for
WEBHOOK_MAX_ATTEMPTS attempts, more than an hour and a quarter (docs/api.md), then failed with
an alert to the tech lead, and can be replayed from the admin.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from orders.models import OrderEvent, Shop
from orders.outbox.kinds import ReactionKind, ReactionRetryLater
from orders.outbox.services import outbox_enqueue_once, outbox_subscriptions_cache_clear
from orders.states import STATE_MAP

from ..models import WebhookDelivery, WebhookSubscription

WEBHOOK_DELIVER = "webhook_deliver"
# 24 attempts: back-off doubling from 2 s to the 600 s cap with jitter (a wait is between half
# and all of it) spans 78 minutes at the least, 2.6 hours at the most. See docs/api.md.
WEBHOOK_MAX_ATTEMPTS = 24
RESPONSE_EXCERPT_CHARS = 500
SIGNATURE_VERSION = "sha256"
USER_AGENT = "OrderHub-Webhooks/1"
# Every event type a subscription may name to get all of them.
ALL_EVENTS = "*"


class WebhookAttemptFailed(ReactionRetryLater):
    """One attempt that did not land, with what the log keeps of it."""

    def __init__(self, text: str, *, status_code: int | None, duration_ms: int, excerpt: str, subscription_id: int):
        super().__init__(text)
        self.status_code = status_code
        self.duration_ms = duration_ms
        self.excerpt = excerpt
        self.subscription_id = subscription_id


def webhook_subscriptions(event_type: str) -> list[tuple]:
    """The outbox's subscription source: one delivery per active subscription of this event
    type. The brand filter needs the order, so it is applied when the delivery runs."""
    found = []
    for pk, types in WebhookSubscription.objects.filter(is_active=True).values_list("pk", "event_types"):
        if isinstance(types, list) and (event_type in types or ALL_EVENTS in types):
            found.append((None, f"webhook:{pk}", WEBHOOK_DELIVER, {"subscription": pk}))
    return found


def webhook_subscriptions_changed(*args, **kwargs) -> None:
    """Signal receiver: a subscription saved or removed applies to the next event at once."""
    outbox_subscriptions_cache_clear()
    _targets.clear()


def webhook_signature(*, secret: str, timestamp: int | str, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def webhook_payload(event: OrderEvent, *, shop_code: str, brand_code: str) -> dict:
    """What a subscriber gets: the event as it happened (its state and version then, not now),
    and which order. No buyer contact data: a receiver that needs more reads the order through
    the API, with its own token's visibility."""
    order = event.order
    main_status = str(STATE_MAP[event.to_state][0]) if event.to_state in STATE_MAP else ""
    return {
        "event_id": event.pk,
        "type": event.action,
        "occurred_at": event.occurred_at.isoformat(),
        "from_state": event.from_state,
        "to_state": event.to_state,
        "main_status": main_status,
        "order_version": event.order_version,
        "actor": {"name": event.actor_name, "role": event.actor_role},
        "order": {
            "id": order.pk,
            "number": order.number,
            "channel": order.channel,
            "external_id": order.external_id,
            "shop": shop_code,
            "brand": brand_code,
        },
    }


def webhook_body(event: OrderEvent, *, shop_code: str, brand_code: str) -> bytes:
    payload = webhook_payload(event, shop_code=shop_code, brand_code=brand_code)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def webhook_headers(*, event_type: str, delivery_id: str, secret: str, body: bytes, timestamp: int | None = None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-OrderHub-Event": event_type,
        "X-OrderHub-Delivery": delivery_id,
        "X-OrderHub-Timestamp": str(timestamp),
        "X-OrderHub-Signature": webhook_signature(secret=secret, timestamp=timestamp, body=body),
    }


_sessions = threading.local()


def _session() -> requests.Session:
    # One keep-alive session per worker thread: a receiver gets a connection reused, not a new
    # TCP (and TLS) handshake per event.
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
    return session


@dataclass(frozen=True)
class _Target:
    pk: int
    name: str
    url: str
    secret: str
    is_active: bool
    brand_ids: frozenset[int]


# Per process, for ORDERHUB_RULES_CACHE_SECONDS, like the subscriptions themselves: a delivery
# runs for every event, a subscription changes a few times a month. Saving one clears the
# cache in this process at once (webhook_subscriptions_changed); other processes see it within
# the TTL.
_targets: dict[int, tuple[float, _Target | None]] = {}
_shops: dict[int, tuple[float, tuple[str, int, str]]] = {}


def _cached(cache: dict, key: int, load):
    ttl = settings.ORDERHUB_RULES_CACHE_SECONDS
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and now - hit[0] < ttl:
        return hit[1]
    value = load()
    if ttl > 0:
        cache[key] = (now, value)
    return value


def _target(subscription_id: int) -> _Target | None:
    def load():
        subscription = WebhookSubscription.objects.filter(pk=subscription_id).prefetch_related("brands").first()
        if subscription is None:
            return None
        return _Target(
            pk=subscription.pk,
            name=subscription.name,
            url=subscription.url,
            secret=subscription.secret,
            is_active=subscription.is_active,
            brand_ids=frozenset(b.pk for b in subscription.brands.all()),
        )

    return _cached(_targets, subscription_id, load)


def _shop(shop_id: int) -> tuple[str, int, str]:
    """(shop code, brand id, brand code): codes are not renamed, shops do not change brand."""

    def load():
        shop = Shop.objects.select_related("brand").get(pk=shop_id)
        return shop.code, shop.brand_id, shop.brand.code

    return _cached(_shops, shop_id, load)


@dataclass(frozen=True)
class _Post:
    """One delivery ready to send: where, what, and the log row's keys."""

    message: object
    subscription: _Target
    body: bytes
    headers: dict


@dataclass(frozen=True)
class _Answer:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int


def _subscription_id(message) -> int | None:
    subscription_id = (message.params or {}).get("subscription")
    return subscription_id if isinstance(subscription_id, int) else None


def _log_row(message, *, subscription_id: int, ok: bool, status_code, duration_ms: int, excerpt: str, error=""):
    """The delivery log's row for this attempt of a message."""
    return WebhookDelivery(
        subscription_id=subscription_id,
        event_id=message.event_id,
        outbox_message_id=message.pk,
        delivery_id=message.idempotency_key,
        attempt=message.attempts,
        ok=ok,
        status_code=status_code,
        duration_ms=duration_ms,
        error=error[:300],
        response_excerpt=excerpt,
    )


def _post_prepare(message) -> _Post | str:
    """The signed request of one delivery, or why it is not sent (the result text)."""
    subscription_id = _subscription_id(message)
    subscription = _target(subscription_id) if subscription_id is not None else None
    if subscription is None or not subscription.is_active:
        return f"subscription {subscription_id} is inactive or gone: not sent"
    event = message.event
    shop_code, brand_id, brand_code = _shop(event.order.shop_id)
    if subscription.brand_ids and brand_id not in subscription.brand_ids:
        return f"{subscription.name}: brand not subscribed, not sent"
    body = webhook_body(event, shop_code=shop_code, brand_code=brand_code)
    headers = webhook_headers(
        event_type=event.action, delivery_id=message.idempotency_key, secret=subscription.secret, body=body
    )
    return _Post(message=message, subscription=subscription, body=body, headers=headers)


def _post_send(post: _Post) -> _Answer:
    """The POST itself: no database here (it may run on a thread of the sending pool)."""
    timeout = settings.ORDERHUB_WEBHOOK_TIMEOUT
    started = time.monotonic()
    status_code = None
    excerpt = ""
    error = ""
    try:
        response = _session().post(post.subscription.url, data=post.body, headers=post.headers, timeout=timeout)
        status_code = response.status_code
        excerpt = response.text[:RESPONSE_EXCERPT_CHARS]
    except requests.Timeout:
        error = f"no answer within {timeout:g} s"
    except requests.RequestException as exc:
        error = f"connection failed ({type(exc).__name__})"
    return _Answer(status_code, excerpt, error, int((time.monotonic() - started) * 1000))


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _sending_pool() -> ThreadPoolExecutor:
    # Made on first use in the process that sends (a prefork child, not its parent).
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max(1, settings.ORDERHUB_WEBHOOK_PARALLEL), thread_name_prefix="webhook-post"
            )
        return _pool


def webhook_deliver_batch(messages) -> list:
    """The reaction for a batch of deliveries: their POSTs in parallel, each 2xx logged (one
    INSERT for all), each other answer a WebhookAttemptFailed that the outbox retries and
    `webhook_attempt_failed` logs. One outcome per message, in order (ReactionKind.run_batch)."""
    prepared = [_post_prepare(message) for message in messages]
    posts = [p for p in prepared if isinstance(p, _Post)]
    if len(posts) > 1:
        answers = dict(zip(map(id, posts), _sending_pool().map(_post_send, posts), strict=True))
    else:
        answers = {id(p): _post_send(p) for p in posts}
    outcomes: list = []
    logged = []
    for message, post in zip(messages, prepared, strict=True):
        if not isinstance(post, _Post):
            outcomes.append(post)
            continue
        answer = answers[id(post)]
        name = post.subscription.name
        if answer.status_code is not None and 200 <= answer.status_code < 300:
            logged.append(
                _log_row(
                    message,
                    subscription_id=post.subscription.pk,
                    ok=True,
                    status_code=answer.status_code,
                    duration_ms=answer.duration_ms,
                    excerpt=answer.excerpt,
                )
            )
            outcomes.append(f"{name}: HTTP {answer.status_code} in {answer.duration_ms} ms")
            continue
        outcomes.append(
            WebhookAttemptFailed(
                f"{name}: " + (answer.error or f"HTTP {answer.status_code}"),
                status_code=answer.status_code,
                duration_ms=answer.duration_ms,
                excerpt=answer.excerpt,
                subscription_id=post.subscription.pk,
            )
        )
    WebhookDelivery.objects.bulk_create(logged)
    return outcomes


def webhook_deliver(message) -> str:
    """The reaction for one delivery (a retry, a replay): POST the event once. A 2xx is logged
    and done; anything else raises WebhookAttemptFailed, which the outbox retries and which
    `webhook_attempt_failed` logs after the attempt's savepoint is rolled back."""
    (outcome,) = webhook_deliver_batch([message])
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def webhook_target_name(message) -> str:
    """The subscription a delivery is for, by name (the integration-failure alert shows it)."""
    subscription_id = _subscription_id(message)
    subscription = _target(subscription_id) if subscription_id is not None else None
    return f"subscription “{subscription.name}”" if subscription else f"subscription {subscription_id}"


def webhook_attempt_failed(message, exc: Exception) -> None:
    """The outbox's on_attempt_error hook: the failed attempt's log row, written after its
    savepoint was rolled back, with the retry or failure it leads to."""
    if not isinstance(exc, WebhookAttemptFailed):
        subscription_id = _subscription_id(message)
        if subscription_id is None or not WebhookSubscription.objects.filter(pk=subscription_id).exists():
            return
        status_code, duration_ms, excerpt = None, 0, ""
        error = f"{type(exc).__name__}: {exc}"
    else:
        subscription_id = exc.subscription_id
        status_code, duration_ms, excerpt = exc.status_code, exc.duration_ms, exc.excerpt
        error = str(exc)
    _log_row(
        message,
        subscription_id=subscription_id,
        ok=False,
        status_code=status_code,
        duration_ms=duration_ms,
        excerpt=excerpt,
        error=error,
    ).save(force_insert=True)


def webhook_delivery_replay(*, delivery_id: int, actor) -> str:
    """Send the event of this logged delivery to its subscription again, as a new outbox message
    with a fresh set of attempts (and a delivery id of its own, marked as a replay). Returns
    the new delivery id."""
    delivery = WebhookDelivery.objects.select_related("event").get(pk=delivery_id)
    with transaction.atomic(durable=True):
        key = f"webhook:{delivery.subscription_id}:replay:{timezone.now():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
        message = outbox_enqueue_once(
            delivery.event,
            key=key,
            kind=WEBHOOK_DELIVER,
            params={
                "subscription": delivery.subscription_id,
                "replay_of": delivery.pk,
                "replayed_by": actor.get_username() if actor else "system",
            },
        )
    return message.idempotency_key


# Declared on ApiConfig (orders.plugins).
REACTION_KINDS = [
    ReactionKind(
        WEBHOOK_DELIVER,
        # Lazy, so the admin shows it in the reader's language (ReactionKind says str).
        cast(str, gettext_lazy("Deliver an outbound webhook")),
        webhook_deliver,
        lambda params: params,
        integration=True,
        # Created by the subscriptions (api.WebhookSubscription), not chosen in rules.
        internal=True,
        max_attempts=WEBHOOK_MAX_ATTEMPTS,
        on_attempt_error=webhook_attempt_failed,
        run_batch=webhook_deliver_batch,
        target_name=webhook_target_name,
    ),
]
