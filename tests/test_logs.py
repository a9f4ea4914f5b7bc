"""Logging set-up: JSON lines, and Sentry only with a DSN (to a real local HTTP endpoint)."""

from __future__ import annotations

import gzip
import importlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest

SCRIPT = """
import logging, sys
from overwatch.config import load_settings
from overwatch.logs import configure_logging, init_sentry
settings = load_settings(environ={{}}, overrides={overrides!r}, use_default_file=False)
configure_logging(settings)
started = init_sentry(settings)
log = logging.getLogger("overwatch.test")
log.info("plain", extra={{"run": 294832, "subsystem": "EMC"}})
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it broke")
if started:
    import sentry_sdk
    sentry_sdk.flush(10)
print("SENTRY", "sentry_sdk" in sys.modules, started)
"""


def _run(overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(overrides=overrides)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_json_lines_carry_the_extra_fields_and_the_traceback() -> None:
    done = _run({"log_format": "json"})
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [entry["message"] for entry in lines] == ["plain", "it broke"]
    assert lines[0]["run"] == 294832
    assert lines[0]["subsystem"] == "EMC"
    assert lines[0]["level"] == "INFO"
    assert lines[0]["logger"] == "overwatch.test"
    assert "ZeroDivisionError" in lines[1]["exception"]
    # Without a DSN, Sentry is never imported.
    assert "SENTRY False False" in done.stdout


def test_text_format_is_the_classic_line() -> None:
    done = _run({"log_format": "text"})
    assert " INFO overwatch.test: plain" in done.stderr.splitlines()[0]


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            body = importlib.import_module("brotli").decompress(body)
        self.received.append((self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sentry_endpoint() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    pytest.importorskip("sentry_sdk")
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://publickey@127.0.0.1:{server.server_port}/7", _Collector.received
    finally:
        server.shutdown()
        server.server_close()


def test_errors_reach_sentry_when_a_dsn_is_set(
    sentry_endpoint: tuple[str, list[tuple[str, bytes]]],
) -> None:
    dsn, received = sentry_endpoint
    done = _run({"sentry_dsn": dsn})
    assert "SENTRY True True" in done.stdout
    paths = [path for path, _ in received]
    assert any(path.startswith("/api/7/envelope/") for path in paths), paths
    assert any(b"ZeroDivisionError" in body for _, body in received)
