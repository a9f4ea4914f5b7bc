"""The detector plugin contract.

A plugin is a subclass of :class:`DetectorPlugin` registered for one subsystem
(see :mod:`overwatch.detectors.registry`). Processing calls its hooks in this order
for every job, on the histogram model (:class:`overwatch.histograms.model.Histogram`):

0. :meth:`DetectorPlugin.summarize` — only for plugins that set
   :attr:`DetectorPlugin.summary_pattern`: given the (unmodified) histograms whose
   names match it (a regular expression searched in the name; write ``(?i)`` for
   any case), return job-wide values (e.g. the number of events); processing
   stores them in :attr:`ProcessingContext.summary` before any other hook, in every
   process that runs hooks, so ``derived``, ``prepare`` and ``check`` can use them.
1. :meth:`DetectorPlugin.derived` — add histograms computed from the received ones
   (sums, ratios, projections); they are stored and drawn like the others. It may
   also return drawable objects that are not histograms
   (:class:`overwatch.histograms.drawable.DrawableObject`, e.g. a ``THStack`` made
   with :func:`overwatch.histograms.drawable.stack`): they are stored and drawn,
   but no other hook and no check sees them.
2. :meth:`DetectorPlugin.prepare` — per histogram: apply processing options (for
   example ``scale_hists``), set ``draw_options`` for JSROOT, attach information
   for the shift crew in ``hist.metadata["info"]`` (a list of strings).
3. :meth:`DetectorPlugin.check` — per histogram: return a :class:`CheckOutcome`
   (quality ``good``/``medium``/``bad`` and a reason) or ``None`` for no check.
4. :meth:`DetectorPlugin.groups` — given every histogram name, the ordered
   histogram groups of the run page; each histogram lands in the first group whose
   pattern matches its name, the rest in a final "Other" group. A group may name
   its members' display order (:attr:`GroupSpec.order`) and a page layout
   (:attr:`GroupSpec.layout`, e.g. ``"grid"`` with :attr:`GroupSpec.columns`).
5. :meth:`DetectorPlugin.trend` — for trends of kind ``plugin`` (the ``trending``
   setting): given a function name and the histogram the trend names, as stored
   (after ``prepare``), return the number to trend or ``None``. It runs in the
   process that stores the job's result, and again in ``overwatch trending
   backfill`` on the stored histogram (then ``context.summary`` is empty), so it
   must compute from the histogram alone.

Display hints for one histogram go into ``hist.metadata["display"]`` (a dict):
``name`` (shown instead of the stored key, which never changes), ``show_title``,
``overlay`` (names of histograms to draw on the same pad with ``same``), ``grid``
(row and column in its group's grid). Everything in ``hist.metadata`` is stored
as the histogram's ``info``. Lines to draw over a histogram (axis coordinates)
go into its JSON as ROOT's ``TLine`` objects: ``hist.add_line(x1, y1, x2, y2)``.

Objects in the received files that JSROOT draws but that are not histograms
(``TGraph``, ``THStack``, ``TEfficiency``, ``TCanvas``, ...) are stored and drawn
as they are and are never passed to a hook.

``derived`` sees every histogram of the job; ``prepare`` and ``check`` see one
histogram at a time and may run in another process than ``derived`` and
``groups`` (large jobs are split across cores), so they must not rely on each
other's side effects beyond the histogram they are given.

A plugin may process another subsystem's files when a run has none of its own
(:attr:`DetectorPlugin.source_subsystem`, e.g. ALICE's TPC QA arrived in the HLT
files); only histograms matching :attr:`DetectorPlugin.source_pattern` are then
kept.

A plugin declares the :class:`ProcessingOption` knobs a user may change for a
time slice or reprocessing in :attr:`DetectorPlugin.options`; processing validates
requested values against them. Hooks must not keep state between calls: one plugin
instance serves many jobs, possibly in several processes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

if TYPE_CHECKING:
    from overwatch.histograms.drawable import DrawableObject
    from overwatch.histograms.model import Histogram

__all__ = [
    "QUALITIES",
    "SCALE_HISTS",
    "CheckOutcome",
    "DetectorPlugin",
    "GroupSpec",
    "OptionError",
    "ProcessingContext",
    "ProcessingOption",
    "worst_quality",
]

#: Qualities from best to worst.
QUALITIES = ("good", "medium", "bad")


def worst_quality(qualities: Sequence[str | None]) -> str | None:
    """The aggregate quality: the worst of those given, ``None`` if none was checked."""
    ranked = [QUALITIES.index(q) for q in qualities if q in QUALITIES]
    return QUALITIES[max(ranked)] if ranked else None


class OptionError(ValueError):
    """A processing option value that the plugin does not accept."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option = option
        self.reason = reason


