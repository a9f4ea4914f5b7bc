"""``overwatch reference set|list|clear``: the reference runs the reference checks compare with.

A reference takes effect at the next processing of a run (the processing daemon
reprocesses an ongoing run with every new file; a finished run with
``reprocess``).
"""

from __future__ import annotations

import getpass

import click

from overwatch.context import AppContext
from overwatch.context import pass_app

__all__ = ["reference_group"]


def _runs_option(text: str | None) -> tuple[int, int] | None:
    from overwatch.storage.references import InvalidReferenceError  # noqa: PLC0415
    from overwatch.storage.references import parse_runs  # noqa: PLC0415

    try:
        return parse_runs(text)
    except InvalidReferenceError as exc:
        raise click.BadParameter(exc.reason, param_hint="--runs") from exc


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (containers)
        return "cli"


def reference_group() -> click.Group:
    # Each command imports the storage layer (SQLAlchemy) itself, so --help stays light.
    @click.group("reference")
    def reference() -> None:
        """Reference runs per subsystem, which reference checks compare with."""

    @reference.command("set")
    @click.argument("subsystem")
    @click.argument("run_number", metavar="RUN", type=int)
    @click.option("--runs", help="Only for the runs A-B (inclusive); default: every run.")
    @pass_app
    def set_(app: AppContext, subsystem: str, run_number: int, runs: str | None) -> None:
        """Mark RUN as the reference of SUBSYSTEM (for the runs A-B with --runs)."""
        from overwatch.storage.references import InvalidReferenceError  # noqa: PLC0415
        from overwatch.storage.references import set_reference  # noqa: PLC0415

        run_range = _runs_option(runs)
        with app.database().session() as session:
            try:
                view = set_reference(session, subsystem, run_number, runs=run_range, set_by=_user())
            except InvalidReferenceError as exc:
                raise click.ClickException(exc.reason) from exc
        scope = f"runs {view.runs[0]}-{view.runs[1]}" if view.runs else "every run"
        click.echo(f"{subsystem}: run {run_number} is the reference for {scope}")

    @reference.command("list")
    @click.argument("subsystem", required=False)
    @pass_app
    def list_(app: AppContext, subsystem: str | None) -> None:
        """The references (of SUBSYSTEM), the default one of each subsystem first."""
        from overwatch.storage.references import list_references  # noqa: PLC0415

        with app.database().session() as session:
            views = list_references(session, subsystem)
        if not views:
            click.echo("no reference set")
            return
        for view in views:
            scope = f"runs {view.runs[0]}-{view.runs[1]}" if view.runs else "every run"
            click.echo(
                f"{view.subsystem:<8} run {view.run_number:<10} {scope:<24} "
                f"set by {view.set_by or '-'} at {view.set_at:%Y-%m-%d %H:%M} UTC"
            )

    @reference.command("clear")
    @click.argument("subsystem")
    @click.option("--runs", help="The reference for the runs A-B; default: the one for every run.")
    @click.option("--all", "every", is_flag=True, help="Every reference of SUBSYSTEM.")
    @pass_app
    def clear(app: AppContext, subsystem: str, runs: str | None, every: bool) -> None:
        """Remove a reference of SUBSYSTEM (the default one, the one for --runs, or --all)."""
        from overwatch.storage.references import clear_reference  # noqa: PLC0415

        if every and runs is not None:
            raise click.UsageError("give --runs or --all, not both")
        run_range = _runs_option(runs)
        with app.database().session() as session:
            removed = clear_reference(session, subsystem, runs=run_range, every=every)
        if not removed:
            raise click.ClickException(f"{subsystem}: no such reference")
        click.echo(f"{subsystem}: removed {removed} reference{'s' if removed != 1 else ''}")

    return reference
