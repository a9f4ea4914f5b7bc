"""The histogram model sits below processing, detectors and monitoring."""

from __future__ import annotations

import subprocess
import sys

import overwatch.histograms
import overwatch.processing.histogram
import overwatch.processing.merge


def test_importing_the_model_imports_no_higher_layer() -> None:
    code = (
        "import sys, overwatch.histograms, overwatch.detectors.api\n"
        "higher = sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['overwatch', 'processing'], ['overwatch', 'monitoring'], ['overwatch', 'webapp']))\n"
        "print(','.join(higher))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_the_old_locations_re_export_the_same_objects() -> None:
    assert overwatch.processing.histogram.Histogram is overwatch.histograms.Histogram
    assert overwatch.processing.histogram.Axis is overwatch.histograms.Axis
    assert overwatch.processing.merge.merge is overwatch.histograms.merge
    assert overwatch.processing.merge.subtract is overwatch.histograms.subtract


def test_plugins_and_checks_import_no_processing_or_web_code() -> None:
    code = (
        "import sys\n"
        "import overwatch.detectors.emc, overwatch.detectors.hlt, overwatch.detectors.tpc\n"
        "import overwatch.monitoring.checks\n"
        "higher = sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['overwatch', 'processing'], ['overwatch', 'storage'], ['overwatch', 'webapp']))\n"
        "print(','.join(higher))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
