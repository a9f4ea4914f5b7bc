"""Read-side query functions for the web app and the API.

Every function answers from indexes and returns small frozen dataclasses, never ORM
objects, so templates cannot trigger lazy loads and a page costs a fixed, small
number of queries however many runs there are. :mod:`.runs` covers runs,
subsystems and results; :mod:`.histograms` histograms and their checks; :mod:`.status`
jobs, daemons and newest files.
"""

from __future__ import annotations

from overwatch.storage.queries.histograms import CheckView
from overwatch.storage.queries.histograms import GroupView
from overwatch.storage.queries.histograms import HistogramMeta
from overwatch.storage.queries.histograms import HistogramPayload
from overwatch.storage.queries.histograms import histogram_meta
from overwatch.storage.queries.histograms import histogram_payload
from overwatch.storage.queries.histograms import result_histograms
from overwatch.storage.queries.runs import QUALITY_FILTERS
from overwatch.storage.queries.runs import ResultView
from overwatch.storage.queries.runs import RunList
from overwatch.storage.queries.runs import RunSummary
from overwatch.storage.queries.runs import SubsystemSummary
from overwatch.storage.queries.runs import get_result
from overwatch.storage.queries.runs import get_run
from overwatch.storage.queries.runs import get_subsystem
from overwatch.storage.queries.runs import list_runs
from overwatch.storage.queries.runs import neighbour_runs
from overwatch.storage.queries.runs import raw_file
from overwatch.storage.queries.status import HeartbeatView
from overwatch.storage.queries.status import JobView
from overwatch.storage.queries.status import SubsystemActivity
from overwatch.storage.queries.status import get_job
from overwatch.storage.queries.status import heartbeats
from overwatch.storage.queries.status import list_jobs
from overwatch.storage.queries.status import requested_minutes
from overwatch.storage.queries.status import subsystem_activity

__all__ = [
    "QUALITY_FILTERS",
    "CheckView",
    "GroupView",
    "HeartbeatView",
    "HistogramMeta",
    "HistogramPayload",
    "JobView",
    "ResultView",
    "RunList",
    "RunSummary",
    "SubsystemActivity",
    "SubsystemSummary",
    "get_job",
    "get_result",
    "get_run",
    "get_subsystem",
    "heartbeats",
    "histogram_meta",
    "histogram_payload",
    "list_jobs",
    "list_runs",
    "neighbour_runs",
    "raw_file",
    "requested_minutes",
    "result_histograms",
    "subsystem_activity",
]
