"""The text people receive: one alarm's message, a digest of many, a test message.

Alarms arrive here as :class:`~overwatch.monitoring.alarm_view.AlarmView`, plain data
copied from the alarms table by the delivery pass, so this module knows no database. A message is plain text
(e-mail bodies, chat posts and JSON payloads alike), its title short enough for a
subject line; links point into the web app when ``notifications.base_url`` is set.
An alarm of every subsystem (subsystem ``"*"``) is called "all subsystems".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from urllib.parse import urlencode

from overwatch.monitoring.alarm_view import AlarmView
from overwatch.monitoring.alarms.config import ALL_SUBSYSTEMS
from overwatch.monitoring.notifications.config import severity_rank

__all__ = ["Message", "alarm_message", "digest_message", "test_message"]

#: Longest title: e-mail subjects and chat previews cut long ones anyway.
MAX_TITLE = 200
_PREFIX = "[Overwatch]"
_REASONS = {"new": "", "escalated": "escalated: ", "reminder": "still active: "}


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    #: warning | critical (the most severe alarm in it); "info" for a test.
    severity: str


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(text: str, limit: int = MAX_TITLE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _links(note: AlarmView, base_url: str | None) -> list[str]:
    if not base_url:
        return []
    links = []
    if note.run_number is not None:
        page = f"{base_url}/runs/{note.run_number}/{quote(note.subsystem, safe='')}"
        if note.histogram:
            page += f"/view/{quote(note.histogram, safe='')}"
        links.append(f"Run page: {page}")
    links.append(f"Alarms: {base_url}/alarms?{urlencode({'subsystem': note.subsystem})}")
    return links


def _where(note: AlarmView) -> str:
    parts = [f"rule {note.rule} on {note.target}"]
    if note.run_number is not None:
        parts.append(f"run {note.run_number}")
    if note.histogram:
        parts.append(f"histogram {note.histogram}")
    return ", ".join(parts)


def subsystem_name(note: AlarmView) -> str:
    """The subsystem as messages name it ("all subsystems" for ``"*"``)."""
    return "all subsystems" if note.subsystem == ALL_SUBSYSTEMS else note.subsystem


def alarm_message(note: AlarmView, reason: str = "new", base_url: str | None = None) -> Message:
    """The message for one alarm; ``reason`` is new, escalated or reminder."""
    title = _short(
        f"{_PREFIX} {_REASONS.get(reason, '')}{note.severity.upper()} {subsystem_name(note)}: {note.message}"
    )
    first = (
        f"Alarm of all subsystems ({note.severity})"
        if note.subsystem == ALL_SUBSYSTEMS
        else f"{note.subsystem} alarm ({note.severity})"
    )
    lines = [
        f"{first}: {note.message}",
        f"Where: {_where(note)}",
        f"First seen {_time(note.raised_at)}, last seen {_time(note.last_seen_at)}, "
        f"{note.count} time{'' if note.count == 1 else 's'}.",
    ]
    if note.cleared_at is not None:
        lines.append(f"Cleared at {_time(note.cleared_at)}.")
    if reason == "escalated":
        lines.append(f"The alarm's severity rose to {note.severity}.")
    elif reason == "reminder":
        lines.append("Reminder: the alarm persists and nobody has acknowledged it.")
    lines.extend(_links(note, base_url))
    return Message(title, "\n".join(lines), note.severity)


def digest_message(notes: Sequence[tuple[AlarmView, str]], base_url: str | None = None) -> Message:
    """One message for many alarms (``(note, reason)`` pairs), most severe first."""
    ordered = sorted(notes, key=lambda item: (-severity_rank(item[0].severity), item[0].id))
    critical = sum(1 for note, _ in ordered if note.severity == "critical")
    subsystems = sorted({subsystem_name(note) for note, _ in ordered})
    severity = "critical" if critical else "warning"
    title = _short(
        f"{_PREFIX} {len(ordered)} alarms ({critical} critical): {', '.join(subsystems)}"
    )
    lines = [f"{len(ordered)} alarms need attention:", ""]
    for note, reason in ordered:
        label = _REASONS.get(reason, "")
        cleared = " (cleared)" if note.cleared_at is not None else ""
        lines.append(
            f"- {note.severity.upper()} {subsystem_name(note)}: {label}{note.message}{cleared} [{_where(note)}]"
        )
    if base_url:
        lines.extend(["", f"Alarms: {base_url}/alarms"])
    return Message(title, "\n".join(lines), severity)


def test_message(channel: str, when: datetime) -> Message:
    """What ``overwatch notify test`` sends."""
    return Message(
        f"{_PREFIX} test message to {channel}",
        f"This is a test of the Overwatch notification channel {channel!r}, "
        f"sent {_time(when)}. Alarms routed to it will arrive like this.",
        "info",
    )
