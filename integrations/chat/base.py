"""Chat robots: one interface, one module per robot (wecom.py, dingtalk.py).

Adapters speak HTTP with `requests`, an explicit timeout and no retries of their own (the
outbox retries), touch no models and raise one of two errors:

- ChatRetryLater: rate limits, HTTP 429 and 5xx, timeouts, connection trouble, an answer that
  is not the JSON the robot always sends. The outbox tries again after a back-off.
- ChatGiveUp: a bad key, token or signature, HTTP 4xx, any other non-zero errcode: retrying
  cannot help.

The webhook URL carries the robot's key (WeCom) or access token (DingTalk) and DingTalk robots
have a signing secret: none of them ever reaches an error message, a log line or an exception
chain. Errors are raised outside `except` blocks so that `requests`' own exceptions (whose
texts contain the URL) are not even kept as `__context__`, and urllib3's DEBUG lines (which
contain the request URL) have their query strings masked by the filter installed below.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import requests

logger = logging.getLogger(__name__)

MAX_ERRMSG = 120  # characters of a robot's errmsg kept in our messages


class ChatError(Exception):
    """`message` is safe to show: it never contains the URL, key, token or secret."""

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
    url: str = field(repr=False)  # the full webhook URL with its key= or access_token=: a secret
    secret: str = field(default="", repr=False)  # DingTalk's signing secret (SEC…), "" for WeCom

    def __repr__(self) -> str:
        return f"RobotConfig(kind={self.kind!r}, url=<hidden>, secret=<hidden>)"

    __str__ = __repr__


# -- keeping secrets out of messages and logs ------------------------------------------------

_SECRET_PARAMS = re.compile(r"(?i)\b(key|access_token|token|sign|timestamp)=[^&\s\"'#)]*")


def redact_query(text: str) -> str:
    """Mask the values of the query parameters that carry a robot's credentials."""
    return _SECRET_PARAMS.sub(r"\1=***", text)


def scrub(text: str, config: RobotConfig) -> str:
    """Remove the robot's key, token and secret from a text (a server may echo them back)."""
    secrets = [value for _, value in parse_qsl(urlsplit(config.url).query) if len(value) >= 4]
    if config.secret:
        secrets.append(config.secret)
    for value in sorted(secrets, key=len, reverse=True):
        text = text.replace(value, "***")
    return redact_query(text)


class _RedactQueryStrings(logging.Filter):
    """urllib3 logs request URLs (with their query strings) at DEBUG and some warnings: mask
    the credentials in them, whatever level the project's logging settings allow."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's problem, not ours
            return True
        redacted = redact_query(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_URLLIB3_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
)


def _install_log_filter() -> None:
    for name in _URLLIB3_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(existing, _RedactQueryStrings) for existing in target.filters):
            target.addFilter(_RedactQueryStrings())


_install_log_filter()


# -- shared plumbing -------------------------------------------------------------------------


def post_json(
    url: str, body: dict, *, session: requests.Session | None, timeout: float, robot: str
) -> requests.Response | ChatError:
    """POST `body` as UTF-8 JSON (Chinese text as is, not \\u escapes). Returns the response,
    or the ChatError to raise for transport trouble (see `answer_json`)."""
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    http = session if session is not None else requests
    try:
        return http.post(
            url,
            data=payload,
            headers={"Content-Type": "application/json;charset=utf-8"},
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout:
        return ChatRetryLater(f"{robot}: no answer within {timeout:g} s")
    except requests.RequestException as exc:
        # The exception's text names the URL: only its class goes into our message.
        return ChatRetryLater(f"{robot}: connection failed ({type(exc).__name__})")


def answer_json(response: requests.Response, *, robot: str) -> dict | ChatError:
    """The robot's JSON answer, or the ChatError to raise for a bad HTTP status or body."""
    status = response.status_code
    if status == 429 or status >= 500:
        return ChatRetryLater(f"{robot}: HTTP {status}")
    if status != 200:
        # 4xx: the URL or the request is wrong; 1xx/2xx/3xx other than 200 are not how the
        # robots answer (a redirect means the webhook URL is not the robot's).
        return ChatGiveUp(f"{robot}: HTTP {status}")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return ChatRetryLater(f"{robot}: the answer was not the robot's JSON (HTTP {status})")
    return answer


def answer_check(answer: dict, *, robot: str, rate_limited: int, config: RobotConfig) -> ChatError | None:
    """Both robots answer HTTP 200 with an errcode: 0 is sent, the rate-limit code is "later",
    anything else is a refusal that retrying will not change. An answer without an errcode
    is not one of theirs (a proxy's page, say): later."""
    code = answer.get("errcode")
    if isinstance(code, str) and code.lstrip("-").isdigit():
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int):
        return ChatRetryLater(f"{robot}: the answer had no errcode")
    if code == 0:
        return None
    if code == rate_limited:
        return ChatRetryLater(f"{robot}: rate limited (errcode {code})")
    errmsg = scrub(str(answer.get("errmsg", "")), config)[:MAX_ERRMSG]
    return ChatGiveUp(f"{robot}: refused (errcode {code}: {errmsg})")


def deliver(
    url: str,
    body: dict,
    *,
    config: RobotConfig,
    robot: str,
    rate_limited: int,
    session: requests.Session | None,
    timeout: float,
) -> None:
    """POST, read the answer, raise ChatRetryLater/ChatGiveUp. Each step returns its error
    instead of raising it so that the raise happens here, outside any `except` block: the
    error carries no `__context__` holding requests' text with the URL in it."""
    response = post_json(url, body, session=session, timeout=timeout, robot=robot)
    if isinstance(response, ChatError):
        error: ChatError | None = response
    else:
        answer = answer_json(response, robot=robot)
        if isinstance(answer, ChatError):
            error = answer
        else:
            error = answer_check(answer, robot=robot, rate_limited=rate_limited, config=config)
    if error is not None:
        logger.debug("chat robot %s: not sent: %s", robot, error.message)
        raise error
    logger.debug("chat robot %s: sent", robot)


def chat_send(
    config: RobotConfig, *, title: str, text: str, session: requests.Session | None = None, timeout: float = 5.0
) -> None:
    """Send one Markdown message to a chat robot. Raises ChatRetryLater or ChatGiveUp;
    ValueError for a kind we have no adapter for."""
    from . import dingtalk, wecom

    senders = {"wecom": wecom.send, "dingtalk": dingtalk.send}
    if config.kind not in senders:
        raise ValueError(f"unknown chat robot kind {config.kind!r}")
    senders[config.kind](config, title=title, text=text, session=session, timeout=timeout)
