"""Reaction kinds of the notifications app: tell people (in-app, email) and chat groups."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations.chat.base import ChatGiveUp, ChatRetryLater, RobotConfig, chat_send
from orders.outbox.kinds import ReactionFailed, ReactionKind, ReactionRetryLater
from orders.outbox.services import outbox_batch_memo, outbox_child_create

from .models import ChatDelivery, ChatRobot
from .services import chat_text, notification_recipients, notification_text, notifications_create

_NOTIFY_KEYS = {"cs_owner", "role", "users", "robots", "email", "message"}


def _notify_params(params: dict) -> dict:
    """{"cs_owner": bool, "role": str, "users": [ids], "robots": [ids], "email": bool,
    "message": str}: whom to tell, as a rule's notify action names them."""
    unknown = set(params) - _NOTIFY_KEYS
    if unknown:
        raise ValidationError(_("Unknown parameters: %(keys)s.") % {"keys": ", ".join(sorted(unknown))})
    for key in ("cs_owner", "email"):
        if key in params and not isinstance(params[key], bool):
            raise ValidationError(_("“%(key)s” must be true or false.") % {"key": key})
    for key in ("users", "robots"):
        if key in params and not (
            isinstance(params[key], list) and all(isinstance(i, int) and not isinstance(i, bool) for i in params[key])
        ):
            raise ValidationError(_("“%(key)s” must be a list of ids.") % {"key": key})
    return params


def notify(message) -> str:
    """In-app notifications now; one follow-up message per chat robot and per email, so a
    robot that is down delays only itself and nobody is told twice. Whom to tell is in the
    message's parameters, written from the rule's notify action with the event."""
    params = message.params or {}
    event = message.event
    order = event.order
    cs_owner = bool(params.get("cs_owner"))
    role = params.get("role") or ""
    user_ids = tuple(params.get("users") or ())
    # Whom a rule names depends on the shop (brand visibility), the owner and the actor only:
    # a batch of notices asks the database once per combination.
    key = (order.shop_id, order.cs_owner_id if cs_owner else None, role, user_ids, event.actor_id)
    recipients = outbox_batch_memo("notify.recipients")
    users = recipients.get(key)
    if users is None:
        users = recipients[key] = notification_recipients(
            order=order, actor_id=event.actor_id, cs_owner=cs_owner, role=role, user_ids=user_ids
        )
    notified = notifications_create(message=message, users=users, extra=params.get("message") or "")
    robot_ids = params.get("robots") or ()
    robots = list(ChatRobot.objects.filter(pk__in=robot_ids, enabled=True).order_by("pk")) if robot_ids else []
    if robots:
        title, text = chat_text(event)
        for robot in robots:
            outbox_child_create(
                message,
                kind="chat_send",
                params={"robot_id": robot.pk, "title": title, "text": text},
                key=f"robot:{robot.pk}",
            )
    emails = 0
    if params.get("email"):
        for user in users:
            if user.email:
                outbox_child_create(message, kind="email_send", params={"user_id": user.pk}, key=f"email:{user.pk}")
                emails += 1
    if not (notified or robots or emails):
        return "no recipient: the rule names nobody active for this order"
    return f"{notified} notified in-app, {len(robots)} chat messages and {emails} emails queued"


def send_to_robot(message) -> str:
    robot = ChatRobot.objects.filter(pk=message.params.get("robot_id")).first()
    if robot is None:
        raise ReactionFailed("the chat robot was removed")
    if not robot.enabled:
        return f"not sent: robot “{robot.name}” is disabled"
    config = RobotConfig(kind=robot.kind, url=robot.webhook_url, secret=robot.secret)
    try:
        chat_send(config, title=message.params["title"], text=message.params["text"])
    except ChatRetryLater as exc:
        raise ReactionRetryLater(f"{robot.name}: {exc.message}") from None
    except ChatGiveUp as exc:
        raise ReactionFailed(f"{robot.name}: {exc.message}") from None
    ChatDelivery.objects.create(robot=robot, outbox_message=message, text=message.params["text"])
    return f"sent to {robot.name}"


def send_email(message) -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=message.params.get("user_id"), is_active=True).first()
    if user is None or not user.email:
        return "not sent: the user is gone, inactive or has no email"
    text = notification_text(message.event)
    try:
        send_mail(subject=text[:150], message=text, from_email=None, recipient_list=[user.email])
    except OSError as exc:  # SMTP trouble is usually passing
        raise ReactionRetryLater(f"email: {type(exc).__name__}") from None
    return f"emailed user {user.pk}"


# Declared on the AppConfig (orders.plugins).
REACTION_KINDS = [
    ReactionKind("notify", gettext_lazy("Notify people and chat groups"), notify, _notify_params),
    ReactionKind("chat_send", gettext_lazy("Send to a chat robot"), send_to_robot, lambda p: p, True, internal=True),
    ReactionKind("email_send", gettext_lazy("Send an email"), send_email, lambda p: p, internal=True, calls_out=True),
]
