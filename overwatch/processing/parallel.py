"""Use more than one core for one large job.

Shipping histograms between processes costs more than reading them (pickling a
thousand histograms takes longer than decoding them), so the split is by *keys*:
a forked child reads its share of the file's top-level keys itself, runs the
per-histogram hooks and the encoding, and sends back only the compressed rows.
The parent does the same for the other share, plus everything that needs all
histograms (``derived`` and ``groups``). Before forking, the parent reads the
histograms the plugin's ``summarize`` needs and fills ``context.summary``, so
both processes' ``prepare`` and ``check`` see the same job-wide values. Fork, not spawn: the child starts in
milliseconds with everything imported; it touches no database connection and
leaves with ``os._exit`` (multiprocessing's fork start does that).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from overwatch.detectors.api import DetectorPlugin
from overwatch.detectors.api import ProcessingContext
from overwatch.histograms.model import Histogram
from overwatch.processing.lifeline import exit_with_parent
from overwatch.processing.pipeline import CheckSetup
from overwatch.processing.pipeline import Encoded
from overwatch.processing.pipeline import FileRef
from overwatch.processing.pipeline import Reader
from overwatch.processing.pipeline import encode_all
from overwatch.processing.pipeline import load_state
from overwatch.processing.pipeline import summarize
from overwatch.processing.reader import CorruptFileError
from overwatch.processing.reader import Unconvertible
from overwatch.processing.reader import object_paths
from overwatch.processing.reader import read_file
from overwatch.processing.reader import top_level_names

__all__ = ["MIN_SPLIT_BYTES", "can_split", "load_and_encode"]

#: Files smaller than this are not worth a second process.
MIN_SPLIT_BYTES = 1024 * 1024


def can_split(add: Sequence[FileRef], workers: int) -> bool:
    """Whether a job is large enough, and the platform able, to use a forked helper."""
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return False
    try:
        return sum(ref.path.stat().st_size for ref in add) >= MIN_SPLIT_BYTES
    except OSError:
        return False


def _child(
    connection: Connection,
    plugin: DetectorPlugin,
    context: ProcessingContext,
    add: Sequence[FileRef],
    subtract: FileRef | None,
    names: list[str],
    level: int,
    reader: Reader,
    parent_pid: int,
    checks: CheckSetup | None,
) -> None:
    # Nothing here is worth saving once the worker is gone: end at once with it.
    exit_with_parent(parent_pid, signal.SIGKILL)
    try:
        histograms, unconvertible = load_state(add, subtract, names=names, reader=reader)
        encoded = encode_all(plugin, context, histograms, level, checks)
        connection.send(("ok", encoded, unconvertible))
    except CorruptFileError as exc:
        connection.send(("corrupt", exc.path, exc.reason))
    except BaseException:  # noqa: BLE001 - report any failure to the parent, which records it
        connection.send(("error", traceback.format_exc(), None))
    finally:
        connection.close()


def _summarize_first(
    plugin: DetectorPlugin,
    context: ProcessingContext,
    add: Sequence[FileRef],
    subtract: FileRef | None,
    keys: list[str],
    reader: Reader,
) -> None:
    """Fill ``context.summary`` before the fork, from the objects the summary needs.

    Only the objects whose paths match ``summary_pattern`` are read (none, when no
    path matches); when the paths are not all known without decoding (the file
    holds lists), the top-level keys that match are read, or else the whole state.
    """
    if plugin.summary_pattern is None or context.summary:
        return
    pattern = re.compile(plugin.summary_pattern)
    paths = object_paths(add[-1].path)
    if paths is not None:
        wanted = [name for name in paths if pattern.search(name)]
        names: list[str] | None = wanted
    else:
        names = [key for key in keys if pattern.search(key)] or None
    histograms: list[Histogram] = []
    if names is None or names:
        histograms, _ = load_state(add, subtract, names=names, reader=reader)
    summarize(plugin, context, histograms)


def load_and_encode(
    plugin: DetectorPlugin,
    context: ProcessingContext,
    add: Sequence[FileRef],
    subtract: FileRef | None,
    level: int,
    *,
    reader: Reader = read_file,
    checks: CheckSetup | None = None,
) -> tuple[list[Histogram], list[Encoded], list[Unconvertible]]:
    """Read, check and encode with two processes (both run the declarative ``checks``).

    Returns the parent's histograms (all of them when the plugin derives
    histograms, else its share), the encoded rows of all read histograms, and the
    unconvertible objects.
    """
    keys = top_level_names(add[-1].path)
    _summarize_first(plugin, context, add, subtract, keys, reader)
    child_keys = keys[: len(keys) // 2]
    own_keys = keys[len(keys) // 2 :]
    needs_all = type(plugin).derived is not DetectorPlugin.derived
    receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=_child,
        args=(
            sender,
            plugin,
            context,
            add,
            subtract,
            child_keys,
            level,
            reader,
            os.getpid(),
            checks,
        ),
        daemon=True,
    )
    child.start()
    sender.close()
    try:
        histograms, unconvertible = load_state(
            add, subtract, names=None if needs_all else own_keys, reader=reader
        )
        own = (
            [h for h in histograms if h.name.split("/", 1)[0] in set(own_keys)]
            if needs_all
            else histograms
        )
        encoded = encode_all(plugin, context, own, level, checks)
        message: Any = receiver.recv()
    finally:
        receiver.close()
        child.join()
    status, payload, extra = message
    if status == "corrupt":
        raise CorruptFileError(payload, extra)
    if status != "ok":
        raise RuntimeError(f"helper process failed:\n{payload}")
    if not needs_all:
        unconvertible = [*unconvertible, *extra]
    return histograms, [*encoded, *payload], unconvertible
