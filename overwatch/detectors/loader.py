"""Load detector plugin classes named in the configuration, and load them again when edited.

A site names its own plugins in the ``plugins`` setting: subsystem →
``"package.module:Class"`` (an importable module) or ``"/path/to/file.py:Class"``
(a file anywhere, e.g. beside ``config.yaml``). :func:`parse_target` checks the
form, :func:`load_class` imports the module and checks that the attribute is a
:class:`~overwatch.detectors.api.DetectorPlugin` subclass.

Reloading is atomic per call of :func:`build_plugin_set`: a module whose source
changed is executed into a *new* module object, so a module that fails to load
leaves the old module, and every class already in use, untouched. Only the module
that defines a plugin class is watched and reloaded; helpers it imports are not.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from types import ModuleType

from overwatch.detectors.api import DetectorPlugin

__all__ = [
    "PluginLoadError",
    "PluginSet",
    "PluginTarget",
    "build_plugin_set",
    "load_class",
    "parse_target",
    "source_file",
]

#: Module names given to plugins loaded from a file path (never clash with packages).
FILE_MODULE_PREFIX = "overwatch_site_plugins."
#: ``plugin_version`` holds 32 characters: the class's version plus two short digests.
MAX_VERSION_LENGTH = 12
_DIGEST = 8
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class PluginLoadError(ValueError):
    """A plugin that cannot be used; the message names the subsystem and why."""

    def __init__(self, subsystem: str, reason: str) -> None:
        super().__init__(f"{subsystem}: {reason}")
        self.subsystem = subsystem
        self.reason = reason


@dataclass(frozen=True)
class PluginTarget:
    """Where one configured plugin class lives: a dotted module or a file, and the class name."""

    module: str
    path: Path | None
    attribute: str

    def __str__(self) -> str:
        return f"{self.path if self.path else self.module}:{self.attribute}"


def parse_target(text: str) -> PluginTarget:
    """``"package.module:Class"`` or ``"/path/file.py:Class"``; :class:`ValueError` otherwise."""
    location, sep, attribute = str(text).strip().rpartition(":")
    if not sep or not location or not attribute.isidentifier():
        raise ValueError(
            f"expected 'package.module:Class' or '/path/to/file.py:Class', got {text!r}"
        )
    if location.endswith(".py") or "/" in location or "\\" in location:
        path = Path(location).expanduser()
        # One module name per file: two sites' muo.py (or two tests') never share one.
        tag = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:_DIGEST]
        return PluginTarget(f"{FILE_MODULE_PREFIX}{path.stem}_{tag}", path, attribute)
    if not _DOTTED.match(location):
        raise ValueError(f"{location!r} is not a module name")
    return PluginTarget(location, None, attribute)


def source_file(plugin: type[DetectorPlugin]) -> Path | None:
    """The file defining ``plugin``'s module, when it has one."""
    module = sys.modules.get(plugin.__module__)
    name = getattr(module, "__file__", None)
    return Path(name) if name else None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:_DIGEST]


def _source_digest(plugin: type[DetectorPlugin]) -> str:
    path = source_file(plugin)
    try:
        return _digest(path.read_bytes()) if path else ""
    except OSError:
        return ""


def _fresh_module(name: str, path: Path | None) -> ModuleType:
    """Execute the module's current source into a new module object and register it."""
    spec = (
        importlib.util.spec_from_file_location(name, path)
        if path is not None
        else importlib.util.find_spec(name)
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"no module {name} at {path}" if path else f"no module named {name}")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    # Registered before running, as an import would: dataclasses and pickling look it up.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        raise
    return module


def load_class(target: PluginTarget, *, fresh: bool = False) -> type[DetectorPlugin]:
    """Import ``target`` (executing its source again when ``fresh``) and return the class."""
    if target.path is not None and not target.path.is_file():
        raise ImportError(f"file {target.path} does not exist")
    if fresh or (target.path is not None and target.module not in sys.modules):
        module = _fresh_module(target.module, target.path)
    else:
        module = importlib.import_module(target.module)
    plugin = getattr(module, target.attribute, None)
    if plugin is None:
        raise AttributeError(f"{target.module} has no attribute {target.attribute!r}")
    if not (isinstance(plugin, type) and issubclass(plugin, DetectorPlugin)):
        raise TypeError(f"{target} is not a DetectorPlugin subclass")
    if len(str(plugin.version)) > MAX_VERSION_LENGTH:
        raise ValueError(f"version {plugin.version!r} is longer than {MAX_VERSION_LENGTH}")
    return plugin


