"""Hostile uploads, a receiver killed mid-write, and 50 concurrent uploads, against real gunicorn."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests

from overwatch.config import Settings
from overwatch.processing.scan import scan
from overwatch.processing.worker import Worker
from overwatch.receivers.filenames import is_candidate
from overwatch.storage import Database
from overwatch.storage.receivers import list_receivers
from tests import rootfiles
from tests.receivers.dqmserver import DqmServer
from tests.receivers.dqmserver import agent_headers
from tests.receivers.dqmserver import histogram_file
from tests.receivers.dqmserver import megabyte_file
from tests.receivers.dqmserver import multipart
from tests.receivers.dqmserver import root_bytes

FILES = "/rest/api/files"


def _raw_request(port: int, head: bytes, body_parts: list[bytes], pause: float = 0.0) -> bytes:
    """Send bytes no HTTP library would (NUL in a header, a stalling body); the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        for part in body_parts:
            sock.sendall(part)
            time.sleep(pause)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"}" in chunk:
                break
        return b"".join(chunks)


def _entries(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*"))


def test_hostile_uploads_get_a_reason_and_leave_nothing_behind(
    dqm_server: DqmServer, settings: Settings, db: Database, token: str, tmp_path: Path
) -> None:
    before_outside = set(_entries(tmp_path)) - {"data"}
    good = histogram_file(tmp_path)
    bomb = root_bytes({"zeros": rootfiles.th1("zeros", np.zeros(8_000_000), kind="D")}, tmp_path)
    assert len(bomb) < 1_000_000  # a small file that inflates to 64 MB, over the 32 MB limit
    no_histograms = root_bytes(
        {"notes": __import__("uproot").writing.identify.to_TObjString("hi")}, tmp_path
    )
    now = int(time.time())
    headers = agent_headers(token)
    cases: list[tuple[str, dict[str, str], bytes, int, str]] = [
        ("empty body", headers, b"", 400, "payload was empty"),
        ("random bytes", headers, os.urandom(5000), 400, "not a ROOT file"),
        ("truncated", headers, good[: len(good) // 2], 400, "truncated"),
        ("no histograms", headers, no_histograms, 400, "no histograms"),
        ("decompression bomb", headers, bomb, 400, "decompression bomb"),
        ("oversized", headers, b"root" + bytes(5 * 1024 * 1024), 413, "more than the"),
        ("dot-dot agent", {**headers, "amoreAgent": "../../etc"}, good, 400, "amoreAgent"),
        ("absolute agent", {**headers, "amoreAgent": "/tmp/x"}, good, 400, "amoreAgent"),
        ("empty agent", {**headers, "amoreAgent": ""}, good, 400, "amoreAgent"),
        ("long agent", {**headers, "amoreAgent": "A" * 33}, good, 400, "amoreAgent"),
        ("text run", {**headers, "runNumber": "Hello world"}, good, 400, "runNumber"),
        ("negative run", {**headers, "runNumber": "-5"}, good, 400, "runNumber"),
        ("zero run", {**headers, "runNumber": "0"}, good, 400, "runNumber"),
        ("huge run", {**headers, "runNumber": str(2**31)}, good, 400, "runNumber"),
        ("text time", {**headers, "timeStamp": "yesterday"}, good, 400, "timeStamp"),
        ("negative time", {**headers, "timeStamp": "-1"}, good, 400, "timeStamp"),
        ("future time", {**headers, "timeStamp": str(now + 3 * 86400)}, good, 400, "ahead"),
        ("huge time", {**headers, "timeStamp": "9" * 40}, good, 400, "timeStamp"),
        ("bad data status", {**headers, "dataStatus": "Hello world"}, good, 400, "dataStatus"),
        (
            "json body",
            {**headers, "Content-Type": "application/json"},
            b'{"a": 1}',
            415,
            "Content-Type",
        ),
        ("text body", {**headers, "Content-Type": "text/plain"}, good, 415, "Content-Type"),
    ]
    for label, case_headers, body, status, reason in cases:
        response = requests.post(
            f"{dqm_server.url}{FILES}", data=body, headers=case_headers, timeout=30
        )
        assert response.status_code == status, (label, response.text)
        answer = response.json()
        assert reason in answer["message"], (label, answer)
        assert answer["error"] == {"status": status, "reason": answer["message"]}
        assert answer["received"] is None
        assert dqm_server.alive(), label

    # A multipart form without the 'file' field, and unicode in a header value.
    form = requests.post(
        f"{dqm_server.url}{FILES}", files={"other": ("x", good)}, headers=headers, timeout=30
    )
    assert form.status_code == 400
    assert "no field 'file'" in form.json()["message"]
    unicode_agent = requests.post(
        f"{dqm_server.url}{FILES}",
        data=good,
        headers={**headers, "amoreAgent": "EMCé✓".encode()},  # type: ignore[dict-item]
        timeout=30,
    )
    assert unicode_agent.status_code == 400
    # NUL in a header never reaches the application, or is refused by it.
    head = (
        b"POST /rest/api/files HTTP/1.1\r\nHost: x\r\ntoken: " + token.encode()
        + b"\r\nrunNumber: 1\r\ntimeStamp: 1\r\namoreAgent: EM\x00C\r\nContent-Length: "
        + str(len(good)).encode() + b"\r\nConnection: close\r\n\r\n"
    )  # fmt: skip
    reply = _raw_request(dqm_server.port, head, [good])
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    # A slow client: the body stalls for longer than upload_timeout_seconds (2 s).
    slow_head = (
        b"POST /rest/api/files HTTP/1.1\r\nHost: x\r\ntoken: " + token.encode()
        + b"\r\nrunNumber: 1\r\ntimeStamp: 1\r\namoreAgent: EMC\r\nContent-Length: "
        + str(len(good)).encode() + b"\r\n\r\n"
    )  # fmt: skip
    started = time.monotonic()
    slow = _raw_request(dqm_server.port, slow_head, [good[:100], good[100:200]], pause=3.5)
    assert slow.startswith(b"HTTP/1.1 408"), slow[:300]
    assert b"stalled" in slow or b"took longer" in slow
    assert time.monotonic() - started < 20
    assert dqm_server.alive()

    # Nothing stored, nothing half-written, nothing outside the data directory.
    assert _entries(settings.data_dir) == []
    after_outside = set(_entries(tmp_path)) - {"data"}
    assert {
        entry for entry in after_outside - before_outside if not entry.startswith("overwatch.db")
    } == set()
    with db.session() as session:
        endpoint = {beat.name: beat for beat in list_receivers(session)}["dqm"]
    assert endpoint.accepted == 0
    assert endpoint.refused >= len(cases) + 3
    # And a good upload still works afterwards.
    ok = requests.post(
        f"{dqm_server.url}{FILES}", files=multipart(good), headers=headers, timeout=30
    )
    assert ok.status_code == 200, ok.text


def test_a_receiver_killed_mid_upload_keeps_every_answered_file_and_nothing_partial(
    settings: Settings, db: Database, token: str, tmp_path: Path
) -> None:
    from tests.receivers.conftest import TEST_LIMITS  # noqa: PLC0415

    server = DqmServer(settings, tmp_path, **{**TEST_LIMITS, "upload_timeout_seconds": 30}).start()
    payloads = {stamp: megabyte_file(tmp_path, stamp) for stamp in range(1_000_000, 1_000_040)}
    answered: dict[int, str] = {}
    lock = threading.Lock()

    def send(stamp: int) -> None:
        try:
            response = requests.post(
                f"{server.url}{FILES}",
                files=multipart(payloads[stamp]),
                headers=agent_headers(token, stamp=stamp),
                timeout=60,
            )
        except requests.RequestException:
            return
        if response.status_code == 200:
            with lock:
                answered[stamp] = response.json()["filename"]

    def slow_body() -> object:
        yield payloads[1_000_000][:1000]
        time.sleep(30)
        yield payloads[1_000_000][1000:]

    try:
        with ThreadPoolExecutor(8) as pool:
            stalled = pool.submit(
                lambda: requests.post(
                    f"{server.url}{FILES}",
                    data=slow_body(),
                    headers=agent_headers(token, stamp=999_999),
                    timeout=60,
                )
            )
            futures = [pool.submit(send, stamp) for stamp in payloads]
            deadline = time.monotonic() + 120
            while len(answered) < 10 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.kill()  # SIGKILL to master and workers while uploads are in flight
            for future in futures:
                future.result()
            with pytest.raises(requests.RequestException):
                stalled.result()
        assert 10 <= len(answered) < len(payloads) + 1
        # Everything the scanner would take is complete: an upload we sent, byte for byte.
        digests = {hashlib.sha256(data).hexdigest() for data in payloads.values()}
        candidates = [p for p in settings.data_dir.iterdir() if is_candidate(p.name)]
        for path in candidates:
            assert hashlib.sha256(path.read_bytes()).hexdigest() in digests, path.name
        for stamp, name in answered.items():
            assert (settings.data_dir / name).read_bytes() == payloads[stamp]

        server.start()
        # Agents retry what was not answered; what was stored before comes back as a duplicate.
        for stamp in payloads:
            send(stamp)
        assert set(answered) == set(payloads)
        listing = requests.get(f"{server.url}{FILES}", headers={"token": token}, timeout=10)
        assert sorted(listing.json()["files"]) == sorted(set(answered.values()))
    finally:
        server.stop()
    report = scan(settings, db)
    assert len(report.registered) == len(payloads)
    assert report.quarantined == []


def test_fifty_concurrent_uploads_are_each_stored_once_and_processed(
    dqm_server: DqmServer, settings: Settings, db: Database, token: str, tmp_path: Path
) -> None:
    payloads = [megabyte_file(tmp_path, seed) for seed in range(50)]
    assert all(1_000_000 < len(data) < 1_100_000 for data in payloads)

    def send(index: int) -> requests.Response:
        return requests.post(
            f"{dqm_server.url}{FILES}",
            files=multipart(payloads[index]),
            headers=agent_headers(token, run=500 + index % 5, stamp=1_500_000_000 + index),
            timeout=120,
        )

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(send, range(50)))
        repeats = list(pool.map(send, range(50)))
    assert [r.status_code for r in responses] == [200] * 50, [
        r.text for r in responses if r.status_code != 200
    ]
    assert [r.json()["duplicate"] for r in responses] == [False] * 50
    assert [r.json()["duplicate"] for r in repeats] == [True] * 50
    names = [r.json()["filename"] for r in responses]
    assert len(set(names)) == 50
    stored = sorted(p.name for p in settings.data_dir.iterdir() if is_candidate(p.name))
    assert stored == sorted(names)
    for name, data in zip(names, payloads, strict=True):
        assert (settings.data_dir / name).read_bytes() == data

    report = scan(settings, db)
    assert len(report.registered) == 50
    Worker(settings, db).run_until_idle()
    with db.session() as session:
        beats = {beat.name: beat for beat in list_receivers(session)}
    assert beats["dqm:EMC"].accepted == 100
    assert beats["dqm:EMC"].bytes == sum(len(data) for data in payloads)
