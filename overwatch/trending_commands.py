"""``overwatch trending backfill|list``: trends computed from what is stored.

``backfill`` applies the configured trends to every run's current result (the
stored histograms, decoded from their JSROOT JSON, and the stored check figures),
so a trend defined today has values for every run already processed; values of
the same processing are replaced, so running it twice changes nothing.
"""

from __future__ import annotations

import sys

import click

from overwatch.context import AppContext
from overwatch.context import pass_app

__all__ = ["trending_group"]


@click.group("trending")
def trending_group() -> None:
    """Trend values: back-fill new trend definitions from what is stored."""


@trending_group.command("backfill")
@click.option(
    "--subsystem",
    "subsystems",
    multiple=True,
    help="Only this subsystem (repeat for several); default: every subsystem with trends.",
)
@pass_app
def backfill_command(app: AppContext, subsystems: tuple[str, ...]) -> None:
    """Compute the configured trends of every processed run from the stored results."""
    from overwatch.detectors.registry import activate_plugins  # noqa: PLC0415
    from overwatch.processing.trending import backfill  # noqa: PLC0415

    settings, db = app.settings, app.database()
    unknown = [name for name in subsystems if not settings.trending.for_subsystem(name)]
    if unknown:
        raise click.BadParameter(
            f"no trends are defined for {', '.join(unknown)} (see the trending setting)",
            param_hint="--subsystem",
        )
    if settings.plugins:
        # Trends of kind "plugin" call the site plugins' trend hook.
        activate_plugins(settings.plugins)
    chosen = list(subsystems) or None
    if sys.stderr.isatty():
        with click.progressbar(length=1, label="back-filling", file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            report = backfill(settings, db, chosen, progress=progress)
    else:
        report = backfill(settings, db, chosen)
    click.echo(f"backfill: {report.values} trend value(s) from {report.results} result(s)")


@trending_group.command("list")
@click.argument("subsystem", required=False)
@pass_app
def list_command(app: AppContext, subsystem: str | None) -> None:
    """The configured trends (of SUBSYSTEM) with their number of stored values."""
    from overwatch.storage.trends import trend_summaries  # noqa: PLC0415

    config = app.settings.trending
    names = [subsystem] if subsystem else sorted(config.subsystems)
    with app.database().session() as session:
        for name in names:
            stored = {item.name: item.points for item in trend_summaries(session, name)}
            for spec in config.for_subsystem(name):
                click.echo(
                    f"{name}  {spec.name:<24} {spec.kind:<8} {stored.get(spec.name, 0):>6} "
                    f"value(s)  {spec.histogram}"
                )
