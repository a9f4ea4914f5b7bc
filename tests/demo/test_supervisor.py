"""The demo's processes stop together: on a stop signal, when one of them ends, and by
force when one will not stop. Real child processes; the stop signal is sent to this
process while the supervisor's handler is installed, as Ctrl-C would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from collections.abc import Iterator

import pytest

from overwatch.demo.supervisor import STOP_SIGNALS
from overwatch.demo.supervisor import Process
from overwatch.demo.supervisor import run_side_by_side

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
#: Ignores SIGTERM (and says so once it does), like a child stuck in its clean-up.
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(600)",
]


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The children a test started; any left running at the end fail it (after a kill)."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    running = [child for child in started if child.poll() is None]
    for child in running:
        child.kill()
        child.wait()
    for child in started:
        if child.stdout is not None:
            child.stdout.close()
    assert not running, "a child outlived run_side_by_side"


def _start(command: list[str], into: list[subprocess.Popen[bytes]]) -> Callable[[], Process]:
    def start() -> Process:
        stubborn = command is STUBBORN
        output = subprocess.PIPE if stubborn else None
        child = subprocess.Popen(command, stdout=output)
        into.append(child)
        if stubborn:
            assert child.stdout is not None
            assert child.stdout.readline() == b"ready\n"
        return child

    return start


def _then_interrupt(start: Callable[[], Process]) -> Callable[[], Process]:
    """``start``, then Ctrl-C to this process (whose handler is the supervisor's now)."""

    def start_and_interrupt() -> Process:
        child = start()
        os.kill(os.getpid(), signal.SIGINT)
        return child

    return start_and_interrupt


def test_a_stop_signal_stops_every_child_and_restores_the_handlers(
    children: list[subprocess.Popen[bytes]],
) -> None:
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    status = run_side_by_side(
        [
            ("first", _start(SLEEPER, children)),
            ("second", _then_interrupt(_start(SLEEPER, children))),
        ]
    )
    assert status == 0
    assert [child.returncode for child in children] == [-signal.SIGTERM, -signal.SIGTERM]
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before


def test_a_child_that_ends_on_its_own_stops_the_others(
    children: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]
) -> None:
    status = run_side_by_side(
        [
            ("sleeper", _start(SLEEPER, children)),
            ("web app", _start([sys.executable, "-c", "raise SystemExit(3)"], children)),
        ]
    )
    assert status == 1
    assert [child.returncode for child in children] == [-signal.SIGTERM, 3]
    assert "the web app stopped on its own (exit status 3); stopping the rest" in (
        capsys.readouterr().err
    )


def test_a_child_that_ignores_sigterm_is_killed_after_the_stop_time(
    children: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]
) -> None:
    status = run_side_by_side(
        [
            ("sleeper", _start(SLEEPER, children)),
            ("daemon", _then_interrupt(_start(STUBBORN, children))),
        ],
        stop_seconds=0.5,
    )
    assert status == 1
    assert [child.returncode for child in children] == [-signal.SIGTERM, -signal.SIGKILL]
    assert f"the daemon (pid {children[1].pid}) did not stop within 0.5 s: killed" in (
        capsys.readouterr().err
    )