@dataclass(frozen=True)
class ProcessingOption:
    """One knob of a subsystem's processing, with its type, range and default."""

    name: str
    type: type[bool] | type[int] | type[float] | type[str]
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def convert(self, value: Any) -> Any:
        """Validate and convert a requested value (strings from forms are accepted)."""
        if self.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise OptionError(self.name, f"expected true or false, got {value!r}")
        if self.type in (int, float):
            try:
                number = self.type(value)
            except (TypeError, ValueError):
                raise OptionError(self.name, f"expected a number, got {value!r}") from None
            if isinstance(number, float) and number != number:  # noqa: PLR0124 - NaN check
                raise OptionError(self.name, "must be a number, not NaN")
            if self.minimum is not None and number < self.minimum:
                raise OptionError(self.name, f"must be at least {self.minimum}, got {number}")
            if self.maximum is not None and number > self.maximum:
                raise OptionError(self.name, f"must be at most {self.maximum}, got {number}")
            return number
        text = str(value)
        if self.choices and text not in self.choices:
            raise OptionError(self.name, f"must be one of {', '.join(self.choices)}, got {text!r}")
        return text

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description for forms and the API."""
        return {
            "name": self.name,
            "type": self.type.__name__,
            "default": self.default,
            "help": self.help,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "choices": list(self.choices),
        }


#: Offered by every plugin: divide histograms by the number of events (entries).
SCALE_HISTS = ProcessingOption(
    "scale_hists", bool, False, "Scale histograms by 1/entries so runs of different length compare."
)


@dataclass(frozen=True)
class GroupSpec:
    """A named selection of histograms: ``pattern`` is a regular expression searched in the name.

    ``order`` lists member names in display order (members not listed follow in
    the order received); ``layout`` is a hint for the page (``""`` a plain list,
    ``"grid"`` a grid of ``columns`` columns filled row by row in ``order``).
    """

    name: str
    pattern: str
    layout: str = ""
    columns: int = 0
    order: tuple[str, ...] = ()

    def matches(self, histogram_name: str) -> bool:
        return re.search(self.pattern, histogram_name) is not None

    def position(self, histogram_name: str) -> int:
        """Where a member goes in the group: its index in ``order``, else after all listed ones."""
        try:
            return self.order.index(histogram_name)
        except ValueError:
            return len(self.order)


@dataclass(frozen=True)
class CheckOutcome:
    """The result of a plugin's check: a quality and the reason a shifter reads."""

    quality: str
    message: str = ""

    def __post_init__(self) -> None:
        if self.quality not in QUALITIES:
            raise ValueError(f"quality must be one of {QUALITIES}, got {self.quality!r}")


@dataclass
class ProcessingContext:
    """What a hook may know about the job it serves."""

    run_number: int
    subsystem: str
    #: run | time_slice | reprocess
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    #: For time slices: the covered range (timezone-aware UTC).
    min_time: datetime | None = None
    max_time: datetime | None = None
    #: Minutes since start of run covered, for time slices.
    minutes: tuple[float, float] | None = None
    #: Job-wide values from :meth:`DetectorPlugin.summarize` (e.g. ``{"events": 1e6}``).
    summary: dict[str, Any] = field(default_factory=dict)
    #: Set when the job processes another subsystem's files (see ``source_subsystem``).
    source_subsystem: str | None = None


class DetectorPlugin:
    """Base plugin: no derived histograms, no checks, one group per top directory.

    Subclass it, override the hooks you need, and register the class for a subsystem.
    """

    #: Shown in provenance records and on the status page.
    name: ClassVar[str] = "generic"
    #: Bump when the plugin's output changes, so provenance says which results are stale.
    version: ClassVar[str] = "1"
    options: ClassVar[tuple[ProcessingOption, ...]] = (SCALE_HISTS,)
    #: Regular expression of the histograms :meth:`summarize` needs; ``None``: no summary.
    summary_pattern: ClassVar[str | None] = None
    #: Subsystem whose files to process when a run has none of this one's own.
    source_subsystem: ClassVar[str | None] = None
    #: With another subsystem's files, keep only histograms whose name matches this.
    source_pattern: ClassVar[str] = ""

    def validate_options(self, requested: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with the requested values, each validated; unknown names are errors."""
        known = {option.name: option for option in self.options}
        unknown = sorted(set(requested) - set(known))
        if unknown:
            raise OptionError(
                unknown[0], f"unknown processing option (known: {', '.join(sorted(known))})"
            )
        values = {name: option.default for name, option in known.items()}
        for name, value in requested.items():
            values[name] = known[name].convert(value)
        return values

    def summarize(
        self, histograms: Sequence[Histogram], context: ProcessingContext
    ) -> dict[str, Any]:
        """Job-wide values from the histograms matching :attr:`summary_pattern`."""
        return {}

    def derived(
        self, histograms: Sequence[Histogram], context: ProcessingContext
    ) -> Sequence[Histogram | DrawableObject]:
        return []

    def prepare(self, hist: Histogram, context: ProcessingContext) -> None:
        if context.options.get("scale_hists") and hist.entries > 0:
            hist.scale(1.0 / hist.entries)
            hist.metadata.setdefault("info", []).append(f"Scaled by 1/{hist.entries:g} entries")

    def check(self, hist: Histogram, context: ProcessingContext) -> CheckOutcome | None:
        return None

    def trend(self, function: str, hist: Histogram, context: ProcessingContext) -> float | None:
        """The value of the plugin trend ``function`` for ``hist``; ``None``: no value."""
        return None

    def groups(self, names: Sequence[str], context: ProcessingContext) -> list[GroupSpec]:
        """One group per top-level directory, else per name prefix before the first ``_``."""
        seen: dict[str, GroupSpec] = {}
        for name in sorted(names):
            if "/" in name:
                top = name.split("/", 1)[0]
                seen.setdefault(top, GroupSpec(top, "^" + re.escape(top + "/")))
            elif "_" in name:
                prefix = name.split("_", 1)[0]
                seen.setdefault(prefix, GroupSpec(prefix, "^" + re.escape(prefix + "_")))
        return list(seen.values())
