"""What every fake HTTP gateway in these tests shares (SF, ZTO, Cainiao, Alipay): a threaded
server on a free local port, the record of what arrived, answers queued per test, and the
failures any gateway can give whatever it speaks — no answer until the client gives up
("timeout"), an HTTP error page ("server_error"), an HTML page where JSON was expected
("bad_json"). A subclass says how to read a request (`parse`) and what to answer (`respond`).

    class FakeX(FakeGateway):
        path = "/api"
        def parse(self, *, path, headers, body): return Received(...)
        def respond(self, received, answer) -> bytes | None: ...   # None: hold, then drop

    with FakeX() as x:
        x.answers.extend(["server_error", "ok"]); ... x.requests[-1]
"""

from __future__ import annotations

import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

TIMEOUT_CAP_SECONDS = 30.0


class FakeGateway:
    # The one path the gateway serves (others answer 404); None to serve every path.
    path: str | None = None
    server_error_status = 500
    server_error_page = b"<html><body>500 Internal Server Error</body></html>"
    busy_page = b"<html><body>gateway busy</body></html>"
    charset = "utf-8"

    def __init__(self):
        self.requests: list = []
        self.answers: deque = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # -- what a subclass says ---------------------------------------------------------------
    def parse(self, *, path: str, headers: dict, body: bytes):
        raise NotImplementedError

    def respond(self, received, answer) -> bytes | tuple[int, bytes] | None:
        """The JSON body to send for `answer` (HTTP 200), or (status, body), or None to keep the
        client waiting until it gives up (the request was handled, the answer is lost)."""
        raise NotImplementedError

    def answer_for(self, received):
        """The answer to this request (called under the fake's lock): the next queued one, else
        "ok". A subclass may decide per request instead (by order id, by attempt)."""
        return self.answers.popleft() if self.answers else "ok"

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._release.set()  # let a held ("timeout") answer finish
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return self.base_url + (self.path or "")

    def hold(self) -> None:
        """Wait as a gateway that never answers would, until the test ends the fake."""
        self._release.wait(TIMEOUT_CAP_SECONDS)

    # -- the server -------------------------------------------------------------------------
    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                return

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                received = fake.parse(
                    path=urlsplit(self.path).path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with fake._lock:
                    fake.requests.append(received)
                    answer = fake.answer_for(received)
                if answer == "timeout":
                    fake.hold()
                    self.close_connection = True
                    return
                if answer == "server_error":
                    self._reply(fake.server_error_status, fake.server_error_page, "text/html")
                    return
                if answer == "bad_json":
                    self._reply(200, fake.busy_page, "text/html")
                    return
                if fake.path is not None and urlsplit(self.path).path != fake.path:
                    self._reply(404, b"not found", "text/plain")
                    return
                reply = fake.respond(received, answer)
                if reply is None:
                    fake.hold()
                    self.close_connection = True
                    return
                status = 200
                if isinstance(reply, tuple):  # (HTTP status, body): a refusal with its own status
                    status, reply = reply
                self._reply(status, reply, "application/json")

            def _reply(self, status: int, body: bytes, content_type: str):
                self.send_response(status)
                self.send_header("Content-Type", f"{content_type};charset={fake.charset}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
