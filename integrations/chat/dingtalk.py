"""DingTalk (钉钉) custom robot with "signed" security: the URL gets a millisecond timestamp and
an HMAC-SHA256 signature of "timestamp\\nsecret" keyed with the secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

import requests

from .base import RobotConfig, answer_check, post_json

# DingTalk's throttling code is not in its public docs we could verify: 130101 is what robots
# answer when they "send too fast" as reported by client libraries.
RATE_LIMITED = 130101


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Base64 of HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"), before URL-encoding."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str, *, timestamp_ms: int | None = None) -> str:
    timestamp_ms = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={quote_plus(dingtalk_sign(secret, timestamp_ms))}"


def message_body(*, title: str, text: str) -> dict:
    return {"msgtype": "markdown", "markdown": {"title": title, "text": f"#### {title}\n{text}"}}


def send(config: RobotConfig, *, title: str, text: str, session: requests.Session | None, timeout: float) -> None:
    url = signed_url(config.url, config.secret) if config.secret else config.url
    answer = post_json(url, message_body(title=title, text=text), session=session, timeout=timeout, robot="DingTalk")
    answer_check(answer, robot="DingTalk", rate_limited=RATE_LIMITED, config=config)
