"""Checking files attached to an order action before anything is written, and adding a note
with files to an order's timeline.

The type is taken from the file's first bytes, not from the name or the browser's claim.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from ..events import ATTACHMENTS_ADDED, order_event_create
from ..exceptions import ActionNotPermitted, AttachmentRejected, InvalidActionData
from ..models import Attachment, OrderEvent
from ..outbox.services import outbox_enqueue_for_event
from ..permissions import role_of
from ..states import Role
from .locking import order_lock

MAX_ATTACHMENTS_PER_ACTION = 10

# (magic prefix, offset, content type, extension)
_SIGNATURES = (
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"WEBP", 8, "image/webp", "webp"),
    (b"%PDF-", 0, "application/pdf", "pdf"),
)


@dataclass(frozen=True)
class CheckedAttachment:
    original_name: str
    content_type: str
    extension: str
    content: bytes

    def as_file(self) -> ContentFile:
        return ContentFile(self.content, name=f"attachment.{self.extension}")


def _sniff(head: bytes) -> tuple[str, str] | None:
    for magic, offset, content_type, extension in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if content_type == "image/webp" and not head.startswith(b"RIFF"):
                continue
            return content_type, extension
    return None


def attachments_check(files) -> list[CheckedAttachment]:
    """Read and check every file; raise AttachmentRejected naming the first bad one."""
    files = list(files or ())
    if len(files) > MAX_ATTACHMENTS_PER_ACTION:
        raise AttachmentRejected(_("At most %(count)d attachments per action.") % {"count": MAX_ATTACHMENTS_PER_ACTION})
    limit = settings.ORDERHUB_ATTACHMENT_MAX_BYTES
    checked = []
    for upload in files:
        name = getattr(upload, "name", "") or "attachment"
        name = name.rsplit("/", 1)[-1][:255]
        if hasattr(upload, "seek"):
            upload.seek(0)
        content = upload.read(limit + 1)
        if len(content) > limit:
            raise AttachmentRejected(
                _("“%(name)s” is larger than %(limit)s.") % {"name": name, "limit": filesizeformat(limit)}
            )
        if not content:
            raise AttachmentRejected(_("“%(name)s” is empty.") % {"name": name})
        kind = _sniff(content[:16])
        if kind is None:
            raise AttachmentRejected(
                _("“%(name)s” is not a JPEG, PNG or WebP photo or a PDF document.") % {"name": name}
            )
        checked.append(CheckedAttachment(name, kind[0], kind[1], content))
    return checked


# ---------------------------------------------------------------------------------------------
# A note and/or files added to an order's timeline

NOTE_MAX_LENGTH = 4000


def order_attachment_add(*, order_id: int, actor, note: str = "", files=()) -> OrderEvent:
    """Add a note and/or files to the order's timeline as `actor` (a user, or None for the
    system). Returns the OrderEvent written.

    One durable transaction: lock the order row, write one `attachments_added` event with its
    Attachment rows, and the outbox rows of the rules listening to it. The order itself is not
    changed: the state stays and the version is not bumped, so a note never turns someone
    else's next action into a stale-version conflict. Any refusal raises an OrderError
    subclass and writes nothing.
    """
    if actor is not None and not (actor.is_active and actor.has_perm("orders.add_attachment")):
        role = role_of(actor)
        raise ActionNotPermitted(
            role_label=str(Role(role).label) if role else _("no role"),
            action_label=_("Add a note or attachments"),
        )
    note = (note or "").strip()
    files = [f for f in (files or ()) if f]
    if not note and not files:
        raise InvalidActionData(_("Write a note or choose at least one file."))
    if len(note) > NOTE_MAX_LENGTH:
        raise InvalidActionData(
            _("The note is too long: at most %(max)d characters (it has %(count)d).")
            % {"max": NOTE_MAX_LENGTH, "count": len(note)}
        )
    checked = attachments_check(files)

    with transaction.atomic(durable=True):
        order = order_lock(order_id)
        event = order_event_create(
            order=order,
            action=ATTACHMENTS_ADDED,
            from_state=order.state,
            actor=actor,
            occurred_at=timezone.now(),
            note=note,
            data={"attachments": len(checked)},
        )
        for item in checked:
            Attachment.objects.create(
                event=event,
                file=item.as_file(),
                original_name=item.original_name,
                content_type=item.content_type,
                size=len(item.content),
            )
        outbox_enqueue_for_event(event)
    return event