@dataclass(frozen=True)
class PluginSet:
    """The plugin classes and check settings one process processes with, swapped as a whole.

    ``classes`` covers every subsystem with a plugin of its own (built-in, entry
    point, ``plugins`` setting); ``check_digests`` holds a digest of the check
    settings per configured subsystem key (``"*"``: those applying to any other).
    """

    classes: Mapping[str, type[DetectorPlugin]] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    check_digests: Mapping[str, str] = field(default_factory=dict)
    generation: int = 0

    def plugin_version(self, subsystem: str, plugin: type[DetectorPlugin]) -> str:
        """``<version>+s<source digest>+c<check settings digest>``, stored with every result."""
        source = self.sources.get(plugin.__module__) or _source_digest(plugin)
        checks = self.check_digests.get(subsystem, self.check_digests.get("*", ""))
        return f"{plugin.version}+s{source}+c{checks or '-'}"

    def files(self) -> dict[str, Path]:
        """Module name → source file of every plugin class in the set (what to watch)."""
        found: dict[str, Path] = {}
        plugins: list[type[DetectorPlugin]] = [DetectorPlugin, *self.classes.values()]
        for plugin in plugins:
            path = source_file(plugin)
            if path is not None:
                found[plugin.__module__] = path
        return found


def _target_of(plugin: type[DetectorPlugin]) -> PluginTarget:
    path = source_file(plugin)
    from_file = plugin.__module__.startswith(FILE_MODULE_PREFIX)
    return PluginTarget(plugin.__module__, path if from_file else None, plugin.__qualname__)


def build_plugin_set(
    defaults: Mapping[str, type[DetectorPlugin]],
    configured: Mapping[str, str],
    check_digests: Mapping[str, str],
    previous: PluginSet | None = None,
) -> PluginSet:
    """A new set: ``defaults`` (built-ins, entry points) overlaid by the ``configured`` ones.

    With ``previous``, every module whose source changed since it was loaded is
    executed again (once, however many plugins it defines); unchanged ones keep
    their classes. Raises :class:`PluginLoadError` naming the subsystem; the
    caller keeps ``previous`` then.
    """
    old_sources = previous.sources if previous else {}
    targets = {subsystem: _target_of(plugin) for subsystem, plugin in defaults.items()}
    for subsystem, text in configured.items():
        try:
            targets[subsystem] = parse_target(text)
        except ValueError as exc:
            raise PluginLoadError(subsystem, str(exc)) from None
    classes: dict[str, type[DetectorPlugin]] = {}
    sources: dict[str, str] = {}
    reloaded: set[str] = set()
    for subsystem, target in targets.items():
        path = target.path
        if path is None and target.module in sys.modules:
            path = Path(getattr(sys.modules[target.module], "__file__", "") or "") or None
        current = _digest(path.read_bytes()) if path is not None and path.is_file() else ""
        known = old_sources.get(target.module)
        # A file plugin is read afresh by a first build too: the file may have changed
        # since an earlier set of this process loaded it.
        stale = known != current if known is not None else target.path is not None
        fresh = stale and target.module not in reloaded
        try:
            classes[subsystem] = load_class(target, fresh=fresh)
        except Exception as exc:
            # A module's own code may raise anything: named, chained, and the caller
            # keeps the plugins in use.
            raise PluginLoadError(subsystem, f"{target}: {type(exc).__name__}: {exc}") from exc
        if fresh:
            reloaded.add(target.module)
        sources[classes[subsystem].__module__] = _source_digest(classes[subsystem])
    sources.setdefault(DetectorPlugin.__module__, _source_digest(DetectorPlugin))
    generation = previous.generation + 1 if previous else 0
    return PluginSet(classes, sources, dict(check_digests), generation)
