"""Which plugin serves a subsystem: built-ins by default, registrations override, generic fallback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overwatch.detectors import DetectorPlugin
from overwatch.detectors import GroupSpec
from overwatch.detectors import get_plugin
from overwatch.detectors import register_plugin
from overwatch.detectors import unregister_plugin
from overwatch.detectors.emc import EMCPlugin
from overwatch.detectors.hlt import HLTPlugin
from overwatch.detectors.registry import registered_plugins
from overwatch.detectors.tpc import TPCPlugin


class SitePlugin(DetectorPlugin):
    name = "site"


@pytest.fixture
def site_emc() -> Iterator[None]:
    register_plugin("EMC", SitePlugin)
    yield
    unregister_plugin("EMC")


def test_built_in_plugins_serve_their_subsystems() -> None:
    assert type(get_plugin("EMC")) is EMCPlugin
    assert type(get_plugin("HLT")) is HLTPlugin
    assert type(get_plugin("TPC")) is TPCPlugin
    assert type(get_plugin("ZDC")) is DetectorPlugin
    assert {"EMC", "HLT", "TPC"} <= registered_plugins().keys()


@pytest.mark.usefixtures("site_emc")
def test_a_registered_plugin_overrides_the_built_in_one() -> None:
    assert type(get_plugin("EMC")) is SitePlugin
    assert registered_plugins()["EMC"] is SitePlugin


def test_unregistering_brings_the_built_in_back() -> None:
    register_plugin("HLT", SitePlugin)
    unregister_plugin("HLT")
    assert type(get_plugin("HLT")) is HLTPlugin


def test_group_positions_follow_the_listed_order() -> None:
    spec = GroupSpec("g", "x", order=("b", "a"))
    assert [spec.position(n) for n in ("a", "b", "c")] == [1, 0, 2]
