"""SQLAlchemy 2 models: the database is the system of record for everything derived.

Runs have one row per subsystem (:class:`SubsystemRun`); every received file is a
:class:`ReceivedFile`. Processing writes a :class:`Result` (the run's state, a
time slice or a reprocessing) holding :class:`HistogramGroup` and
:class:`HistogramRecord` rows; a subsystem points at its current result, so a new
result replaces the old one in a single transaction. :class:`Job` is the queue of
record and :class:`JobAttempt` its provenance. Checks, trends, alarms and users
have their tables here so later features only add columns.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Alarm",
    "AlarmStreak",
    "Base",
    "CheckResult",
    "DaemonHeartbeat",
    "DqmAgent",
    "DqmUpload",
    "HistogramGroup",
    "HistogramRecord",
    "Job",
    "JobAttempt",
    "NotificationDelivery",
    "NotificationItem",
    "QuarantinedFile",
    "ReceivedFile",
    "ReceiverHeartbeat",
    "Reference",
    "Result",
    "Run",
    "SubsystemRun",
    "TrendValue",
    "User",
    "UserSession",
    "UserToken",
    "utcnow",
]

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, timezone-aware UTC: every time in the database is one of these."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no time zones; without this, values would come back naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, bytes: LargeBinary}


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_number: Mapped[int] = mapped_column(Integer, unique=True)
    first_file_time: Mapped[datetime]
    last_file_time: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    subsystems: Mapped[list[SubsystemRun]] = relationship(
        back_populates="run", order_by="SubsystemRun.name", cascade="all, delete-orphan"
    )


class SubsystemRun(Base):
    """One subsystem's data in one run."""

    __tablename__ = "subsystem_runs"
    __table_args__ = (
        UniqueConstraint("run_id", "name"),
        Index("ix_subsystem_runs_name_last_file_time", "name", "last_file_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    hlt_mode: Mapped[str] = mapped_column(String(8))
    accumulation_mode: Mapped[str] = mapped_column(String(16), default="cumulative")
    first_file_time: Mapped[datetime]
    last_file_time: Mapped[datetime]
    file_count: Mapped[int] = mapped_column(default=0)
    quality: Mapped[str | None] = mapped_column(String(8))
    # use_alter breaks the cycle subsystem -> result -> subsystem for CREATE TABLE order.
    current_result_id: Mapped[int | None] = mapped_column(
        ForeignKey("results.id", ondelete="SET NULL", use_alter=True)
    )
    processed_at: Mapped[datetime | None]
    #: Newest file whose data the current result includes; newer files mean work to do.
    processed_until: Mapped[datetime | None]

    run: Mapped[Run] = relationship(back_populates="subsystems")
    files: Mapped[list[ReceivedFile]] = relationship(
        back_populates="subsystem", order_by="ReceivedFile.timestamp", cascade="all, delete-orphan"
    )
    current_result: Mapped[Result | None] = relationship(
        foreign_keys=[current_result_id], post_update=True
    )


class ReceivedFile(Base):
    __tablename__ = "received_files"
    __table_args__ = (
        Index("ix_received_files_subsystem_id_timestamp", "subsystem_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subsystem_id: Mapped[int] = mapped_column(ForeignKey("subsystem_runs.id", ondelete="CASCADE"))
    #: Relative to the data directory, with forward slashes.
    path: Mapped[str] = mapped_column(String(512), unique=True)
    file_name: Mapped[str] = mapped_column(String(256))
    timestamp: Mapped[datetime]
    size: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(64))
    #: registered | processed | replay
    state: Mapped[str] = mapped_column(String(16), default="registered")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    subsystem: Mapped[SubsystemRun] = relationship(back_populates="files")


class QuarantinedFile(Base):
    """A file moved aside because its name or content is bad; the reason says which."""

    __tablename__ = "quarantined_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    original_name: Mapped[str] = mapped_column(String(256))
    path: Mapped[str] = mapped_column(String(512))
    reason: Mapped[str] = mapped_column(Text)
    quarantined_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Result(Base):
    """One processing outcome for a subsystem: the run's state, a time slice or a reprocessing."""

    __tablename__ = "results"
    __table_args__ = (Index("ix_results_subsystem_id_kind_key", "subsystem_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subsystem_id: Mapped[int] = mapped_column(ForeignKey("subsystem_runs.id", ondelete="CASCADE"))
    #: run | time_slice | reprocess
    kind: Mapped[str] = mapped_column(String(16))
    #: Identifies a time slice / reprocessing request (slice range + options) for reuse.
    key: Mapped[str] = mapped_column(String(64), default="")
    min_time: Mapped[datetime | None]
    max_time: Mapped[datetime | None]
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    quality: Mapped[str | None] = mapped_column(String(8))
    file_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    groups: Mapped[list[HistogramGroup]] = relationship(
        order_by="HistogramGroup.position", cascade="all, delete-orphan", passive_deletes=True
    )


class HistogramGroup(Base):
    __tablename__ = "histogram_groups"
    __table_args__ = (UniqueConstraint("result_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    position: Mapped[int]
    selector: Mapped[str] = mapped_column(String(256), default="")
    #: The plugin's page layout hint (``""`` a list, ``"grid"``) and its number of columns.
    layout: Mapped[str] = mapped_column(String(32), default="", server_default="")
    columns: Mapped[int] = mapped_column(default=0, server_default="0")


class HistogramRecord(Base):
    """One histogram of a result: metadata plus its JSROOT JSON, stored gzip-compressed."""

    __tablename__ = "histograms"
    __table_args__ = (
        UniqueConstraint("result_id", "name"),
        Index("ix_histograms_group_id_position", "group_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("histogram_groups.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(512))
    class_name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text, default="")
    entries: Mapped[float] = mapped_column(Float, default=0.0)
    draw_options: Mapped[str] = mapped_column(String(128), default="")
    quality: Mapped[str | None] = mapped_column(String(8))
    #: Plugin annotations shown next to the histogram (hot channels, messages, ...).
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: gzip of the JSROOT JSON; NULL for objects that could not be converted.
    json_gz: Mapped[bytes | None]
    json_size: Mapped[int] = mapped_column(default=0)
    etag: Mapped[str] = mapped_column(String(40), default="")
    #: Why an object could not be converted (TCanvas, TEfficiency, ...).
    error: Mapped[str | None] = mapped_column(Text)


class Job(Base):
    """The queue of record for background work."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_priority_id", "state", "priority", "id"),
        # At most one queued and one running job per dedupe key: level-triggered
        # scans add no duplicates and one subsystem is never processed twice at once.
        Index(
            "uq_jobs_queued_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text("state = 'queued'"),
            postgresql_where=text("state = 'queued'"),
        ),
        Index(
            "uq_jobs_running_dedupe_key",
            "dedupe_key",
            unique=True,
            sqlite_where=text("state = 'running'"),
            postgresql_where=text("state = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: process | time_slice | reprocess
    kind: Mapped[str] = mapped_column(String(16))
    subsystem_id: Mapped[int | None] = mapped_column(
        ForeignKey("subsystem_runs.id", ondelete="CASCADE"), index=True
    )
    run_number: Mapped[int | None]
    subsystem: Mapped[str | None] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(128))
    #: queued | running | done | failed
    state: Mapped[str] = mapped_column(String(16), default="queued")
    priority: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    result_id: Mapped[int | None] = mapped_column(ForeignKey("results.id", ondelete="SET NULL"))
    requested_by: Mapped[str | None] = mapped_column(String(64))


class JobAttempt(Base):
    """Provenance: one attempt at a job, whatever its outcome."""

    __tablename__ = "job_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int]
    worker: Mapped[str] = mapped_column(String(128))
    plugin: Mapped[str] = mapped_column(String(64), default="")
    plugin_version: Mapped[str] = mapped_column(String(32), default="")
    overwatch_version: Mapped[str] = mapped_column(String(32), default="")
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    duration_seconds: Mapped[float | None]
    #: done | failed | retry
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)
    histogram_count: Mapped[int] = mapped_column(default=0)


class DaemonHeartbeat(Base):
    """Liveness of processing daemons, shown on the status page."""

    __tablename__ = "daemon_heartbeats"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CheckResult(Base):
    __tablename__ = "check_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    histogram_id: Mapped[int] = mapped_column(
        ForeignKey("histograms.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    quality: Mapped[str | None] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text, default="")


class Reference(Base):
    """A run an expert marked as the reference of a subsystem, for all runs or a range.

    ``run_min``/``run_max`` both ``None``: the subsystem's default reference; else
    it applies to the runs from ``run_min`` to ``run_max`` (inclusive).
    """

    __tablename__ = "references"
    __table_args__ = (Index("ix_references_subsystem", "subsystem"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subsystem: Mapped[str] = mapped_column(String(32))
    run_number: Mapped[int] = mapped_column(Integer)
    run_min: Mapped[int | None] = mapped_column(Integer)
    run_max: Mapped[int | None] = mapped_column(Integer)
    set_by: Mapped[str] = mapped_column(String(64), default="")
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrendValue(Base):
    __tablename__ = "trend_values"
    __table_args__ = (Index("ix_trend_values_subsystem_name_time", "subsystem", "name", "time"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subsystem: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(256))
    run_number: Mapped[int] = mapped_column(index=True)
    time: Mapped[datetime]
    value: Mapped[float]
    error: Mapped[float | None]


class Alarm(Base):
    """A problem a rule found, stored once and updated while it persists.

    At most one *active* alarm (``cleared_at IS NULL``) exists per (rule, subsystem,
    target): a partial unique index enforces it on SQLite and PostgreSQL, so a
    condition seen again updates ``last_seen_at``/``count`` instead of adding a row.
    When the condition no longer holds the alarm gets ``cleared_at`` and a later
    recurrence raises a new one. ``run_number`` is the latest run it points at
    (``None`` for a receiver's silence), ``histogram`` the histogram it points at.
    """

    __tablename__ = "alarms"
    __table_args__ = (
        Index(
            "uq_alarms_active_rule_subsystem_target",
            "rule",
            "subsystem",
            "target",
            unique=True,
            sqlite_where=text("cleared_at IS NULL"),
            postgresql_where=text("cleared_at IS NULL"),
        ),
        Index("ix_alarms_subsystem_cleared_at", "subsystem", "cleared_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subsystem: Mapped[str] = mapped_column(String(32))
    run_number: Mapped[int | None] = mapped_column(index=True)
    histogram: Mapped[str | None] = mapped_column(String(512))
    rule: Mapped[str] = mapped_column(String(128))
    target: Mapped[str] = mapped_column(String(256))
    message: Mapped[str] = mapped_column(Text)
    #: warning | critical
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    raised_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    count: Mapped[int] = mapped_column(default=1, server_default="1")
    cleared_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None]


class AlarmStreak(Base):
    """How many results in a row a check rule found its quality on one histogram.

    Check results are replaced with each new result, so the streak a
    ``consecutive: N`` rule needs is kept here; a histogram without a streak has none.
    """

    __tablename__ = "alarm_streaks"
    __table_args__ = (UniqueConstraint("rule", "subsystem", "histogram"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(128))
    subsystem: Mapped[str] = mapped_column(String(32))
    histogram: Mapped[str] = mapped_column(String(512))
    count: Mapped[int]
    run_number: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationDelivery(Base):
    """One message to one channel (an alarm, a digest of several, or a test) and its fate.

    ``state``: ``pending`` (waiting for its first attempt or a retry at
    ``next_attempt_at``), ``sending`` (claimed by a daemon at ``claimed_at``), ``sent``,
    or ``failed`` (every attempt failed; ``last_error`` says why). ``history`` records
    each attempt: ``{"at", "ok", "seconds", "error"}``.
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        Index("ix_notification_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_notification_deliveries_channel_created_at", "channel", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    #: alarm | digest | test
    kind: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    title: Mapped[str] = mapped_column(String(512))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class NotificationItem(Base):
    """One alarm in one delivery: the cool-down's memory of what a channel was told.

    ``seq`` counts the notifications of an alarm on a channel (0 for the first); the
    unique key makes two daemons that plan the same notification at once collide
    instead of sending it twice.
    """

    __tablename__ = "notification_items"
    __table_args__ = (UniqueConstraint("alarm_id", "channel", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("notification_deliveries.id", ondelete="CASCADE"), index=True
    )
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    #: The alarm's severity when it was notified (a higher one later notifies again).
    severity: Mapped[str] = mapped_column(String(16))
    #: new | escalated | reminder
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    #: viewer | expert | admin
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserToken(Base):
    """An API token; only its SHA-256 is stored."""

    __tablename__ = "user_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    #: ``None``: never expires.
    expires_at: Mapped[datetime | None]
    #: Set by ``overwatch users revoke-token``; the row stays so a refusal can say why.
    revoked_at: Mapped[datetime | None]


class ReceiverHeartbeat(Base):
    """Liveness and counts of one receiver (DQM endpoint, DQM agent, ZMQ receiver, replay)."""

    __tablename__ = "receiver_heartbeats"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    #: dqm | dqm-agent | zmq | replay
    kind: Mapped[str] = mapped_column(String(16))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime]
    last_file: Mapped[str | None] = mapped_column(String(256))
    last_file_at: Mapped[datetime | None]
    accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    refused: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    last_refusal_reason: Mapped[str | None] = mapped_column(Text)
    last_refusal_at: Mapped[datetime | None]
    #: When the silence that began at ``last_seen_at`` was logged (so it is logged once).
    silence_reported_at: Mapped[datetime | None]


class DqmAgent(Base):
    """A DQM agent allowed to upload; only the SHA-256 of its token is stored."""

    __tablename__ = "dqm_agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Further ``amoreAgent`` names this agent may upload under (besides its own).
    allowed_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DqmUpload(Base):
    """One stored DQM upload; the unique key makes a repeated upload a duplicate."""

    __tablename__ = "dqm_uploads"
    __table_args__ = (UniqueConstraint("agent", "run_number", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agent: Mapped[str] = mapped_column(String(32))
    run_number: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(256), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class UserSession(Base):
    """A browser login; the signed cookie carries the random key, the database its SHA-256.

    The key is never reused (unlike user ids on SQLite), so a cookie can only ever
    open the session it was issued for; logout, removal, a new password or a new
    role set ``revoked_at`` or delete the row, and the next request is anonymous.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
