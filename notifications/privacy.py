"""Buyer personal data never goes to a chat group: emails and phone numbers are masked in
every text that leaves for a robot."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# Chinese mobiles (138 1234 5678, +86…), Chinese landlines (021-12345678) and international
# numbers written with a "+". Dates, times, order and tracking numbers do not match.
_PHONE = re.compile(
    r"(?<![\w+])("
    r"(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}"
    r"|0\d{2,3}[\s-]?\d{7,8}"
    r"|\+\d{1,3}(?:[\s-]?\d{2,4}){2,4}"
    r")(?!\d)"
)


def _mask_phone(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(1))
    if len(digits) < 7:
        return match.group(1)
    return f"{digits[:3]}{'*' * (len(digits) - 5)}{digits[-2:]}"


def mask_personal_data(text: str, *, also: tuple[str, ...] = ()) -> str:
    """Mask emails, phone numbers and any of the given values (the buyer's own contact
    details, names) that appear verbatim."""
    for value in also:
        if value and len(value) >= 3:
            text = text.replace(value, "***")
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _PHONE.sub(_mask_phone, text)
