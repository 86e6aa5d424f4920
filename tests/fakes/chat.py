"""Local chat robot servers that speak WeCom's and DingTalk's wire formats and check what the
real ones check (the key or token, DingTalk's timestamp and signature, the JSON body).

    with FakeWeCom(key="k1") as robot:
        chat_send(RobotConfig("wecom", robot.url), title="t", text="x")
        robot.requests[-1].json

Answers can be queued per test: robot.answers.extend(["rate_limit", "ok"]); the default is
"ok". Other answers: "server_error" (HTTP 500), "bad_json", "timeout" (no answer until the
client has given up).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    path: str
    query: dict
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))


class _FakeRobot:
    path = ""
    rate_limit_code = 0

    def __init__(self):
        self.requests: list[Received] = []
        self.answers: deque[str] = deque()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._release.set()  # let a "timeout" answer finish
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    # -- what subclasses check --------------------------------------------------------------
    def check(self, received: Received) -> tuple[int, str] | None:
        """None when the request is acceptable, else (errcode, errmsg)."""
        raise NotImplementedError

    # -- the server -------------------------------------------------------------------------
    def _handler_class(self):
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                return

            def do_POST(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(
                    path=parts.path,
                    query={k: v[0] for k, v in parse_qs(parts.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                robot.requests.append(received)
                answer = robot.answers.popleft() if robot.answers else "ok"
                if answer == "timeout":
                    robot._release.wait(10)
                    return
                if answer == "server_error":
                    self._reply(500, b"internal error")
                    return
                if answer == "bad_json":
                    self._reply(200, b"<html>gateway</html>")
                    return
                problem = robot.check(received)
                if problem is None and answer == "rate_limit":
                    problem = (robot.rate_limit_code, "send too fast, exceed 20 times per minute")
                code, message = problem or (0, "ok")
                self._reply(200, json.dumps({"errcode": code, "errmsg": message}).encode())

            def _reply(self, status: int, body: bytes):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    @staticmethod
    def _json_ok(received: Received) -> bool:
        if not received.headers.get("content-type", "").startswith("application/json"):
            return False
        try:
            return isinstance(received.json, dict)
        except ValueError:
            return False


class FakeWeCom(_FakeRobot):
    path = "/cgi-bin/webhook/send"
    rate_limit_code = 45009

    def __init__(self, *, key: str = "wecom-test-key"):
        self.key = key
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.path}?key={self.key}"

    def check(self, received):
        if received.path != self.path or received.query.get("key") != self.key:
            return 93000, "invalid webhook url"
        if not self._json_ok(received):
            return 40008, "invalid message type"
        return None


class FakeDingTalk(_FakeRobot):
    path = "/robot/send"
    rate_limit_code = 130101

    def __init__(self, *, token: str = "dingtalk-test-token", secret: str = "SECdingtalktest"):
        self.token = token
        self.secret = secret
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.path}?access_token={self.token}"

    def check(self, received):
        if received.path != self.path or received.query.get("access_token") != self.token:
            return 300001, "token is not exist"
        timestamp, sign = received.query.get("timestamp", ""), received.query.get("sign", "")
        if not timestamp.isdigit() or abs(int(timestamp) - time.time() * 1000) > 3600 * 1000:
            return 310000, "invalid timestamp"
        digest = hmac.new(self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(sign, base64.b64encode(digest).decode()):
            return 310000, "sign not match"
        if not self._json_ok(received):
            return 40035, "invalid message"
        return None
