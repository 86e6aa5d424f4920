"""Local chat robot servers that speak WeCom's and DingTalk's wire formats and check what the
real ones check: the path, the key or access token, DingTalk's timestamp and signature (computed
here independently of the adapter) and the JSON body. Each runs a ThreadingHTTPServer on
127.0.0.1 (a free port) in a daemon thread.

    with FakeWeCom(key="k1") as robot:
        chat_send(RobotConfig("wecom", robot.url), title="t", text="x")
        robot.requests[-1].json        # the parsed body; .body the raw bytes, .query, .headers

    with FakeDingTalk(token="t1", secret="SECxyz") as robot:
        chat_send(RobotConfig("dingtalk", robot.url, secret="SECxyz"), title="t", text="x")

As pytest fixtures: `fake_wecom` and `fake_dingtalk` below (import them into a test module or
conftest), or write a three-line fixture around the context manager.

What the robot answers:
- `robot.mode`: the answer for every request (default "ok"); `FakeWeCom(mode=...)` sets it.
- `robot.answers`: a queue of the next answers, used before `mode`:
  `robot.answers.extend(["rate_limit", "ok"])` or `FakeDingTalk(answers=[...])`.
Answers: "ok"; "rate_limit" (HTTP 200, errcode 45009 for WeCom, 130101 for DingTalk, after the
credentials check as the real robots do); "server_error" (HTTP 500); "bad_json" (HTTP 200 with
an HTML page); "timeout" (no answer until the client has given up: the handler waits until the
fake is closed, which releases it at once); "http_<status>" (e.g. "http_429", "http_403": that
status with a short JSON body); or a tuple (errcode, errmsg) for any other refusal.

Error codes when a check fails: WeCom 93000 "invalid webhook url" (wrong path or key), 40008
invalid message type, 40058 content too long (over 4096 bytes of UTF-8); DingTalk 300001 "token
is not exist" (wrong path or token), 310000 "invalid timestamp" (missing or more than an hour
off) or "sign not match", 43004 for a Content-Type that is not JSON, 40035 for a body that is
not a message. 93000, 310000 and the rate-limit codes are from the robots' documentation or the
error logs quoted by client libraries; the others are plausible stand-ins (any non-zero code is
a refusal to the adapters).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

OK = "ok"
RATE_LIMIT = "rate_limit"
SERVER_ERROR = "server_error"
BAD_JSON = "bad_json"
TIMEOUT = "timeout"
TIMEOUT_CAP_SECONDS = 30.0  # a "timeout" answer never holds a thread longer than this


@dataclass
class Received:
    """One request as the robot saw it. `query` holds the decoded values (first of each),
    `raw_query` the query string as sent; `headers` have lower-case names; `json` is the
    parsed body, or None when the body was not a JSON document."""

    method: str
    path: str
    raw_query: str
    query: dict
    headers: dict
    body: bytes
    json: object


def dingtalk_expected_sign(secret: str, timestamp: str) -> str:
    """DingTalk's own computation, kept apart from the adapter's on purpose."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


