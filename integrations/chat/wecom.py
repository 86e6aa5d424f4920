"""WeCom (企业微信) group robot: POST JSON to the webhook URL (it carries the key)."""

from __future__ import annotations

import requests

from .base import RobotConfig, answer_check, post_json

RATE_LIMITED = 45009  # more than 20 messages a minute for this robot
INVALID_WEBHOOK = 93000


def message_body(*, title: str, text: str) -> dict:
    return {"msgtype": "markdown", "markdown": {"content": f"**{title}**\n{text}"}}


def send(config: RobotConfig, *, title: str, text: str, session: requests.Session | None, timeout: float) -> None:
    answer = post_json(
        config.url, message_body(title=title, text=text), session=session, timeout=timeout, robot="WeCom"
    )
    answer_check(answer, robot="WeCom", rate_limited=RATE_LIMITED, config=config)
