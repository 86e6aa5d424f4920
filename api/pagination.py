"""Opaque keyset cursors: the id to continue after, encoded so that clients pass it back as
it is rather than build it (the encoding may change; the contract is "pass next_cursor")."""

from __future__ import annotations

import base64
import binascii

_VERSION = "v1:"


class CursorInvalid(ValueError):
    pass


def cursor_encode(after_id: int | None) -> str | None:
    if after_id is None:
        return None
    return base64.urlsafe_b64encode(f"{_VERSION}{after_id}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorInvalid(cursor) from None
    if not text.startswith(_VERSION) or not text[len(_VERSION) :].isdigit():
        raise CursorInvalid(cursor)
    after_id = int(text[len(_VERSION) :])
    if after_id < 1 or after_id > 2**62:
        raise CursorInvalid(cursor)
    return after_id