class _FakeRobot:
    path = ""
    rate_limit = (0, "")

    def __init__(self, *, mode: str = OK, answers: Iterable = ()):
        self.mode = mode
        self.answers: deque = deque(answers)
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._started = False

    # -- lifecycle --------------------------------------------------------------------------
    def start(self):
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def close(self):
        self._release.set()  # let "timeout" answers finish now
        if self._started:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The full webhook URL, with the key or access token."""
        raise NotImplementedError

    @property
    def last(self) -> Received:
        return self.requests[-1]

    # -- what subclasses check --------------------------------------------------------------
    def check(self, received: Received) -> tuple[int, str] | None:
        """None when the request is acceptable, else (errcode, errmsg)."""
        raise NotImplementedError

    def _next_answer(self):
        with self._lock:
            return self.answers.popleft() if self.answers else self.mode

    def _record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    # -- the server -------------------------------------------------------------------------
    def _handler_class(self):
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                return

            def do_POST(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    parsed = json.loads(body.decode("utf-8"))
                except ValueError:
                    parsed = None
                received = Received(
                    method="POST",
                    path=parts.path,
                    raw_query=parts.query,
                    query={k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    json=parsed,
                )
                robot._record(received)
                answer = robot._next_answer()
                if answer == TIMEOUT:
                    robot._release.wait(TIMEOUT_CAP_SECONDS)
                    self.close_connection = True
                    return
                if answer == SERVER_ERROR:
                    self._reply(500, b"<html><body>500 Internal Server Error</body></html>", "text/html")
                    return
                if answer == BAD_JSON:
                    self._reply(200, b"<html><body>gateway busy</body></html>", "text/html")
                    return
                if isinstance(answer, str) and answer.startswith("http_"):
                    status = int(answer.removeprefix("http_"))
                    self._reply(status, json.dumps({"error": f"HTTP {status}"}).encode())
                    return
                problem = robot.check(received)
                if problem is None and answer == RATE_LIMIT:
                    problem = robot.rate_limit
                elif problem is None and isinstance(answer, tuple):
                    problem = answer
                elif problem is None and answer != OK:
                    raise ValueError(f"unknown fake robot answer {answer!r}")
                code, message = problem or (0, "ok")
                self._reply(200, json.dumps({"errcode": code, "errmsg": message}, ensure_ascii=False).encode())

            def _reply(self, status: int, body: bytes, content_type: str = "application/json"):
                self.send_response(status)
                self.send_header("Content-Type", f"{content_type};charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


class FakeWeCom(_FakeRobot):
    path = "/cgi-bin/webhook/send"
    rate_limit = (45009, "api freq out of limit")
    max_markdown_bytes = 4096

    def __init__(self, *, key: str = "wecom-test-key", **options):
        self.key = key
        super().__init__(**options)

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.path}?key={self.key}"

    def check(self, received):
        if received.path != self.path or received.query.get("key") != self.key:
            return 93000, "invalid webhook url, hint: [fake], more info at https://open.work.weixin.qq.com"
        message = received.json
        if not isinstance(message, dict) or message.get("msgtype") not in ("text", "markdown"):
            return 40008, "invalid message type"
        content = (message.get(message["msgtype"]) or {}).get("content")
        if not isinstance(content, str) or not content:
            return 40008, "invalid message type: empty content"
        if message["msgtype"] == "markdown" and len(content.encode("utf-8")) > self.max_markdown_bytes:
            return 40058, "markdown.content exceed max length 4096"
        return None


class FakeDingTalk(_FakeRobot):
    path = "/robot/send"
    rate_limit = (130101, "send too fast, exceed 20 times per minute")
    max_clock_skew_ms = 3600 * 1000

    def __init__(self, *, token: str = "dingtalk-test-token", secret: str = "SECdingtalktest", **options):
        self.token = token
        self.secret = secret  # "" = a robot with keyword/IP security: no signature expected
        super().__init__(**options)

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.path}?access_token={self.token}"

    def check(self, received):
        if received.path != self.path or received.query.get("access_token") != self.token:
            return 300001, "token is not exist"
        if self.secret:
            timestamp, sign = received.query.get("timestamp", ""), received.query.get("sign", "")
            # parse_qs decoded the sign: a '+' sent without URL-encoding arrived as a space.
            if not timestamp.isdigit() or abs(int(timestamp) - time.time() * 1000) > self.max_clock_skew_ms:
                return 310000, "invalid timestamp"
            if not hmac.compare_digest(sign.encode(), dingtalk_expected_sign(self.secret, timestamp).encode()):
                return 310000, "sign not match"
        if not received.headers.get("content-type", "").lower().startswith("application/json"):
            return 43004, "无效的HTTP HEADER Content-Type"
        message = received.json
        if not isinstance(message, dict) or message.get("msgtype") not in ("text", "markdown"):
            return 40035, "缺少参数 msgtype"
        if message["msgtype"] == "markdown":
            markdown = message.get("markdown") or {}
            if not markdown.get("title") or not markdown.get("text"):
                return 40035, "缺少参数 markdown"
        return None


@pytest.fixture
def fake_wecom():
    """A FakeWeCom with the default key, closed after the test."""
    with FakeWeCom() as robot:
        yield robot


@pytest.fixture
def fake_dingtalk():
    """A FakeDingTalk with the default token and secret, closed after the test."""
    with FakeDingTalk() as robot:
        yield robot
