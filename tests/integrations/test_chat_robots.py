"""The chat robot adapters against local servers that speak the robots' wire formats."""

from __future__ import annotations

import logging

import pytest

from integrations.chat.base import ChatGiveUp, ChatRetryLater, RobotConfig, chat_send
from integrations.chat.dingtalk import dingtalk_sign, signed_url
from tests.fakes.chat import FakeDingTalk, FakeWeCom

TITLE = "OH20260128-00001 · 打包完成"
TEXT = "[2026-01-28 14:05] 王强 (仓储组) 打包完成"


def test_dingtalk_signature_matches_the_documented_vector():
    assert dingtalk_sign("SECtest", 1700000000000) == "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g="
    url = signed_url("https://oapi.dingtalk.com/robot/send?access_token=t", "SECtest", timestamp_ms=1700000000000)
    assert url.endswith("&timestamp=1700000000000&sign=aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D")


def test_wecom_receives_the_exact_markdown_body():
    with FakeWeCom(key="k-123") as robot:
        chat_send(RobotConfig("wecom", robot.url), title=TITLE, text=TEXT)
    (received,) = robot.requests
    assert received.path == "/cgi-bin/webhook/send" and received.query == {"key": "k-123"}
    assert received.headers["content-type"] == "application/json;charset=utf-8"
    assert received.json == {"msgtype": "markdown", "markdown": {"content": f"**{TITLE}**\n{TEXT}"}}
    assert "打包完成".encode() in received.body  # UTF-8, not \\u escapes


def test_dingtalk_receives_a_signed_markdown_body():
    with FakeDingTalk(token="tok", secret="SECabc") as robot:
        chat_send(RobotConfig("dingtalk", robot.url, secret="SECabc"), title=TITLE, text=TEXT)
    (received,) = robot.requests
    assert set(received.query) == {"access_token", "timestamp", "sign"}
    assert received.json == {"msgtype": "markdown", "markdown": {"title": TITLE, "text": f"#### {TITLE}\n{TEXT}"}}


@pytest.mark.parametrize(
    ("fake", "answer"),
    [
        (FakeWeCom, "rate_limit"),
        (FakeDingTalk, "rate_limit"),
        (FakeWeCom, "server_error"),
        (FakeDingTalk, "bad_json"),
    ],
)
def test_passing_trouble_is_retried_later(fake, answer):
    with fake() as robot:
        robot.answers.append(answer)
        config = RobotConfig(
            "wecom" if fake is FakeWeCom else "dingtalk", robot.url, secret=getattr(robot, "secret", "")
        )
        with pytest.raises(ChatRetryLater):
            chat_send(config, title=TITLE, text=TEXT)
        # The next message goes through: nothing was dropped on the robot's side.
        chat_send(config, title=TITLE, text=TEXT)
    assert len(robot.requests) == 2


def test_no_answer_in_time_is_retried_later():
    with FakeWeCom() as robot:
        robot.answers.append("timeout")
        with pytest.raises(ChatRetryLater, match="no answer"):
            chat_send(RobotConfig("wecom", robot.url), title=TITLE, text=TEXT, timeout=0.3)


def test_connection_refused_is_retried_later():
    with pytest.raises(ChatRetryLater, match="connection failed"):
        chat_send(RobotConfig("wecom", "http://127.0.0.1:1/cgi-bin/webhook/send?key=x"), title=TITLE, text=TEXT)


def test_wrong_key_or_signature_is_given_up():
    with FakeWeCom(key="right") as robot, pytest.raises(ChatGiveUp, match="93000"):
        chat_send(RobotConfig("wecom", robot.url.replace("right", "wrong")), title=TITLE, text=TEXT)
    with FakeDingTalk(secret="SECright") as robot, pytest.raises(ChatGiveUp, match="310000"):
        chat_send(RobotConfig("dingtalk", robot.url, secret="SECwrong"), title=TITLE, text=TEXT)


def test_secrets_never_appear_in_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    messages = []
    with FakeDingTalk(token="TOKEN-SECRET-1", secret="SEC-SECRET-2") as robot:
        config = RobotConfig("dingtalk", robot.url, secret="SEC-SECRET-2")
        for answer in ("rate_limit", "server_error", "bad_json", "timeout"):
            robot.answers.append(answer)
            with pytest.raises((ChatRetryLater, ChatGiveUp)) as excinfo:
                chat_send(config, title=TITLE, text=TEXT, timeout=0.3)
            messages.append(str(excinfo.value))
        with pytest.raises(ChatGiveUp) as excinfo:
            chat_send(RobotConfig("dingtalk", robot.url, secret="SEC-WRONG-3"), title=TITLE, text=TEXT)
        messages.append(str(excinfo.value))
    everything = "\n".join([*messages, caplog.text, repr(config)])
    for secret in ("TOKEN-SECRET-1", "SEC-SECRET-2", "SEC-WRONG-3"):
        assert secret not in everything


def test_unknown_robot_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        chat_send(RobotConfig("pager", "http://127.0.0.1:1/"), title=TITLE, text=TEXT)
