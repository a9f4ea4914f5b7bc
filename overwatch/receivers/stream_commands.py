"""Click commands for the ZMQ receiver (``overwatch receive zmq``) and ``overwatch replay``.

``zmq_command`` hangs from :data:`overwatch.receivers.commands.receive_group`.

Both stop cleanly on Ctrl-C or SIGTERM: the signal sets a stop event that the
loops check between messages, so no file is left half written. The parts they
run are imported inside the commands, so ``overwatch --help`` does not load ZMQ.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from overwatch.context import AppContext
from overwatch.context import pass_app

__all__ = ["replay_command", "zmq_command"]


def _stop_on_signals() -> threading.Event:
    """An event set by SIGINT/SIGTERM (when running in the main thread)."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        click.echo(f"{signal.Signals(signum).name}: stopping", err=True)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
    return stop


@click.command("zmq")
@click.option(
    "--connect",
    "endpoint",
    required=True,
    help="ZMQ endpoint of the publisher or merger, e.g. tcp://hlt-merger:60323.",
)
@click.option(
    "--mode",
    type=click.Choice(["sub", "req"]),
    default="sub",
    show_default=True,
    help="sub: subscribe to a publisher; req: request from a merger every --interval seconds.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=10.0,
    show_default=True,
    help="Seconds between requests in req mode.",
)
@click.option(
    "--reply-timeout",
    type=click.FloatRange(min=0.5),
    default=30.0,
    show_default=True,
    help="req mode: seconds to wait for a reply before reconnecting.",
)
@pass_app
def zmq_command(
    app: AppContext, endpoint: str, mode: str, interval: float, reply_timeout: float
) -> None:
    """Receive HLT snapshots over ZMQ and write them into the data directory."""
    from overwatch.receivers.heartbeats import Heartbeat  # noqa: PLC0415
    from overwatch.receivers.zmqreceiver import ZmqReceiver  # noqa: PLC0415

    settings = app.settings
    app.require_writable_data_dir()
    heartbeat = Heartbeat(app.database(), f"zmq {endpoint}", "zmq")
    receiver = ZmqReceiver(
        endpoint,
        data_dir=settings.data_dir,
        tz=settings.tz,
        max_bytes=settings.zmq_max_bytes,
        mode="req" if mode == "req" else "sub",
        interval=interval,
        reply_timeout=reply_timeout,
        on_file=heartbeat.zmq_file,
        on_refused=heartbeat.refused,
    )
    stats = receiver.run(_stop_on_signals())
    click.echo(
        f"zmq receiver stopped: {stats.stored} stored, {stats.duplicates} duplicate(s), "
        f"{stats.refused} refused, {stats.failed} failed"
    )


@click.command("replay")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Replay this many times faster than real time ('inf': no waiting).",
)
@click.option("--as-run", type=click.IntRange(1, 2**31 - 1), help="Renumber the files as this run.")
@click.option(
    "--zmq-bind",
    "endpoint",
    help="Serve the files to ZMQ receivers on this endpoint instead of the data directory.",
)
@click.option(
    "--mode",
    type=click.Choice(["sub", "req"]),
    default="sub",
    show_default=True,
    help="With --zmq-bind: the receivers' mode (sub: publish; req: answer requests).",
)
@click.option(
    "--hlt-mode",
    type=click.Choice(["A", "B", "C", "U"]),
    help="Give every file this HLT mode (default: keep it, E becomes C).",
)
@click.option(
    "--now", "now_times", is_flag=True, help="Stamp files with the replay time, not the original."
)
@pass_app
def replay_command(
    app: AppContext,
    sources: tuple[Path, ...],
    speed: float,
    as_run: int | None,
    endpoint: str | None,
    mode: str,
    hlt_mode: str | None,
    now_times: bool,
) -> None:
    """Replay archived receiver files (Run<N>/ folders or loose files) in time order.

    Files go into the data directory through the atomic writer, or with
    --zmq-bind out to ZMQ receivers (`overwatch receive zmq`).
    """
    from overwatch.receivers.heartbeats import Heartbeat  # noqa: PLC0415
    from overwatch.receivers.replay import DataDirSink  # noqa: PLC0415
    from overwatch.receivers.replay import ReplayedFile  # noqa: PLC0415
    from overwatch.receivers.replay import ReplayError  # noqa: PLC0415
    from overwatch.receivers.replay import SnapshotSink  # noqa: PLC0415
    from overwatch.receivers.replay import replay  # noqa: PLC0415
    from overwatch.receivers.zmqsender import ZmqPublisher  # noqa: PLC0415
    from overwatch.receivers.zmqsender import ZmqReplier  # noqa: PLC0415

    settings = app.settings
    sink: SnapshotSink
    heartbeat: Heartbeat | None = None
    if endpoint is None:
        # Into the data directory: this replay is a receiver of the site; over ZMQ the
        # receiving end records the heartbeat.
        app.require_writable_data_dir()
        heartbeat = Heartbeat(app.database(), f"replay {sources[0].name}", "replay")
        sink = DataDirSink(settings.data_dir, settings.tz)
    elif mode == "req":
        sink = ZmqReplier(endpoint)
    else:
        sink = ZmqPublisher(endpoint)

    def progress(event: ReplayedFile) -> None:
        if heartbeat is not None:
            heartbeat.replayed(event)
        click.echo(
            f"[{event.index}/{event.total}] {event.source.name} -> {event.file_name} "
            f"({event.nbytes} bytes, {event.delivery})"
        )

    stop = _stop_on_signals()
    try:
        summary = replay(
            sources,
            sink=sink,
            tz=settings.tz,
            speed=speed,
            as_run=as_run,
            hlt_mode=hlt_mode,
            now_times=now_times,
            on_file=progress,
            stop_event=stop,
        )
    except ReplayError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        sink.close()
    for path, reason in summary.skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    state = "stopped" if summary.stopped else "done"
    click.echo(
        f"replay {state}: {summary.delivered} of {summary.total} file(s) delivered, "
        f"{summary.duplicates} duplicate(s), {summary.refused} refused"
    )
    sys.exit(130 if summary.stopped else 0)
