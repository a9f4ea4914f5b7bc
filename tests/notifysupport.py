"""Real receivers for notification tests: an SMTP server, HTTP receivers, a dead port.

- :class:`SmtpSink`: aiosmtpd on a free local port; keeps every message it accepts.
- :class:`HttpReceiver`: a threaded ``http.server`` keeping every JSON POST; with
  ``status`` it answers that status instead of 200.
- :class:`HangingServer`: accepts connections and never answers.
- :func:`refused_port`: a port nobody listens on (connection refused).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.servers import free_port

__all__ = ["HangingServer", "HttpReceiver", "SmtpSink", "refused_port", "wait_for"]


def refused_port() -> int:
    """A local port with no listener: connecting is refused at once."""
    return free_port()


def wait_for(predicate: Any, timeout: float = 20.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


class _Handler:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; ``messages`` holds what it accepted."""

    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[Message]:
        return self.handler.messages

    def url(self, to: str = "shift@example.org") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=overwatch@example.org&to={to}&mode=insecure"


class HttpReceiver:
    """A threaded HTTP server that records JSON POSTs (``posts``)."""

    def __init__(self, status: int = 200) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.posts.append(json.loads(body or b"{}"))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HttpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"


class HangingServer:
    """Accepts TCP connections and never answers; ``accepted`` counts them."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.port = int(self.socket.getsockname()[1])
        self.accepted = 0
        #: time.monotonic() of each accepted connection.
        self.accepted_at: list[float] = []
        self.connections: list[socket.socket] = []
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.socket.settimeout(0.1)
        while not self.closing.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self.accepted_at.append(time.monotonic())
            self.connections.append(connection)

    def __enter__(self) -> HangingServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.closing.set()
        self.thread.join(5)
        for connection in self.connections:
            connection.close()
        self.socket.close()

    def url(self, read_timeout: float = 120.0) -> str:
        # apprise's own read timeout far beyond the delivery's deadline: only ours ends it.
        return f"json://127.0.0.1:{self.port}/hook?rto={read_timeout:g}"
