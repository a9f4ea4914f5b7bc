"""Jinja filters: times in the experiment's time zone, ages, qualities, sizes, job labels and histogram anchors."""

from __future__ import annotations

import re
import zlib
from datetime import datetime

from flask import Flask
from flask import current_app

from overwatch.storage.models import utcnow
from overwatch.storage.queries import JobView

__all__ = [
    "age",
    "hist_anchor",
    "init_app",
    "is_ongoing",
    "job_label",
    "local_time",
    "quality_class",
    "size",
]

QUALITY_LABELS = {"good": "good", "medium": "medium", "bad": "bad"}


def local_time(value: datetime | None, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A UTC time shown in the configured time zone (the one the control room uses)."""
    if value is None:
        return "—"
    return value.astimezone(current_app.extensions["overwatch"].settings.tz).strftime(pattern)


def age(value: datetime | None, now: datetime | None = None) -> str:
    """'42 s ago', '5 min ago', '3 h ago', '2 d ago'."""
    if value is None:
        return "never"
    seconds = max(((now or utcnow()) - value).total_seconds(), 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} d ago"


def is_ongoing(last_file_time: datetime | None, now: datetime | None = None) -> bool:
    """A run is ongoing while its newest file is younger than ``ongoing_minutes``."""
    if last_file_time is None:
        return False
    minutes: float = current_app.extensions["overwatch"].settings.ongoing_minutes
    return ((now or utcnow()) - last_file_time).total_seconds() < minutes * 60


#: What each kind of job does, in the words of the pages.
JOB_KINDS = {"process": "processing", "time_slice": "time slice", "reprocess": "reprocessing"}


def job_label(job: JobView) -> str:
    """What a job does, for people: "processing", "reprocessing", "time slice 1-3 min"."""
    label = JOB_KINDS.get(job.kind, job.kind)
    params = job.params or {}
    if job.kind == "time_slice" and "min_minutes" in params and "max_minutes" in params:
        label += f" {params['min_minutes']:g}\N{EN DASH}{params['max_minutes']:g} min"
    return label


_NOT_IN_ANCHOR = re.compile(r"[^A-Za-z0-9_-]+")


def hist_anchor(name: str) -> str:
    """The element id of a histogram's card on a run page (the side menu links to it).

    Readable where the name allows (``h-EMCTRQA_histFastORL0``); a name that needed
    changing gets a checksum of the original too, so ``a/b`` and ``a-b`` stay apart.
    """
    slug = _NOT_IN_ANCHOR.sub("-", name)
    if slug == name:
        return f"h-{slug}"
    return f"h-{slug}-{zlib.crc32(name.encode()):08x}"


def quality_class(quality: str | None) -> str:
    """CSS modifier of a quality badge: good, medium, bad or none."""
    return QUALITY_LABELS.get(quality or "", "none")


def size(value: int) -> str:
    """A byte count for people: 512 B, 1.5 kB, 2.0 MB, 1.2 GB, 3.4 TB."""
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if amount < 1024:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TB"


def init_app(app: Flask) -> None:
    app.add_template_filter(local_time, "localtime")
    app.add_template_filter(age, "age")
    app.add_template_filter(quality_class, "quality")
    app.add_template_filter(size, "size")
    app.add_template_filter(hist_anchor, "anchor")
    app.add_template_global(is_ongoing, "is_ongoing")
    app.add_template_global(job_label, "job_label")
    settings = app.extensions["overwatch"].settings
    app.jinja_env.globals.update(
        config_timezone=settings.timezone, ongoing_minutes=f"{settings.ongoing_minutes:g}"
    )
