"""From received files to a storable result: load, run the plugin hooks, encode.

Nothing here touches the database; :mod:`overwatch.processing.worker` does. The
functions take file paths and return :class:`~overwatch.storage.records.ResultData`,
so they can be called directly from tests and from other processes.

- Cumulative mode: the newest file is the run's state; a time slice is the newest
  file in the range minus the last one before it.
- Reset mode: the run's state is the merge of its files; a time slice merges the
  files inside the range.

Drawable objects that are not histograms (graphs, stacks, canvases: see
:mod:`overwatch.histograms.drawable`) travel with the unconvertible objects,
newest file last, so the run's state and a time slice keep the newest one;
no plugin hook and no check sees them, and they are stored with their JSON.
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from overwatch.detectors.api import DetectorPlugin
from overwatch.detectors.api import GroupSpec
from overwatch.detectors.api import ProcessingContext
from overwatch.detectors.api import worst_quality
from overwatch.histograms.combine import IncompatibleHistogramsError
from overwatch.histograms.combine import merge
from overwatch.histograms.combine import subtract
from overwatch.histograms.drawable import DrawableObject
from overwatch.histograms.model import Histogram
from overwatch.monitoring.checks import NO_REFERENCE
from overwatch.monitoring.checks import CheckResult
from overwatch.monitoring.checks import from_plugin_outcome
from overwatch.monitoring.checks import histogram_quality
from overwatch.monitoring.checks import run_checks
from overwatch.monitoring.config import CheckConfig
from overwatch.processing.jsroot import to_jsroot_json
from overwatch.processing.names import clean_text
from overwatch.processing.names import deduplicate
from overwatch.processing.names import fit
from overwatch.processing.objects import to_object_json
from overwatch.processing.reader import NOT_A_HISTOGRAM
from overwatch.processing.reader import ReadResult
from overwatch.processing.reader import Unconvertible
from overwatch.processing.reader import read_file
from overwatch.storage.records import CheckRow
from overwatch.storage.records import GroupRow
from overwatch.storage.records import HistogramRow
from overwatch.storage.records import ResultData
from overwatch.storage.records import request_key

_isal_zlib: ModuleType | None
try:
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - isal has wheels for the usual platforms
    _isal_zlib = None

#: The highest gzip level ISA-L offers; above it zlib compresses.
_ISAL_MAX_LEVEL = 3

__all__ = [
    "OTHER_GROUP",
    "CheckSetup",
    "Encoded",
    "FileRef",
    "SliceError",
    "build_result",
    "encode_all",
    "encode_histogram",
    "encode_json",
    "files_for_slice",
    "gzip_bytes",
    "load_state",
    "only_matching",
    "request_key",
    "summarize",
]

OTHER_GROUP = "Other"

# Column lengths of the stored rows (overwatch.storage.models); PostgreSQL enforces them.
NAME_LENGTH = 512
CLASS_NAME_LENGTH = 64
DRAW_OPTIONS_LENGTH = 128
GROUP_NAME_LENGTH = 128
SELECTOR_LENGTH = 256
LAYOUT_LENGTH = 32
CHECK_NAME_LENGTH = 128


class SliceError(ValueError):
    """A time slice that does not fit the run; ``field`` names the offending form field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class FileRef:
    """A received file as the pipeline needs it."""

    id: int
    path: Path
    timestamp: datetime


Reader = Callable[[Path, Collection[str] | None], ReadResult]


def only_matching(reader: Reader, pattern: str) -> Reader:
    """``reader`` keeping only the objects whose name matches ``pattern`` (searched).

    For a plugin that processes another subsystem's files (``source_pattern``).
    """
    compiled = re.compile(pattern)

    def read(path: Path, names: Collection[str] | None) -> ReadResult:
        result = reader(path, names)
        return ReadResult(
            result.path,
            [hist for hist in result.histograms if compiled.search(hist.name)],
            [item for item in result.unconvertible if compiled.search(item.name)],
        )

    return read


