"""Reload detector plugins and check settings in a running processing daemon.

Experts tune thresholds during a run. :class:`PluginReloader` keeps the settings a
process's workers use and reloads the reloadable part — the ``plugins``,
``checks`` and ``checks_file`` settings, and the source of every plugin module —
when asked (SIGHUP) or when a watched file's modification time changes (the
daemon polls every ``plugin_reload_seconds``).

A reload is atomic: the new settings are read and validated and the new plugin
set is built off to the side (:func:`overwatch.detectors.registry.activate_plugins`),
then swapped in with one assignment. On any error the old settings and plugins
stay and the error is kept (:meth:`PluginReloader.info`, published in the
daemon's heartbeat and shown on the status page) until a reload succeeds.

Worker processes are spawned, so each has its own registry: the daemon counts
successful reloads in a shared integer (:class:`ReloadSignal`); every worker loop
compares it with the count it last followed before claiming a job, and a child
that sees a new count reloads the same files itself. Each job's provenance names
the plugin version it used, with digests of the plugin's source and the
subsystem's check settings (:meth:`overwatch.detectors.loader.PluginSet.plugin_version`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from overwatch.config import ConfigError
from overwatch.config import Settings
from overwatch.config import load_settings
from overwatch.detectors.loader import PluginLoadError
from overwatch.detectors.registry import activate_plugins
from overwatch.detectors.registry import active_plugins
from overwatch.storage.models import utcnow

if TYPE_CHECKING:
    from overwatch.monitoring.config import CheckConfig

__all__ = ["RELOADABLE", "PluginReloader", "ReloadSignal", "check_digests"]

log = logging.getLogger(__name__)

#: The settings a reload reads again; every other setting needs a restart.
RELOADABLE = ("plugins", "checks", "checks_file", "trending")


def check_digests(checks: CheckConfig | None) -> dict[str, str]:
    """A short digest of the check settings that apply to each configured subsystem.

    ``"*"`` holds the digest for any other subsystem (the ``"*"`` checks alone).
    The check definitions are frozen dataclasses of strings, numbers and tuples,
    so their ``repr`` is a faithful, stable text of them.
    """
    subsystems = dict(checks.subsystems) if checks is not None else {}
    digests = {}
    for key in {*subsystems, "*"}:
        specs = checks.for_subsystem("" if key == "*" else key) if checks is not None else ()
        digests[key] = hashlib.sha256(repr(specs).encode()).hexdigest()[:8] if specs else ""
    return digests


class PluginReloader:
    """The reloadable settings and plugin set of one process, and the last reload error."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.error: str | None = None
        self.error_at: str | None = None
        self.loaded_at = utcnow().isoformat()
        self._lock = threading.Lock()
        self._mtimes: dict[Path, int | None] = {}

    def start(self) -> None:
        """Build and activate the first set; :class:`ConfigError` naming the key if it fails."""
        try:
            activate_plugins(self.settings.plugins, check_digests(self.settings.checks))
        except PluginLoadError as exc:
            source = self.settings.sources.get("plugins", "default")
            raise ConfigError(f"plugins.{exc.subsystem}", source, exc.reason) from exc
        self._mtimes = self._snapshot()

    def watched(self) -> list[Path]:
        """The config file, the checks file and every plugin module's source."""
        paths = [self.settings.config_file, self.settings.checks_file]
        current = active_plugins()
        if current is not None:
            paths.extend(current.files().values())
        return sorted({path for path in paths if path is not None})

    def _snapshot(self) -> dict[Path, int | None]:
        mtimes: dict[Path, int | None] = {}
        for path in self.watched():
            try:
                mtimes[path] = path.stat().st_mtime_ns
            except OSError:
                mtimes[path] = None
        return mtimes

    def changed(self) -> bool:
        """Whether a watched file was modified, created or removed since the last look."""
        return self._snapshot() != self._mtimes

    def reload(self, why: str) -> bool:
        """Read the reloadable settings and plugins again and swap them in; False on error."""
        with self._lock:
            # Taken before reading: an edit made while this runs is seen by the next poll.
            before = self._snapshot()
            try:
                settings = self._read_settings()
                activate_plugins(settings.plugins, check_digests(settings.checks))
            except (ConfigError, PluginLoadError) as exc:
                self.error = f"{why}: {exc}"
                self.error_at = utcnow().isoformat()
                self._mtimes = before
                log.error("plugin reload failed, keeping the plugins in use: %s", self.error)
                return False
            self.settings = settings
            self.error = None
            self.error_at = None
            self.loaded_at = utcnow().isoformat()
            self._mtimes = {**self._snapshot(), **before}
        log.info("plugins and check settings reloaded (%s)", why)
        return True

    def _read_settings(self) -> Settings:
        current = self.settings
        if current.config_file is None:
            return current
        fresh = load_settings(current.config_file, environ=os.environ)
        # Values a test or a command-line flag forced stay as they were.
        changes: dict[str, Any] = {
            key: getattr(fresh, key) for key in RELOADABLE if current.sources.get(key) != "override"
        }
        sources = {**current.sources, **{key: fresh.sources[key] for key in changes}}
        return dataclasses.replace(current, **changes, sources=sources)

    def info(self) -> dict[str, Any]:
        """What the daemon's heartbeat publishes about its plugins."""
        current = active_plugins()
        versions = {}
        if current is not None:
            versions = {
                subsystem: f"{plugin.name} {current.plugin_version(subsystem, plugin)}"
                for subsystem, plugin in sorted(current.classes.items())
            }
        return {
            "loaded_at": self.loaded_at,
            "reload_error": self.error,
            "reload_error_at": self.error_at,
            "versions": versions,
        }


class ReloadSignal:
    """How worker loops learn of a reload: a count shared with spawned children.

    The daemon (``leader``) reloads and then :meth:`announce` s; every loop calls
    :meth:`follow` before claiming a job and gets the settings to build its worker
    with when the count moved. A child reloads the files itself on that cue.
    """

    def __init__(self, reloader: PluginReloader, count: Any, *, leader: bool) -> None:
        self.reloader = reloader
        self.count = count
        self.leader = leader
        self.seen = int(count.value)

    def announce(self) -> None:
        with self.count.get_lock():
            self.count.value += 1

    def follow(self) -> Settings | None:
        """New settings when the daemon reloaded since the last call, else None."""
        current = int(self.count.value)
        if current == self.seen:
            return None
        self.seen = current
        if not self.leader:
            self.reloader.reload("the daemon reloaded")
        return self.reloader.settings
