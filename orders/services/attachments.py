"""Checking files attached to an order action before anything is written.

The type is taken from the file's first bytes, not from the name or the browser's claim.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from ..exceptions import AttachmentRejected

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