def files_for_slice(
    files: Sequence[FileRef], mode: str, run_start: datetime, minutes: tuple[float, float]
) -> tuple[list[FileRef], FileRef | None]:
    """The files a time slice needs: ``(to_add, to_subtract)``.

    Cumulative: the newest file up to the end of the range, and the last one at or
    before its start (if any). Reset: every file after the start up to the end.
    """
    low, high = minutes
    if low < 0:
        raise SliceError("min_minutes", "must not be negative")
    if high <= low:
        raise SliceError("max_minutes", "must be greater than the start of the slice")
    ordered = sorted(files, key=lambda f: f.timestamp)
    if not ordered:
        raise SliceError("max_minutes", "the run has no files")
    length = (ordered[-1].timestamp - run_start).total_seconds() / 60
    if low >= max(length, 0.0) and low > 0:
        raise SliceError("min_minutes", f"the run is only {length:.1f} minutes long")
    start = run_start + timedelta(minutes=low)
    end = run_start + timedelta(minutes=high)
    if mode == "reset":
        selected = [f for f in ordered if (f.timestamp > start or low == 0) and f.timestamp <= end]
        if not selected:
            raise SliceError("max_minutes", "no file was received in that range")
        return selected, None
    in_range = [f for f in ordered if f.timestamp <= end]
    if not in_range:
        raise SliceError("max_minutes", "no file was received before the end of the range")
    newest = in_range[-1]
    before = [f for f in ordered if f.timestamp <= start] if low > 0 else []
    older = before[-1] if before else None
    if older is not None and older.id == newest.id:
        raise SliceError("max_minutes", "no new file in that range")
    return [newest], older


def _merged(results: Sequence[ReadResult]) -> tuple[list[Histogram], list[Unconvertible]]:
    """Merge same-named histograms of several files in file order (hadd semantics)."""
    by_name: dict[str, list[Histogram]] = {}
    unconvertible: dict[str, Unconvertible] = {}
    for result in results:
        for hist in result.histograms:
            by_name.setdefault(hist.name, []).append(hist)
        for item in result.unconvertible:
            unconvertible[item.name] = item
    merged = []
    for name, parts in by_name.items():
        try:
            merged.append(parts[0] if len(parts) == 1 else merge(parts))
        except IncompatibleHistogramsError as error:
            # E.g. the binning changed during the run: this histogram, not the job, fails.
            reason = f"cannot sum the files: {error}"
            unconvertible[name] = Unconvertible(name, parts[0].class_name, reason)
    return merged, list(unconvertible.values())


def _subtracted(
    histograms: list[Histogram], older: dict[str, Histogram], unconvertible: list[Unconvertible]
) -> list[Histogram]:
    out = []
    for hist in histograms:
        if hist.name not in older:
            out.append(hist)
            continue
        try:
            out.append(subtract(hist, older[hist.name]))
        except IncompatibleHistogramsError as error:
            reason = f"cannot subtract the earlier file: {error}"
            unconvertible.append(Unconvertible(hist.name, hist.class_name, reason))
    return out


def load_state(
    add: Sequence[FileRef],
    subtract_file: FileRef | None = None,
    *,
    names: Collection[str] | None = None,
    reader: Reader = read_file,
) -> tuple[list[Histogram], list[Unconvertible]]:
    """Read and combine files: merge ``add``, then subtract ``subtract_file`` name by name.

    ``names`` restricts reading to these keys (and what lies below them).
    """
    histograms, unconvertible = _merged([reader(ref.path, names) for ref in add])
    if subtract_file is not None:
        older = {h.name: h for h in reader(subtract_file.path, names).histograms}
        histograms = _subtracted(histograms, older, unconvertible)
    return histograms, unconvertible


