"""How an accepted upload is stored: one copy, durable before any database lock, counted once.

These run the upload view in-process (Flask test client) on the real SQLite or
PostgreSQL database, so they can look at the file system and the database while
an upload is being stored.
"""

from __future__ import annotations

import io
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient

from overwatch.config import Settings
from overwatch.receivers.dqm import EXTENSION
from overwatch.receivers.rootcheck import ContentError
from overwatch.receivers.rootcheck import inspect_root_file
from overwatch.receivers.server import create_receiver_app
from overwatch.receivers.upload import receive_body
from overwatch.storage import Database
from overwatch.storage.receivers import list_receivers
from overwatch.storage.receivers import record_receiver_activity
from overwatch.storage.receivers import record_receivers_activity
from tests import rootfiles
from tests.receivers.dqmserver import agent_headers
from tests.receivers.dqmserver import histogram_file
from tests.receivers.dqmserver import root_bytes


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[FlaskClient]:
    app = create_receiver_app(settings)
    try:
        yield app.test_client()
    finally:
        app.extensions[EXTENSION].db.dispose()


def _post(client: FlaskClient, token: str, data: bytes, stamp: int = 140844) -> Any:
    return client.post(
        "/rest/api/files",
        data={"file": (io.BytesIO(data), "file")},
        headers=agent_headers(token, stamp=stamp),
        content_type="multipart/form-data",
    )


def test_the_received_file_is_published_by_a_link_not_copied(settings: Settings) -> None:
    data = histogram_file(settings.data_dir.parent, seed=3)
    environ = {
        "CONTENT_TYPE": "application/octet-stream",
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
    }
    target = settings.data_dir / "EMChistos_1_DQM_2020_01_01_00_00_00.root"
    with receive_body(environ, settings.data_dir, max_bytes=1 << 20, timeout=10) as body:
        assert body.linkable, "this Linux host names O_TMPFILE files through /proc"
        body.make_durable()
        body.publish(target)
        received_inode = os.fstat(body.file.fileno()).st_ino
        with pytest.raises(FileExistsError):
            body.publish(target)  # never overwrites
    assert target.read_bytes() == data
    assert target.stat().st_ino == received_inode  # the same file: the body was written once
    assert sorted(path.name for path in settings.data_dir.iterdir()) == [target.name]


def test_the_content_is_fsynced_while_the_database_is_not_write_locked(
    settings: Settings,
    db: Database,
    client: FlaskClient,
    token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not db.is_sqlite:
        pytest.skip("PostgreSQL locks the claimed row only, never the whole database")
    database_file = db.url.database
    assert database_file is not None
    observed: list[bool] = []
    real_fsync = os.fsync

    def fsync_and_probe(fd: int) -> None:
        real_fsync(fd)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            return  # the directory entry: synced inside the short claim transaction
        probe = sqlite3.connect(database_file, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")  # fails at once while another writer holds the lock
            probe.rollback()
            observed.append(False)
        except sqlite3.OperationalError:
            observed.append(True)
        finally:
            probe.close()

    monkeypatch.setattr(os, "fsync", fsync_and_probe)
    response = _post(client, token, histogram_file(settings.data_dir.parent, seed=4))
    assert response.status_code == 200, response.get_json()
    assert observed == [False]  # one content fsync, and no database lock held across it


def test_an_upload_and_its_duplicate_are_counted_once_each_for_endpoint_and_agent(
    settings: Settings, db: Database, client: FlaskClient, token: str
) -> None:
    data = histogram_file(settings.data_dir.parent, seed=5)
    first = _post(client, token, data).get_json()
    again = _post(client, token, data, stamp=140845).get_json()
    assert first["duplicate"] is False
    assert again["duplicate"] is True
    assert again["filename"] == first["filename"]
    stored = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    assert [p.name for p in stored] == [first["filename"]]
    with db.new_session() as session:
        rows = {row.name: row for row in list_receivers(session)}
    for name in ("dqm", "dqm:EMC"):
        assert rows[name].accepted == 2
        assert rows[name].bytes == len(data)  # the duplicate stored nothing
        assert rows[name].last_file == first["filename"]


def test_a_refusal_keeps_the_last_file_and_an_acceptance_keeps_the_last_reason(
    db: Database,
) -> None:
    record_receivers_activity(db, [("dqm", "dqm"), ("dqm:EMC", "dqm-agent")], accepted=1,
                              nbytes=10, last_file="a.root")  # fmt: skip
    record_receiver_activity(db, name="dqm", kind="dqm", refused=1, reason="bad")
    record_receiver_activity(db, name="dqm", kind="dqm", accepted=1, nbytes=5, last_file="b.root")
    with db.new_session() as session:
        rows = {row.name: row for row in list_receivers(session)}
    assert (rows["dqm"].accepted, rows["dqm"].refused, rows["dqm"].bytes) == (2, 1, 15)
    assert rows["dqm"].last_file == "b.root"
    assert rows["dqm"].last_refusal_reason == "bad"
    assert (rows["dqm:EMC"].accepted, rows["dqm:EMC"].last_file) == (1, "a.root")
    assert rows["dqm:EMC"].last_refusal_reason is None


def _first_block(data: bytes) -> tuple[int, int]:
    """Offset and compressed length of the first zlib block of the histogram."""
    start = data.index(b"ZL", data.index(b"TH1D"))
    return start, data[start + 3] | (data[start + 4] << 8) | (data[start + 5] << 16)


@pytest.mark.parametrize("damage", ["checksum", "cut stream"])
def test_a_damaged_compressed_block_is_refused(tmp_path: Path, damage: str) -> None:
    values = np.random.default_rng(1).poisson(5, 50_000).astype(float)
    data = bytearray(root_bytes({"h": rootfiles.th1("h", values, kind="D")}, tmp_path))
    start, length = _first_block(data)
    end = start + 9 + length
    if damage == "checksum":
        data[end - 1] ^= 0xFF  # the stream's Adler-32
        expected = "cannot inflate"
    else:
        # Drop the stream's last 200 bytes but keep every size in the file consistent.
        data[end - 200 : end] = bytes(200)
        expected = "cannot inflate|incomplete|inflates to"
    with pytest.raises(ContentError, match=expected):
        inspect_root_file(io.BytesIO(bytes(data)), len(data), max_inflated=1 << 30)
