"""WeCom (企业微信) group robot: POST JSON to the webhook URL, which carries the robot's key.

    POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<robot key>
    {"msgtype": "markdown", "markdown": {"content": "**<title>**\\n<text>"}}
    -> HTTP 200 {"errcode": 0, "errmsg": "ok"}

At most 20 messages a minute per robot: over it, errcode 45009 (retry later, never drop).
errcode 93000 is an invalid webhook URL (a wrong or deleted key): give up.
"""

from __future__ import annotations

import requests

from .base import RobotConfig, deliver

ROBOT = "WeCom"
RATE_LIMITED = 45009  # "api freq out of limit": more than 20 messages a minute for this robot
INVALID_WEBHOOK = 93000  # the key is wrong or the robot was removed from the group
# WeCom refuses markdown content over 4096 bytes of UTF-8 (errcode 40058): we cut it instead,
# so that a long note does not turn a notification into a permanent failure.
MAX_CONTENT_BYTES = 4096
ELLIPSIS = "…"


def truncate_utf8(text: str, limit: int) -> str:
    """`text` cut to at most `limit` bytes of UTF-8, on a character boundary, with an ellipsis
    when it was cut."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode("utf-8"))
    return raw[:room].decode("utf-8", errors="ignore") + ELLIPSIS


def message_body(*, title: str, text: str) -> dict:
    content = truncate_utf8(f"**{title}**\n{text}", MAX_CONTENT_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": content}}


def send(
    config: RobotConfig, *, title: str, text: str, session: requests.Session | None = None, timeout: float = 5.0
) -> None:
    deliver(
        config.url,
        message_body(title=title, text=text),
        config=config,
        robot=ROBOT,
        rate_limited=RATE_LIMITED,
        session=session,
        timeout=timeout,
    )
