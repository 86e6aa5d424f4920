"""The chat robot adapters against local servers that speak the robots' wire formats and check
keys, tokens and DingTalk signatures the way the real robots do. No test leaves 127.0.0.1."""

from __future__ import annotations

import logging
import traceback
from types import SimpleNamespace
from urllib.parse import quote_plus

import pytest
import requests

from integrations.chat import dingtalk
from integrations.chat.base import ChatError, ChatGiveUp, ChatRetryLater, RobotConfig, chat_send
from integrations.chat.dingtalk import dingtalk_sign, signed_url
from integrations.chat.wecom import MAX_CONTENT_BYTES
from tests.fakes.chat import FakeDingTalk, FakeWeCom, dingtalk_expected_sign
from tests.fakes.chat import fake_dingtalk as fake_dingtalk  # a fixture, used by name

TITLE = "OH20260128-00001 · 打包完成"
TEXT = "[2026-01-28 14:05] 王强 (仓储组) 打包完成，等待揽收。"
WECOM_KEY = "wk-6f1c2d3e-KEY-SECRET"
DINGTALK_TOKEN = "dt-TOKEN-SECRET-9a8b7c"
DINGTALK_SECRET = "SEC-SIGNING-SECRET-0123456789abcdef"


@pytest.fixture
def wecom():
    with FakeWeCom(key=WECOM_KEY) as robot:
        yield robot


@pytest.fixture
def ding():
    with FakeDingTalk(token=DINGTALK_TOKEN, secret=DINGTALK_SECRET) as robot:
        yield robot


def config_for(robot, **changes) -> RobotConfig:
    if isinstance(robot, FakeWeCom):
        return RobotConfig(**{"kind": "wecom", "url": robot.url, **changes})
    return RobotConfig(**{"kind": "dingtalk", "url": robot.url, "secret": robot.secret, **changes})


def send(robot, **options):
    config = options.pop("config", None) or config_for(robot)
    chat_send(config, title=TITLE, text=TEXT, **options)


@pytest.fixture(params=["wecom", "dingtalk"])
def robot(request):
    return request.getfixturevalue("wecom" if request.param == "wecom" else "ding")


# -- signature --------------------------------------------------------------------------------


def test_dingtalk_signature_matches_the_documented_vector():
    assert dingtalk_sign("SECtest", 1700000000000) == "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g="
    url = signed_url("https://oapi.dingtalk.com/robot/send?access_token=t", "SECtest", timestamp_ms=1700000000000)
    assert url == (
        "https://oapi.dingtalk.com/robot/send?access_token=t"
        "&timestamp=1700000000000&sign=aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D"
    )
    # The fake's own computation agrees with the vector too.
    assert dingtalk_expected_sign("SECtest", "1700000000000") == "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g="


def test_signed_url_starts_a_query_when_the_url_has_none():
    url = signed_url("https://example.invalid/robot/send", "SECtest", timestamp_ms=1700000000000)
    assert url.startswith("https://example.invalid/robot/send?timestamp=1700000000000&sign=")


# -- what arrives -----------------------------------------------------------------------------


def test_wecom_receives_the_exact_markdown_body(wecom):
    send(wecom)
    (received,) = wecom.requests
    assert received.method == "POST"
    assert received.path == "/cgi-bin/webhook/send" and received.query == {"key": WECOM_KEY}
    assert received.headers["content-type"] == "application/json;charset=utf-8"
    assert received.json == {"msgtype": "markdown", "markdown": {"content": f"**{TITLE}**\n{TEXT}"}}


def test_dingtalk_receives_a_signed_markdown_body(ding):
    send(ding)
    (received,) = ding.requests
    assert received.path == "/robot/send"
    assert set(received.query) == {"access_token", "timestamp", "sign"}
    assert received.query["access_token"] == DINGTALK_TOKEN
    # The fake accepted it, so it verified the signature; check it here as well.
    assert received.query["sign"] == dingtalk_expected_sign(DINGTALK_SECRET, received.query["timestamp"])
    assert received.headers["content-type"] == "application/json;charset=utf-8"
    assert received.json == {"msgtype": "markdown", "markdown": {"title": TITLE, "text": f"#### {TITLE}\n{TEXT}"}}


def test_chinese_text_arrives_as_utf8_not_escapes(robot):
    send(robot)
    body = robot.last.body
    assert "王强 (仓储组) 打包完成，等待揽收。".encode() in body
    assert b"\\u" not in body
    assert TEXT in str(robot.last.json)


