"""Chat robots: one interface, one module per robot. Adapters speak HTTP and touch no models.

Errors say what went wrong without the webhook URL, key, token or secret: those are secrets
and never reach a message, a log line or the admin.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import requests

logger = logging.getLogger(__name__)


class ChatError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ChatRetryLater(ChatError):
    """Rate limit, server error, timeout, connection trouble: the outbox retries later."""


class ChatGiveUp(ChatError):
    """Bad key, token or signature, a refused message: retrying cannot help."""


@dataclass(frozen=True)
class RobotConfig:
    kind: str  # "wecom" or "dingtalk"
    url: str = field(repr=False)  # the webhook URL with its key or access token: a secret
    secret: str = field(default="", repr=False)  # DingTalk's signing secret

    def __repr__(self) -> str:
        return f"RobotConfig(kind={self.kind!r}, url=<hidden>, secret=<hidden>)"


def scrub(text: str, config: RobotConfig) -> str:
    """Remove the robot's key, token and secret from a text (a server may echo them back)."""
    from urllib.parse import parse_qsl, urlsplit

    secrets = [value for _, value in parse_qsl(urlsplit(config.url).query) if len(value) >= 4]
    if config.secret:
        secrets.append(config.secret)
    for value in secrets:
        text = text.replace(value, "***")
    return text


def post_json(url: str, body: dict, *, session: requests.Session | None, timeout: float, robot: str) -> dict:
    """POST a JSON body and return the parsed JSON answer, mapping transport trouble to
    ChatRetryLater. Both robots answer HTTP 200 with an errcode; the caller reads it."""
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    http = session or requests
    try:
        response = http.post(
            url, data=payload, headers={"Content-Type": "application/json;charset=utf-8"}, timeout=timeout
        )
    except requests.Timeout:
        raise ChatRetryLater(f"{robot}: no answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise ChatRetryLater(f"{robot}: connection failed ({type(exc).__name__})") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise ChatRetryLater(f"{robot}: HTTP {response.status_code}")
    if response.status_code >= 400:
        raise ChatGiveUp(f"{robot}: HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        raise ChatRetryLater(f"{robot}: the answer was not JSON (HTTP {response.status_code})") from None
    if not isinstance(answer, dict):
        raise ChatRetryLater(f"{robot}: unexpected answer")
    return answer


def answer_check(answer: dict, *, robot: str, rate_limited: int, config: RobotConfig) -> None:
    """Both robots answer HTTP 200 with an errcode: 0 is sent, the rate-limit code is "later",
    anything else is a refusal that retrying will not change."""
    code = answer.get("errcode")
    if code == 0:
        return
    if code == rate_limited:
        raise ChatRetryLater(f"{robot}: rate limited (errcode {code})")
    raise ChatGiveUp(f"{robot}: refused (errcode {code}: {scrub(str(answer.get('errmsg', '')), config)[:100]})")


def chat_send(
    config: RobotConfig, *, title: str, text: str, session: requests.Session | None = None, timeout: float = 5.0
) -> None:
    from . import dingtalk, wecom

    senders = {"wecom": wecom.send, "dingtalk": dingtalk.send}
    if config.kind not in senders:
        raise ValueError(f"unknown chat robot kind {config.kind!r}")
    senders[config.kind](config, title=title, text=text, session=session, timeout=timeout)
