"""Reloading plugins and check settings in a running daemon: atomic, with the error shown."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from overwatch.config import load_settings
from overwatch.detectors.api import CheckOutcome
from overwatch.detectors.api import ProcessingContext
from overwatch.detectors.registry import get_plugin
from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram
from overwatch.processing.daemon import publish_heartbeat
from overwatch.processing.reload import PluginReloader
from overwatch.processing.reload import ReloadSignal
from overwatch.storage import Database
from overwatch.storage.users import create_user
from overwatch.webapp import create_app
from tests.webapp.conftest import log_in

PLUGIN = """
from overwatch.detectors.api import CheckOutcome
from overwatch.detectors.api import DetectorPlugin

LIMIT = {limit}


class MUOPlugin(DetectorPlugin):
    name = "muo"
    version = "{version}"

    def check(self, hist, context):
        return CheckOutcome("bad" if hist.entries > LIMIT else "good", f"limit {{LIMIT}}")
"""

CHECKS = """
checks:
  MUO:
    - kind: entries
      histograms: "*"
      error_min: {minimum}
"""


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # A new modification time even on file systems with coarse timestamps.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def _site(tmp_path: Path, db_url: str) -> tuple[Path, Path]:
    plugin = tmp_path / "muo.py"
    _write(plugin, PLUGIN.format(limit=10, version="1"))
    config = tmp_path / "config.yaml"
    _write(
        config,
        f"data_dir: {tmp_path / 'data'}\ndatabase_url: {db_url}\n"
        "plugins:\n  MUO: muo.py:MUOPlugin\n" + CHECKS.format(minimum=1),
    )
    return plugin, config


def _loaded(config: Path) -> PluginReloader:
    reloader = PluginReloader(load_settings(config, environ={}))
    reloader.start()
    return reloader


def test_an_edited_plugin_and_edited_checks_are_swapped_in(
    tmp_path: Path, database_url: str
) -> None:
    plugin, config = _site(tmp_path, database_url)
    reloader = _loaded(config)
    first = get_plugin("MUO")
    assert not reloader.changed()

    _write(plugin, PLUGIN.format(limit=99, version="2"))
    assert reloader.changed()
    assert reloader.reload("test")
    second = get_plugin("MUO")
    assert (first.version[:2], second.version[:2]) == ("1+", "2+")
    assert type(second).__module__ == type(first).__module__
    assert type(second) is not type(first)
    # The new module's threshold is used; the old class still sees its own module's.
    hist = Histogram("h", "TH1D", "", (Axis.regular(1, 0.0, 1.0),), np.zeros(3), entries=50)
    context = ProcessingContext(1, "MUO", "run")
    assert second.check(hist, context) == CheckOutcome("good", "limit 99")
    assert first.check(hist, context) == CheckOutcome("bad", "limit 10")
    source_digest = second.version.split("+")[1]

    _write(config, config.read_text().replace("error_min: 1", "error_min: 5"))
    assert reloader.reload("test")
    third = get_plugin("MUO")
    assert third.version.split("+")[1] == source_digest  # same source
    assert third.version != second.version  # other check settings
    assert reloader.settings.checks.for_subsystem("MUO")[0].error_min == 5
    assert reloader.info()["reload_error"] is None


def test_a_broken_edit_keeps_the_plugins_in_use_and_says_why(
    tmp_path: Path, database_url: str
) -> None:
    plugin, config = _site(tmp_path, database_url)
    reloader = _loaded(config)
    before = type(get_plugin("MUO"))
    _write(plugin, "class MUOPlugin(:\n")
    assert not reloader.reload("a watched file changed")
    assert type(get_plugin("MUO")) is before
    assert "SyntaxError" in (reloader.error or "")
    assert "MUO" in (reloader.error or "")
    assert not reloader.changed()  # the broken file is not retried until edited again

    _write(config, config.read_text().replace("error_min: 1", "error_min: ten"))
    _write(plugin, PLUGIN.format(limit=10, version="3"))
    assert not reloader.reload("SIGHUP")
    assert "checks.MUO[0].error_min" in (reloader.error or "")
    assert type(get_plugin("MUO")) is before
    assert reloader.settings.checks.for_subsystem("MUO")[0].error_min == 1

    _write(config, config.read_text().replace("error_min: ten", "error_min: 2"))
    assert reloader.reload("SIGHUP")
    assert get_plugin("MUO").version.startswith("3+")
    assert reloader.error is None


def test_the_reload_error_is_on_the_status_page_and_in_the_api(
    tmp_path: Path, database_url: str, db: Database, settings: Any
) -> None:
    plugin, config = _site(tmp_path, database_url)
    reloader = _loaded(config)
    _write(plugin, "raise ImportError('thresholds.csv not found')\n")
    assert not reloader.reload("SIGHUP")
    publish_heartbeat(settings, db, name="processing@test", plugins=reloader.info())
    with db.session() as session:
        create_user(session, "viewer", "viewer-password", "viewer")
    app = create_app(settings, {"TESTING": True})
    try:
        client = app.test_client()
        log_in(client, "viewer", "viewer-password")
        page = client.get("/status").text
        body = client.get("/api/v1/status").json
    finally:
        app.extensions["overwatch"].db.dispose()
    assert "plugin reload failed" in page
    assert "thresholds.csv not found" in page
    (daemon,) = body["daemons"]
    assert "thresholds.csv not found" in daemon["plugins"]["reload_error"]
    assert daemon["plugins"]["versions"]["MUO"].startswith("muo 1+")


def test_worker_loops_follow_a_reload_announced_by_the_daemon(
    tmp_path: Path, database_url: str
) -> None:
    import multiprocessing  # noqa: PLC0415

    plugin, config = _site(tmp_path, database_url)
    count = multiprocessing.get_context("spawn").Value("i", 0)
    leader = ReloadSignal(_loaded(config), count, leader=True)
    child = ReloadSignal(_loaded(config), count, leader=False)
    assert child.follow() is None
    _write(plugin, PLUGIN.format(limit=10, version="4"))
    assert leader.reloader.reload("test")
    leader.announce()
    assert leader.follow() is not None
    assert child.follow() is not None  # the child reloaded the files itself
    assert child.reloader.error is None
    assert get_plugin("MUO").version.startswith("4+")
    assert child.follow() is None