def test_dingtalk_sign_is_url_encoded_so_plus_and_slash_survive(ding, monkeypatch):
    """A base64 sign with '+' must be sent as %2B: unencoded, DingTalk reads a space and
    refuses it. Pick a timestamp (near now) whose signature has a '+'."""
    now_ms = int(dingtalk.time.time() * 1000)
    stamp = next(t for t in range(now_ms, now_ms + 10_000) if "+" in dingtalk_sign(DINGTALK_SECRET, t))
    monkeypatch.setattr(dingtalk, "time", SimpleNamespace(time=lambda: stamp / 1000))
    send(ding)
    assert "%2B" in ding.last.raw_query
    assert f"sign={quote_plus(dingtalk_sign(DINGTALK_SECRET, stamp))}" in ding.last.raw_query


def test_the_fake_refuses_an_unencoded_sign(ding):
    """The fake is as strict as DingTalk: proof that the test above means something."""
    now_ms = int(dingtalk.time.time() * 1000)
    stamp = next(t for t in range(now_ms, now_ms + 10_000) if "+" in dingtalk_sign(DINGTALK_SECRET, t))
    url = f"{ding.url}&timestamp={stamp}&sign={dingtalk_sign(DINGTALK_SECRET, stamp)}"
    answer = requests.post(url, json={"msgtype": "text", "text": {"content": "x"}}, timeout=5).json()
    assert answer == {"errcode": 310000, "errmsg": "sign not match"}


def test_a_caller_session_is_used(wecom):
    with requests.Session() as session:
        send(wecom, config=config_for(wecom), session=session)
        send(wecom, config=config_for(wecom), session=session)
    assert len(wecom.requests) == 2


def test_long_wecom_messages_are_cut_to_the_robots_limit(wecom):
    chat_send(config_for(wecom), title=TITLE, text="备注" * 3000)
    content = wecom.last.json["markdown"]["content"]
    assert len(content.encode("utf-8")) <= MAX_CONTENT_BYTES and content.endswith("…")
    assert content.startswith(f"**{TITLE}**\n备注")


def test_the_exported_fixture_works(fake_dingtalk):
    chat_send(config_for(fake_dingtalk), title=TITLE, text=TEXT)
    assert fake_dingtalk.last.json["markdown"]["title"] == TITLE


# -- passing trouble: retry later -------------------------------------------------------------


@pytest.mark.parametrize("answer", ["rate_limit", "server_error", "bad_json", "http_429", "http_503"])
def test_passing_trouble_is_retried_later(robot, answer):
    robot.answers.extend([answer, "ok"])
    with pytest.raises(ChatRetryLater):
        send(robot)
    send(robot)  # the next attempt (the outbox's retry) goes through
    assert len(robot.requests) == 2


def test_rate_limit_says_so(robot):
    robot.mode = "rate_limit"
    with pytest.raises(ChatRetryLater, match=r"rate limited \(errcode (45009|130101)\)"):
        send(robot)
    with pytest.raises(ChatRetryLater):
        send(robot)  # a mode is sticky, unlike a queued answer


def test_no_answer_in_time_is_retried_later(robot):
    robot.answers.append("timeout")
    with pytest.raises(ChatRetryLater, match=r"no answer within 0\.3 s"):
        send(robot, timeout=0.3)
    send(robot, timeout=5)  # the server is still there for the next attempt


def test_connection_refused_is_retried_later():
    with FakeWeCom(key=WECOM_KEY) as gone:
        url = gone.url
    with pytest.raises(ChatRetryLater, match="connection failed"):
        chat_send(RobotConfig("wecom", url), title=TITLE, text=TEXT, timeout=2)


def test_an_answer_without_errcode_is_retried_later(monkeypatch):
    response = requests.Response()
    response.status_code, response._content = 200, b'{"status": "ok"}'
    session = SimpleNamespace(post=lambda *args, **kwargs: response)
    with pytest.raises(ChatRetryLater, match="no errcode"):
        chat_send(RobotConfig("wecom", "https://example.invalid/?key=x"), title=TITLE, text=TEXT, session=session)


# -- what retrying cannot fix: give up --------------------------------------------------------


def test_wrong_wecom_key_is_given_up(wecom):
    with pytest.raises(ChatGiveUp, match="errcode 93000"):
        send(wecom, config=RobotConfig("wecom", wecom.url.replace(WECOM_KEY, "wrong-key")))


def test_bad_dingtalk_signature_is_given_up(ding):
    with pytest.raises(ChatGiveUp, match="errcode 310000: sign not match"):
        send(ding, config=config_for(ding, secret="SECwrong"))


def test_missing_dingtalk_signature_is_given_up(ding):
    with pytest.raises(ChatGiveUp, match="errcode 310000: invalid timestamp"):
        send(ding, config=config_for(ding, secret=""))


