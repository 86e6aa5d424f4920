"""A receiver of OrderHub's outbound webhooks, as an integrator would write one from
docs/api.md: it recomputes the signature over "<timestamp>." + raw body with the shared
secret and refuses a bad one (401) or a timestamp more than five minutes off (400), and it
remembers what it accepted once per delivery id (a retry of a delivery that got through is
acknowledged, not counted twice). Answers can be queued per test ("server_error": 500,
"timeout": no answer until the client gives up). `port` pins the port, so a test can start
the receiver only after the hub has begun trying, on the address it was given."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 300
PATH = "/hooks/orderhub"


@dataclass
class Received:
    headers: dict
    body: bytes
    status: int


def signature_valid(*, secret: str, headers: dict, body: bytes) -> bool:
    """The verification docs/api.md shows, written again here (not imported from the hub)."""
    timestamp = headers.get("x-orderhub-timestamp", "")
    given = headers.get("x-orderhub-signature", "")
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


class FakeWebhookReceiver:
    def __init__(self, *, secret: str, port: int = 0):
        self.secret = secret
        self.requests: list[Received] = []
        self.accepted: dict[str, dict] = {}  # delivery id -> payload
        self.answers: deque = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PATH}"

    def _decide(self, headers: dict, body: bytes) -> tuple[int, bytes | None]:
        if not signature_valid(secret=self.secret, headers=headers, body=body):
            return 401, b'{"error":"bad signature"}'
        try:
            fresh = abs(time.time() - int(headers.get("x-orderhub-timestamp", "0"))) <= TOLERANCE_SECONDS
        except ValueError:
            fresh = False
        if not fresh:
            return 400, b'{"error":"stale timestamp"}'
        answer = self.answers.popleft() if self.answers else "ok"
        if answer == "server_error":
            return 500, b"<html><body>500 Internal Server Error</body></html>"
        if answer == "timeout":
            return 0, None
        self.accepted.setdefault(headers["x-orderhub-delivery"], json.loads(body))
        return 200, b'{"ok":true}'

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the hub's session expects

            def log_message(self, *args):
                return

            def setup(self):
                super().setup()
                # Headers and body go out in two writes: without this, Nagle's algorithm and the
                # client's delayed ACK hold the body back some 40 ms on every keep-alive request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path != PATH:
                    status, reply = 404, b"not found"
                else:
                    with fake._lock:
                        status, reply = fake._decide(headers, body)
                with fake._lock:
                    fake.requests.append(Received(headers=headers, body=body, status=status))
                if reply is None:
                    fake._release.wait(30)
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        return Handler