def gzip_bytes(data: bytes, level: int) -> bytes:
    """One gzip member (no timestamp), served as ``Content-Encoding: gzip`` as it is.

    Levels 1-3 go through ISA-L (``isal``) when it is installed: the same deflate
    format, as small at level 1 and about twice as fast as zlib, which is a
    fifth of encoding a histogram. Higher levels, asked for to save space, use zlib.
    """
    if _isal_zlib is not None and level <= _ISAL_MAX_LEVEL:
        return bytes(_isal_zlib.compress(data, level, wbits=31))
    return zlib.compress(data, level, wbits=31)


def encode_json(data: bytes, level: int) -> tuple[bytes, int, str]:
    """JSON bytes as stored and served: ``(gzip bytes, raw size, etag)``."""
    gz = gzip_bytes(data, level)
    return gz, len(data), hashlib.blake2b(data, digest_size=20).hexdigest()


def encode_histogram(hist: Histogram, level: int) -> tuple[bytes, int, str]:
    """JSROOT JSON of ``hist`` as drawn (see :mod:`.saved_points`), gzip-compressed for storage."""
    return encode_json(to_jsroot_json(hist, drawing=True), level)


def _clean_info(value: Any) -> Any:
    # Annotations end up in JSON columns: keep them to plain, finite values and
    # strings PostgreSQL accepts (no NUL, no lone surrogates).
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_info(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_info(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return clean_text(str(value))


def _listed(value: Any, hook: str, plugin: DetectorPlugin) -> list[Any]:
    # A hook that forgets its return statement means "nothing", not a TypeError later.
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise TypeError(
            f"plugin {plugin.name}: {hook}() returned {type(value).__name__}, not a list"
        )
    return list(value)


def summarize(
    plugin: DetectorPlugin, context: ProcessingContext, histograms: Sequence[Histogram]
) -> None:
    """Fill ``context.summary`` from the histograms matching the plugin's ``summary_pattern``.

    Must see the histograms before any hook changed them (``prepare`` may scale
    the very histogram a summary reads).
    """
    if plugin.summary_pattern is None:
        return
    pattern = re.compile(plugin.summary_pattern)
    selected = [hist for hist in histograms if pattern.search(hist.name)]
    values = plugin.summarize(selected, context)
    if values is not None and not isinstance(values, dict):
        raise TypeError(
            f"plugin {plugin.name}: summarize() returned {type(values).__name__}, not a dict"
        )
    context.summary.update(values or {})


def _first_specs(specs: Sequence[GroupSpec]) -> dict[str, GroupSpec]:
    """The spec of each group name, in order: the first spec of a name wins."""
    first: dict[str, GroupSpec] = {}
    for spec in specs:
        first.setdefault(spec.name, spec)
    return first


def _group_rows(specs: dict[str, GroupSpec], used: set[str]) -> list[GroupRow]:
    """One row per used group, fitted to the columns, "Other" last."""
    rows = [
        GroupRow(
            _group_name(spec.name),
            fit(clean_text(spec.pattern), SELECTOR_LENGTH),
            layout=fit(clean_text(spec.layout), LAYOUT_LENGTH),
            columns=max(0, int(spec.columns)),
        )
        for spec in specs.values()
        if spec.name in used
    ]
    if OTHER_GROUP in used and OTHER_GROUP not in specs:
        rows.append(GroupRow(OTHER_GROUP, ""))
    return rows


def _group_name(name: str) -> str:
    return fit(clean_text(name), GROUP_NAME_LENGTH)


@dataclass(frozen=True)
class CheckSetup:
    """What the declarative checks of a job need: the settings and the reference histograms.

    Plain data: a forked helper process gets it with the rest of the job.
    """

    config: CheckConfig
    references: Mapping[str, Histogram] = field(default_factory=dict)
    #: A reference check's reason when a histogram has no reference (see no_reference_reason).
    no_reference: str = NO_REFERENCE


@dataclass
class Encoded:
    """One histogram after the per-histogram hooks, ready to store (all but its group).

    ``companion`` marks a histogram a check made (a pull map): it belongs to the
    nearest preceding histogram that is not a companion, and is stored next to it.
    """

    name: str
    class_name: str
    title: str
    json_gz: bytes
    json_size: int
    etag: str
    entries: float
    draw_options: str
    quality: str | None
    info: dict[str, Any]
    checks: list[CheckRow] = field(default_factory=list)
    companion: bool = False


def _encoded(
    hist: Histogram,
    level: int,
    quality: str | None,
    info: dict[str, Any],
    checks: list[CheckRow],
    *,
    companion: bool = False,
) -> Encoded:
    gz, size, etag = encode_histogram(hist, level)
    return Encoded(
        name=hist.name,
        class_name=hist.class_name,
        title=hist.title,
        json_gz=gz,
        json_size=size,
        etag=etag,
        entries=float(hist.entries) if math.isfinite(hist.entries) else 0.0,
        draw_options=hist.draw_options,
        quality=quality,
        info=info,
        checks=checks,
        companion=companion,
    )


def _check_row(result: CheckResult) -> CheckRow:
    value = result.value
    return CheckRow(
        fit(clean_text(result.check), CHECK_NAME_LENGTH),
        result.quality,
        clean_text(result.reason),
        # NaN would read back as NULL on SQLite but as NaN on PostgreSQL: keep none.
        float(value) if value is not None and math.isfinite(value) else None,
    )


def encode_all(
    plugin: DetectorPlugin,
    context: ProcessingContext,
    histograms: Sequence[Histogram],
    level: int,
    checks: CheckSetup | None = None,
) -> list[Encoded]:
    """Run ``prepare``, ``check`` and the declarative checks on each histogram and encode it.

    A histogram's quality is the worst of its plugin's check and the declarative
    ones; each check's extra histogram (the pull map) follows it as a companion.
    """
    out = []
    for hist in histograms:
        plugin.prepare(hist, context)
        outcome = plugin.check(hist, context)
        info = _clean_info(dict(hist.metadata))
        if outcome is not None and outcome.message:
            info["check"] = outcome.message
        results = (
            run_checks(
                hist,
                subsystem=context.subsystem,
                config=checks.config,
                references=checks.references,
                no_reference=checks.no_reference,
            )
            if checks is not None and checks.config
            else []
        )
        own = from_plugin_outcome(outcome)
        if own is not None:
            results.insert(0, own)
        quality = histogram_quality(results)
        out.append(_encoded(hist, level, quality, info, [_check_row(r) for r in results]))
        for result in results:
            if result.extra is not None:
                # build_result adds "companion_of", the stored name of hist.
                extra_info = {"check": clean_text(result.check)}
                out.append(_encoded(result.extra, level, None, extra_info, [], companion=True))
    return out


def build_result(
    plugin: DetectorPlugin,
    context: ProcessingContext,
    histograms: list[Histogram],
    unconvertible: Sequence[Unconvertible],
    *,
    encoded: list[Encoded] | None = None,
    key: str = "",
    compression_level: int = 1,
    checks: CheckSetup | None = None,
) -> ResultData:
    """Run the plugin hooks and the checks over the histograms and encode everything for storage.

    ``encoded`` passes histograms already through :func:`encode_all` (by a helper
    process); ``histograms`` then only feed :meth:`DetectorPlugin.derived`, and
    the caller has filled ``context.summary`` (see :mod:`.parallel`).
    Histograms are stored in their groups' order, each group's members in
    :meth:`GroupSpec.position` order, the others as received; a check's extra
    histogram (a pull map) right after the one it was made from, in its group.
    """
    if encoded is None and not context.summary:
        summarize(plugin, context, histograms)
    derived = _listed(plugin.derived(histograms, context), "derived", plugin)
    unconvertible = [
        *unconvertible,
        *(
            Unconvertible(item.name, item.class_name, NOT_A_HISTOGRAM, item)
            for item in derived
            if isinstance(item, DrawableObject)
        ),
    ]
    derived = [item for item in derived if not isinstance(item, DrawableObject)]
    if encoded is None:
        encoded = encode_all(plugin, context, histograms, compression_level, checks)
    encoded = [*encoded, *encode_all(plugin, context, derived, compression_level, checks)]
    # Names from the file are escaped by the reader; derived ones may be anything.
    # Every stored name must fit its column and be unique within the result.
    names = deduplicate(
        [clean_text(e.name) for e in encoded] + [clean_text(u.name) for u in unconvertible],
        NAME_LENGTH,
    )
    parent_of = _companions(names, encoded)
    specs = _listed(
        plugin.groups([name for name in names if name not in parent_of], context), "groups", plugin
    )
    compiled = [(spec.name, re.compile(spec.pattern)) for spec in specs]
    group_of = {
        name: next((g for g, rx in compiled if rx.search(name)), OTHER_GROUP)
        for name in names
        if name not in parent_of
    }
    group_of.update({name: group_of[parent] for name, parent in parent_of.items()})
    first = _first_specs(specs)
    groups = _group_rows(first, set(group_of.values()))
    rows = [
        HistogramRow(
            name=name,
            class_name=fit(clean_text(e.class_name), CLASS_NAME_LENGTH),
            title=clean_text(e.title),
            group=_group_name(group_of[name]),
            json_gz=e.json_gz,
            json_size=e.json_size,
            etag=e.etag,
            entries=e.entries,
            draw_options=fit(clean_text(e.draw_options), DRAW_OPTIONS_LENGTH),
            quality=e.quality,
            info={**e.info, "companion_of": parent_of[name]} if name in parent_of else e.info,
            checks=e.checks,
        )
        for name, e in zip(names[: len(encoded)], encoded, strict=True)
    ]
    rows += [
        _object_row(name, item, _group_name(group_of[name]), compression_level)
        for name, item in zip(names[len(encoded) :], unconvertible, strict=True)
    ]
    rank = {name: index for index, name in enumerate(first)}
    rank.setdefault(OTHER_GROUP, len(rank))

    def order(row: HistogramRow) -> tuple[int, int]:
        # A companion sorts as its histogram: the stable sort keeps it right behind it.
        name = parent_of.get(row.name, row.name)
        group = group_of[name]
        spec = first.get(group)
        return rank[group], spec.position(name) if spec is not None else 0

    rows.sort(key=order)  # stable: members a group does not order stay as received
    return ResultData(
        kind=context.kind,
        key=key,
        groups=groups,
        histograms=rows,
        quality=worst_quality([e.quality for e in encoded]),
        min_time=context.min_time,
        max_time=context.max_time,
        options=context.options,
    )


def _object_row(name: str, item: Unconvertible, group: str, level: int) -> HistogramRow:
    """The stored row of an object that is not a histogram: drawn if it can be, else its error."""
    class_name = fit(clean_text(item.class_name), CLASS_NAME_LENGTH)
    drawable = item.drawable
    if drawable is None:
        return HistogramRow(
            name=name,
            class_name=class_name,
            title="",
            group=group,
            json_gz=None,
            json_size=0,
            etag="",
            error=clean_text(item.reason),
        )
    gz, size, etag = encode_json(to_object_json(drawable, drawing=True), level)
    return HistogramRow(
        name=name,
        class_name=class_name,
        title=clean_text(drawable.title),
        group=group,
        json_gz=gz,
        json_size=size,
        etag=etag,
        entries=drawable.entries if math.isfinite(drawable.entries) else 0.0,
        draw_options=fit(clean_text(drawable.draw_options), DRAW_OPTIONS_LENGTH),
        info=_clean_info(dict(drawable.metadata)),
    )


def _companions(names: Sequence[str], encoded: Sequence[Encoded]) -> dict[str, str]:
    """The stored name of each companion's histogram, by the companion's stored name."""
    parent_of: dict[str, str] = {}
    parent: str | None = None
    for name, item in zip(names, encoded, strict=False):
        if not item.companion:
            parent = name
        elif parent is not None:
            parent_of[name] = parent
    return parent_of
