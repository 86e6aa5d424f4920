"""DingTalk (钉钉) custom robot with "signed" (加签) security.

    POST https://oapi.dingtalk.com/robot/send?access_token=<token>&timestamp=<ms>&sign=<sign>
    Content-Type: application/json;charset=utf-8
    {"msgtype": "markdown", "markdown": {"title": "<title>", "text": "#### <title>\\n<text>"}}
    -> HTTP 200 {"errcode": 0, "errmsg": "ok"}

sign = quote_plus(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))), timestamp in
milliseconds, within an hour of DingTalk's clock. A bad signature or a stale timestamp gives
errcode 310000 ("sign not match", "invalid timestamp"): give up. A robot configured without a
secret (keyword or IP security) is sent to unsigned.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

import requests

from .base import RobotConfig, deliver

ROBOT = "DingTalk"
# Unverified: DingTalk's public docs we could check do not list the throttling code. 130101
# ("send too fast, exceed 20 times per minute") is what robots answer according to the error
# logs quoted by client libraries and their issue trackers.
RATE_LIMITED = 130101
SIGNATURE_REFUSED = 310000  # "sign not match" or "invalid timestamp" (also a missing keyword)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Base64 of HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"), before URL-encoding."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str, *, timestamp_ms: int | None = None) -> str:
    """`url` with `timestamp` (now, in ms, unless given) and the URL-encoded `sign` appended."""
    if timestamp_ms is None:
        timestamp_ms = int(time.time() * 1000)
    if "?" not in url:
        separator = "?"
    elif url.endswith(("?", "&")):
        separator = ""
    else:
        separator = "&"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={quote_plus(dingtalk_sign(secret, timestamp_ms))}"


def message_body(*, title: str, text: str) -> dict:
    return {"msgtype": "markdown", "markdown": {"title": title, "text": f"#### {title}\n{text}"}}


def send(
    config: RobotConfig, *, title: str, text: str, session: requests.Session | None = None, timeout: float = 5.0
) -> None:
    url = signed_url(config.url, config.secret) if config.secret else config.url
    deliver(
        url,
        message_body(title=title, text=text),
        config=config,
        robot=ROBOT,
        rate_limited=RATE_LIMITED,
        session=session,
        timeout=timeout,
    )
