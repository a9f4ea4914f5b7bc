"""The ZMQ receiver over real sockets: sub and req mode, slow joiners, restarts, bad messages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest
import zmq

from overwatch.receivers.replay import ReplaySummary
from overwatch.receivers.replay import replay
from overwatch.receivers.zmqsender import Acknowledgement
from overwatch.receivers.zmqsender import ZmqPublisher
from overwatch.receivers.zmqsender import ZmqReplier
from tests import rootfiles
from tests.receivers.zmqsupport import TIMEOUT
from tests.receivers.zmqsupport import ZURICH
from tests.receivers.zmqsupport import RunningReceiver
from tests.receivers.zmqsupport import free_endpoint
from tests.receivers.zmqsupport import root_files
from tests.receivers.zmqsupport import running_receiver
from tests.receivers.zmqsupport import wait_until
from tests.receivers.zmqsupport import write_archive

RUN = 294832
WORKTREE = Path(__file__).resolve().parents[2]


@pytest.fixture
def archive(tmp_path: Path) -> list[Path]:
    return write_archive(tmp_path / "archive", RUN, minutes=4)


def _replay_bounded(archive: list[Path], sink: ZmqPublisher | ZmqReplier) -> ReplaySummary:
    """Replay as fast as possible; a timer stops it should the other side never answer."""
    stop = threading.Event()
    timer = threading.Timer(TIMEOUT, stop.set)
    timer.start()
    try:
        return replay(
            archive[0].parents[1], sink=sink, tz=ZURICH, speed=float("inf"), stop_event=stop
        )
    finally:
        timer.cancel()
        sink.close()


def _names(paths: list[Path]) -> list[str]:
    return sorted(path.name for path in paths)


def test_sub_receiver_started_before_the_replay_loses_no_snapshot(
    archive: list[Path], data_dir: Path
) -> None:
    endpoint = free_endpoint()
    with running_receiver(endpoint, data_dir) as running:
        # The receiver is connecting before anything is bound: the slow-joiner case.
        summary = _replay_bounded(archive, ZmqPublisher(endpoint))
        assert (summary.delivered, summary.stopped) == (len(archive), False)
        wait_until(lambda: len(running.outcomes) == len(archive), "every snapshot")
    assert root_files(data_dir) == _names(archive)
    for source in archive:
        assert (data_dir / source.name).read_bytes() == source.read_bytes()
    assert running.refusals == []
    assert [o.result for o in running.outcomes] == ["stored"] * len(archive)


def test_req_receiver_gets_every_snapshot_and_acknowledges_each(
    archive: list[Path], data_dir: Path
) -> None:
    endpoint = free_endpoint()
    acks: list[Acknowledgement] = []
    with running_receiver(endpoint, data_dir, mode="req") as running:
        summary = _replay_bounded(archive, ZmqReplier(endpoint, on_ack=acks.append))
    assert (summary.delivered, summary.stopped) == (len(archive), False)
    assert root_files(data_dir) == _names(archive)
    assert [ack.result for ack in acks] == ["stored"] * len(archive)
    assert running.receiver.stats.stored == len(archive)


def test_req_receiver_restarted_midway_loses_and_duplicates_nothing(
    archive: list[Path], data_dir: Path
) -> None:
    endpoint = free_endpoint()
    acks: list[Acknowledgement] = []
    replier = ZmqReplier(endpoint, on_ack=acks.append)
    result: list[ReplaySummary] = []
    # The replay starts first and queues everything; receivers come and go.
    sender = threading.Thread(target=lambda: result.append(_replay_bounded(archive, replier)))
    sender.start()

    def crash_after_third(running: RunningReceiver) -> None:
        # Stopping inside on_file means the third snapshot is stored but never acknowledged.
        if len(running.outcomes) == 3:
            running.stop.set()

    with running_receiver(endpoint, data_dir, mode="req", after_file=crash_after_third) as first:
        first.thread.join(TIMEOUT)
    assert first.receiver.stats.stored == 3
    with running_receiver(endpoint, data_dir, mode="req") as second:
        sender.join(TIMEOUT)
    assert not sender.is_alive()
    assert result[0].stopped is False
    assert root_files(data_dir) == _names(archive)
    # The unacknowledged snapshot came again and was recognised, not written twice.
    assert second.receiver.stats.duplicates == 1
    assert second.receiver.stats.stored == len(archive) - 3
    assert sorted(ack.result for ack in acks) == ["duplicate"] + ["stored"] * (len(archive) - 1)


def test_sub_receiver_restarted_while_publishing_leaves_no_duplicate_or_partial_file(
    archive: list[Path], data_dir: Path
) -> None:
    endpoint = free_endpoint()

    def leave_after_second(running: RunningReceiver) -> None:
        if len(running.outcomes) == 2:
            running.stop.set()

    publisher = ZmqPublisher(endpoint)
    result: list[ReplaySummary] = []
    with running_receiver(endpoint, data_dir, after_file=leave_after_second) as first:
        sender = threading.Thread(target=lambda: result.append(_replay_bounded(archive, publisher)))
        sender.start()
        first.thread.join(TIMEOUT)
        with running_receiver(endpoint, data_dir) as second:
            sender.join(TIMEOUT)
            assert result[0].delivered == len(archive)
    stored = root_files(data_dir)
    # PUB/SUB may lose what was in flight to the receiver that left, nothing more:
    # every file is whole, none is there twice, no temporary is left behind.
    assert len(stored) == len(set(stored)) >= 2
    assert set(stored) <= set(_names(archive))
    by_name = {path.name: path for path in archive}
    for name in stored:
        assert (data_dir / name).read_bytes() == by_name[name].read_bytes()
    assert second.refusals == first.refusals == []


def _publish_raw(endpoint: str, messages: list[list[bytes]]) -> None:
    context = zmq.Context.instance()
    with context.socket(zmq.XPUB) as pub:
        pub.setsockopt(zmq.LINGER, 5000)
        pub.bind(endpoint)
        assert pub.poll(int(TIMEOUT * 1000)), "no subscriber came"
        assert pub.recv() == b"\x01"
        for frames in messages:
            pub.send_multipart(frames)


def test_sub_receiver_refuses_malformed_messages_and_keeps_running(
    data_dir: Path, tmp_path: Path
) -> None:
    good = rootfiles.write_th1_file(tmp_path / "good.root", count=2).read_bytes()

    def header(**changes: object) -> bytes:
        fields = {"version": 1, "subsystem": "EMC", "run_number": RUN, "hlt_mode": "C"}
        return orjson.dumps({**fields, "time": 1540194835, **changes})

    limit = len(good) + 100
    bad = {
        "header is not JSON": [b"{oops", good],
        "expected 2 frames": [header()],
        "run_number 0 must be between": [header(run_number=0), good],
        "subsystem '../../etc' must be": [header(subsystem="../../etc"), good],
        "no 'root' signature": [header(), b"<html>not root</html>"],
        f"{limit + 1} bytes exceeds the limit": [header(), b"root" + bytes(limit - 3)],
    }
    endpoint = free_endpoint()
    with running_receiver(endpoint, data_dir, max_bytes=limit) as running:
        _publish_raw(endpoint, [*bad.values(), [header(), good]])
        wait_until(lambda: len(running.outcomes) == 1, "the good snapshot after the bad ones")
        assert running.thread.is_alive()
    assert len(running.refusals) == len(bad)
    for expected, reason in zip(bad, running.refusals, strict=True):
        assert expected in reason
    assert root_files(data_dir) == ["EMChistos_294832_C_2018_10_22_9_53_55.root"]
    assert running.receiver.stats.refused == len(bad)


def test_req_receiver_answers_a_refused_snapshot_in_its_next_request(
    data_dir: Path, tmp_path: Path
) -> None:
    good = rootfiles.write_th1_file(tmp_path / "good.root", count=2).read_bytes()
    endpoint = free_endpoint()
    requests: list[dict[str, object]] = []
    context = zmq.Context.instance()
    with context.socket(zmq.REP) as rep:
        rep.setsockopt(zmq.LINGER, 0)
        rep.bind(endpoint)
        with running_receiver(endpoint, data_dir, mode="req") as running:
            bad_run = orjson.dumps(
                {"version": 1, "subsystem": "EMC", "run_number": -1, "hlt_mode": "C",
                 "time": 1540194835, "id": "s-1"}
            )  # fmt: skip
            replies = [[bad_run, good], [b"garbage"], [orjson.dumps({"status": "empty"})]]
            for reply in replies:
                assert rep.poll(int(TIMEOUT * 1000)), "no request came"
                requests.append(orjson.loads(rep.recv()))
                rep.send_multipart(reply)
            assert rep.poll(int(TIMEOUT * 1000)), "no request came"
            requests.append(orjson.loads(rep.recv()))
            rep.send(orjson.dumps({"status": "empty"}))
            assert running.thread.is_alive()
    assert requests[0] == {"version": 1, "ack": None}
    ack = requests[1]["ack"]
    assert isinstance(ack, dict)
    assert (ack["id"], ack["result"]) == ("s-1", "refused")
    assert "run_number -1 must be between" in str(ack["reason"])
    assert requests[2]["ack"] is None
    assert requests[3]["ack"] is None
    assert len(running.refusals) == 2  # the bad run and the garbage reply
    assert root_files(data_dir) == []


def _overwatch(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    env.pop("OVERWATCH_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "overwatch", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_receive_zmq_and_replay_commands_work_together(archive: list[Path], tmp_path: Path) -> None:
    data_dir = tmp_path / "received"
    endpoint = free_endpoint()
    receiver = _overwatch(
        "--data-dir", str(data_dir), "receive", "zmq", "--connect", endpoint,
        "--mode", "req", "--interval", "0.1", cwd=tmp_path,
    )  # fmt: skip
    try:
        sender = _overwatch(
            "--data-dir", str(tmp_path / "unused"), "replay", str(archive[0].parents[1]),
            "--speed", "inf", "--zmq-bind", endpoint, "--mode", "req", cwd=tmp_path,
        )  # fmt: skip
        out, _ = sender.communicate(timeout=TIMEOUT)
        assert sender.returncode == 0, out
        assert f"replay done: {len(archive)} of {len(archive)} file(s) delivered" in out
        assert f"[1/{len(archive)}] {archive[0].name} -> {archive[0].name}" in out
    finally:
        receiver.send_signal(signal.SIGTERM)
        received, _ = receiver.communicate(timeout=TIMEOUT)
    assert receiver.returncode == 0, received
    assert f"zmq receiver stopped: {len(archive)} stored, 0 duplicate(s), 0 refused" in received
    assert [n for n in root_files(data_dir) if n.endswith(".root")] == _names(archive)
