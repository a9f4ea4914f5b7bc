"""Insert runs, subsystems, results and histograms directly, as processing would store them."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from overwatch.storage import Database
from overwatch.storage.models import HistogramGroup
from overwatch.storage.models import HistogramRecord
from overwatch.storage.models import ReceivedFile
from overwatch.storage.models import Result
from overwatch.storage.models import Run
from overwatch.storage.models import SubsystemRun
from tests.webapp.histjson import gz_payload
from tests.webapp.histjson import th1
from tests.webapp.histjson import th2

__all__ = ["BASE_TIME", "HistSpec", "add_run", "default_histograms"]

BASE_TIME = datetime(2018, 10, 22, 7, 53, 55, tzinfo=UTC)


@dataclass
class HistSpec:
    name: str
    group: str | None
    kind: str = "th1"
    quality: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    draw_options: str = ""
    scale: float = 1.0


def default_histograms() -> list[HistSpec]:
    return [
        HistSpec(
            "EMCal/hitsPerTower",
            "Towers",
            "th2",
            "bad",
            {"check": "3 hot towers", "hot_channels": [12, 40, 77]},
        ),
        HistSpec(
            "EMCal/energy",
            "Towers",
            "th1",
            "good",
            {"info": ["Scaled by 1/100 entries"]},
            draw_options="hist",
        ),
        HistSpec("EMCal/time", "Timing", "th1", "medium", {"check": "mean time drifts"}),
        HistSpec("EMCal/canvas", "Timing", "th1", None, error="TCanvas objects are not converted"),
        HistSpec("loose", None, "th1"),
    ]


def _payload(spec: HistSpec) -> bytes:
    if spec.kind == "th2":
        return th2(
            spec.name,
            [[(ix * 7 + iy * 3) % 11 * spec.scale for iy in range(8)] for ix in range(12)],
        )
    return th1(
        spec.name, [spec.scale * v for v in (1, 4, 9, 16, 25, 16, 9, 4, 1, 2)], low=0, high=10
    )


def add_result(
    session: Any,
    sub: SubsystemRun,
    specs: list[HistSpec],
    *,
    kind: str = "run",
    key: str = "",
    options: dict[str, Any] | None = None,
    quality: str | None = None,
) -> Result:
    result = Result(
        subsystem_id=sub.id,
        kind=kind,
        key=key,
        options=options or {},
        quality=quality,
        min_time=sub.first_file_time,
        max_time=sub.last_file_time,
    )
    session.add(result)
    session.flush()
    groups: dict[str, int] = {}
    for spec in specs:
        if spec.group and spec.group not in groups:
            group = HistogramGroup(result_id=result.id, name=spec.group, position=len(groups))
            session.add(group)
            session.flush()
            groups[spec.group] = group.id
    positions: dict[str | None, int] = {}
    for spec in specs:
        position = positions.get(spec.group, 0)
        positions[spec.group] = position + 1
        gz, size, etag = (None, 0, "") if spec.error else gz_payload(_payload(spec))
        session.add(
            HistogramRecord(
                result_id=result.id,
                group_id=groups.get(spec.group) if spec.group else None,
                position=position,
                name=spec.name,
                class_name="TCanvas" if spec.error else ("TH2F" if spec.kind == "th2" else "TH1F"),
                title=f"{spec.name} title",
                entries=100.0,
                draw_options=spec.draw_options,
                quality=spec.quality,
                info=spec.info,
                json_gz=gz,
                json_size=size,
                etag=etag,
                error=spec.error,
            )
        )
    session.flush()
    return result


def add_run(
    db: Database,
    run_number: int,
    *,
    subsystems: tuple[str, ...] = ("EMC",),
    start: datetime = BASE_TIME,
    minutes: float = 20.0,
    specs: list[HistSpec] | None = None,
    data_dir: Path | None = None,
    quality: str | None = "bad",
) -> dict[str, int]:
    """A run with processed subsystems; returns {subsystem: subsystem id}. Files are written when data_dir is given."""
    ids: dict[str, int] = {}
    end = start + timedelta(minutes=minutes)
    with db.session() as session:
        run = Run(run_number=run_number, first_file_time=start, last_file_time=end)
        session.add(run)
        session.flush()
        for name in subsystems:
            sub = SubsystemRun(
                run_id=run.id,
                name=name,
                hlt_mode="C",
                accumulation_mode="cumulative",
                first_file_time=start,
                last_file_time=end,
                file_count=2,
                quality=quality,
            )
            session.add(sub)
            session.flush()
            for index, when in enumerate((start, end)):
                stamp = when.strftime("%Y_%m_%d_%H_%M_%S")
                rel = f"Run{run_number}/{name}/{name}histos_{run_number}_C_{stamp}.root"
                if data_dir is not None:
                    path = data_dir / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(b"root\x00" + bytes([index]) * 64)
                session.add(
                    ReceivedFile(
                        subsystem_id=sub.id,
                        path=rel,
                        file_name=rel.rsplit("/", 1)[1],
                        timestamp=when,
                        size=69,
                        checksum="0" * 64,
                        state="processed",
                    )
                )
            result = add_result(
                session, sub, specs if specs is not None else default_histograms(), quality=quality
            )
            sub.current_result_id = result.id
            ids[name] = sub.id
    return ids