def test_stale_dingtalk_timestamp_is_given_up(ding, monkeypatch):
    two_hours_ago = dingtalk.time.time() - 7200
    monkeypatch.setattr(dingtalk, "time", SimpleNamespace(time=lambda: two_hours_ago))
    with pytest.raises(ChatGiveUp, match="invalid timestamp"):
        send(ding)


def test_wrong_dingtalk_token_is_given_up(ding):
    with pytest.raises(ChatGiveUp, match="errcode 300001"):
        send(ding, config=config_for(ding, url=ding.url.replace(DINGTALK_TOKEN, "other-token")))


@pytest.mark.parametrize(
    "answer", ["http_400", "http_403", "http_404", (40035, "缺少参数 json"), (310000, "关键词不匹配")]
)
def test_refusals_are_given_up(robot, answer):
    robot.answers.append(answer)
    with pytest.raises(ChatGiveUp):
        send(robot)


def test_unsigned_dingtalk_robot(monkeypatch):
    """A DingTalk robot with keyword security has no secret: sent as is, no signature."""
    with FakeDingTalk(token=DINGTALK_TOKEN, secret="") as robot:
        chat_send(RobotConfig("dingtalk", robot.url), title=TITLE, text=TEXT)
    assert robot.last.query == {"access_token": DINGTALK_TOKEN}


def test_unknown_robot_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="pager"):
        chat_send(RobotConfig("pager", "http://127.0.0.1:9/?key=x"), title=TITLE, text=TEXT)


# -- secrets ----------------------------------------------------------------------------------


def test_robot_config_repr_hides_the_url_and_secret():
    config = RobotConfig("dingtalk", f"https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}", "SECx123")
    for shown in (repr(config), str(config), f"{config}", f"{config!r}", repr([config])):
        assert "dingtalk" in shown
        assert DINGTALK_TOKEN not in shown and "SECx123" not in shown and "oapi" not in shown


FAILURES = ["rate_limit", "server_error", "bad_json", "timeout", "http_429", "http_403"]


def echoing_refusal(robot) -> tuple[int, str]:
    """A robot that echoes the request back in its errmsg: the adapter must scrub it."""
    if isinstance(robot, FakeWeCom):
        return 40008, f"bad request {robot.url}, key {WECOM_KEY}"
    return 40035, f"bad request {robot.last.raw_query}, token {DINGTALK_TOKEN}, secret {DINGTALK_SECRET}"


def chain_text(exc: BaseException) -> str:
    """Everything an error tracker could show: the message, repr, and the full chain."""
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


def test_secrets_never_appear_in_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")  # the settings quiet it; prove we need not
    errors: list[ChatError] = []
    with FakeWeCom(key=WECOM_KEY) as wecom, FakeDingTalk(token=DINGTALK_TOKEN, secret=DINGTALK_SECRET) as ding:
        for robot in (wecom, ding):
            for answer in FAILURES:
                robot.answers.append(answer)
                with pytest.raises(ChatError) as excinfo:
                    send(robot, timeout=0.3)
                errors.append(excinfo.value)
            robot.answers.append(echoing_refusal(robot))
            with pytest.raises(ChatGiveUp) as excinfo:
                send(robot)
            errors.append(excinfo.value)
        for config in (
            RobotConfig("wecom", wecom.url.replace(WECOM_KEY, WECOM_KEY + "-WRONG")),
            config_for(ding, secret=DINGTALK_SECRET + "-WRONG"),
            config_for(ding, url=ding.url.replace(DINGTALK_TOKEN, DINGTALK_TOKEN + "-WRONG")),
        ):
            with pytest.raises(ChatGiveUp) as excinfo:
                chat_send(config, title=TITLE, text=TEXT)
            errors.append(excinfo.value)
        gone_urls = (wecom.url, ding.url)
    for url in gone_urls:  # connection refused: requests' own message holds the URL
        with pytest.raises(ChatRetryLater) as excinfo:
            chat_send(RobotConfig("wecom", url), title=TITLE, text=TEXT, timeout=2)
        errors.append(excinfo.value)

    assert len(errors) == 2 * (len(FAILURES) + 1) + 5
    assert all(error.__context__ is None and error.__cause__ is None for error in errors)
    # The log capture is not empty: urllib3 did log each request line, with its query masked.
    assert any(record.name.startswith("urllib3") and "key=***" in record.getMessage() for record in caplog.records)
    everything = "\n".join([*(chain_text(error) for error in errors), *(e.message for e in errors), caplog.text])
    for secret in (WECOM_KEY, DINGTALK_TOKEN, DINGTALK_SECRET):
        assert secret not in everything
    assert "sign=***" in caplog.text  # DingTalk's signature is masked too
