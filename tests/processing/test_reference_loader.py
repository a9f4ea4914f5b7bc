"""The reference loader's cache: bounded (least recently used goes first), keyed by the
reference run's result, so a reprocessed reference is read afresh."""

from __future__ import annotations

from overwatch.monitoring.config import load_check_config
from overwatch.processing.references import ReferenceLoader
from overwatch.storage import Database
from overwatch.storage.references import set_reference
from tests.webapp.builders import HistSpec
from tests.webapp.builders import add_run

CONFIG = load_check_config({"EMC": [{"kind": "chi2", "histograms": "EMCal/*"}]})


def test_the_cache_keeps_at_most_its_size_and_drops_the_least_recently_used(
    db: Database,
) -> None:
    for run in range(1, 7):
        add_run(db, run, specs=[HistSpec("EMCal/energy", "G", scale=run)], quality="good")
    loader = ReferenceLoader(size=2)
    loaded = []
    # Runs 1, 2, 3 are each the reference of the run after them.
    for reference in (1, 2, 3):
        with db.session() as session:
            set_reference(session, "EMC", reference, runs=(reference + 1, reference + 1))
        found = loader.load(db, CONFIG, "EMC", reference + 1)
        assert found.run_number == reference
        assert found.histograms["EMCal/energy"].contents[1] == reference
        loaded.append(found.histograms)
    assert len(loader._cache) == 2
    # Run 3's reference (2) is cached: the same decoded objects come back.
    assert loader.load(db, CONFIG, "EMC", 3).histograms is loaded[1]
    # Run 2's reference (1) was dropped: decoded afresh (equal, not the same objects).
    again = loader.load(db, CONFIG, "EMC", 2).histograms
    assert again is not loaded[0]
    assert again["EMCal/energy"].contents[1] == 1
    assert len(loader._cache) == 2


def test_a_subsystem_without_reference_checks_reads_nothing(db: Database) -> None:
    add_run(db, 1, specs=[HistSpec("EMCal/energy", "G")])
    with db.session() as session:
        set_reference(session, "EMC", 1)
    loader = ReferenceLoader()
    found = loader.load(
        db, load_check_config({"HLT": [{"kind": "chi2", "histograms": "*"}]}), "EMC", 2
    )
    assert found.run_number is None
    assert found.histograms == {}
    assert len(loader._cache) == 0
