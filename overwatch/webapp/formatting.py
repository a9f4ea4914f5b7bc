"""Jinja filters: times in the experiment's time zone, ages, qualities and sizes."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask import current_app

from overwatch.storage.models import utcnow

__all__ = ["age", "init_app", "is_ongoing", "local_time", "quality_class", "size"]

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
    app.add_template_global(is_ongoing, "is_ongoing")
    settings = app.extensions["overwatch"].settings
    app.jinja_env.globals.update(
        config_timezone=settings.timezone, ongoing_minutes=f"{settings.ongoing_minutes:g}"
    )
