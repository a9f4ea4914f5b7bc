"""``overwatch web`` (overwatchWebApp), ``overwatch users ...`` and the demo's web server.

Named in :data:`overwatch.cli.COMMANDS` and imported only when one of them runs.
Heavy imports happen inside the commands so ``overwatch --help`` stays fast.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import click

from overwatch.context import AppContext
from overwatch.context import parent_pid_option
from overwatch.context import pass_app
from overwatch.context import stop_with_parent

if TYPE_CHECKING:
    from flask import Flask

    from overwatch.config import Settings
    from overwatch.demo.supervisor import Process

__all__ = [
    "DEMO_PASSWORD_FILE",
    "DEMO_USER",
    "serve",
    "serve_demo",
    "users_group",
    "web_command",
]

DEMO_USER = "demo"
DEMO_PASSWORD_FILE = "demo_password"  # noqa: S105 - a file name, not a password


def _split_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise click.BadParameter(f"expected HOST:PORT, got {bind!r}", param_hint="--bind") from None


def serve(settings: Settings, *, bind: str, workers: int) -> None:
    """Run the app under gunicorn until interrupted; each worker builds its own app and engine."""
    from gunicorn.app.base import BaseApplication  # noqa: PLC0415

    from overwatch.gunicorn_worker import ThreadWorker  # noqa: PLC0415
    from overwatch.metrics.multiprocess import GunicornMetrics  # noqa: PLC0415
    from overwatch.webapp import create_app  # noqa: PLC0415

    # Workers add up their metrics in one directory, named before any of them starts.
    metrics = GunicornMetrics(settings)

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in metrics.hooks().items():
                self.cfg.set(key, value)
            self.cfg.set("bind", [bind])
            self.cfg.set("workers", workers)
            # gthread, but one that always quits on SIGQUIT/Ctrl-C (see the module).
            self.cfg.set("worker_class", ThreadWorker)
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            self.cfg.set("proc_name", "overwatch-web")
            self.cfg.set("forwarded_allow_ips", "127.0.0.1" if settings.web_behind_proxy else "")

        def load(self) -> Flask:
            # Called in every worker after the fork, so no database connection is shared.
            return create_app(settings)

    _Server().run()


def web_command() -> click.Command:
    @click.command("web")
    @click.option(
        "--debug", is_flag=True, help="Flask's development server with reloader and debugger."
    )
    @click.option("--bind", help="HOST:PORT to listen on (default: the web_bind setting).")
    @click.option(
        "--workers", type=click.IntRange(1, 64), help="gunicorn workers (default: web_workers)."
    )
    @parent_pid_option
    @pass_app
    def web(
        app: AppContext, debug: bool, bind: str | None, workers: int | None, parent_pid: int | None
    ) -> None:
        """Serve the web app (overwatchWebApp): gunicorn, or Flask's server with --debug."""
        from overwatch.config import ConfigError  # noqa: PLC0415
        from overwatch.webapp.security import secret_key  # noqa: PLC0415

        if parent_pid is not None:
            stop_with_parent(parent_pid)

        settings = app.settings
        try:
            secret_key(settings)  # a bad key file fails here, once, not in every worker
        except ConfigError as exc:
            raise click.ClickException(f"bad configuration: {exc}") from exc
        app.database()  # migrate once here, before any worker starts
        # ... and let go of the connection: a forked worker must not inherit (nor close) it.
        app.close()
        address = bind or settings.web_bind
        if debug:
            from overwatch.webapp import create_app  # noqa: PLC0415

            host, port = _split_bind(address)
            create_app(settings).run(host=host, port=port, debug=True)
            return
        click.echo(f"Overwatch web app on http://{address}/")
        serve(settings, bind=address, workers=workers or settings.web_workers)

    return web


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _add_token_commands(users: click.Group) -> None:
    """``users token``, ``users tokens`` and ``users revoke-token``."""

    @users.command("token")
    @click.argument("name")
    @click.option("--label", default="", help="A note saying what the token is for.")
    @click.option(
        "--expires-days",
        type=click.IntRange(min=0),
        help="Days the token is valid; 0: never expires (default: api_token_expiry_days).",
    )
    @pass_app
    def token(app: AppContext, name: str, label: str, expires_days: int | None) -> None:
        """Create an API token for NAME (shown once); send it as 'Authorization: Bearer <token>'.

        Only the token goes to stdout, so scripts can capture it; its id and expiry go to stderr.
        """
        from overwatch.storage.users import UserError  # noqa: PLC0415
        from overwatch.storage.users import issue_token  # noqa: PLC0415

        days = app.settings.api_token_expiry_days if expires_days is None else expires_days
        try:
            with app.database().session() as session:
                issued = issue_token(session, name, label, expires_days=days)
        except UserError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(issued.token)
        expiry = f"expires {_when(issued.expires_at)}" if issued.expires_at else "never expires"
        click.echo(f"token {issued.id} for {name}, {expiry}", err=True)

    @users.command("tokens")
    @click.argument("name")
    @pass_app
    def tokens(app: AppContext, name: str) -> None:
        """List NAME's API tokens: id, label, created, last used, expires, state."""
        from overwatch.storage.models import utcnow  # noqa: PLC0415
        from overwatch.storage.users import UserError  # noqa: PLC0415
        from overwatch.storage.users import list_tokens  # noqa: PLC0415

        try:
            with app.database().session() as session:
                rows = list_tokens(session, name)
        except UserError as exc:
            raise click.ClickException(str(exc)) from exc
        if not rows:
            click.echo(f"{name} has no API tokens; make one with: overwatch users token {name}")
            return
        now = utcnow()
        click.echo(
            f"{'id':>5}  {'label':<20} {'created':<17} {'last used':<17} {'expires':<17} state"
        )
        for row in rows:
            if row.revoked_at is not None:
                state = "revoked"
            elif row.expires_at is not None and row.expires_at <= now:
                state = "expired"
            else:
                state = "valid"
            click.echo(
                f"{row.id:>5}  {row.label or '-':<20} {_when(row.created_at):<17} "
                f"{_when(row.last_used_at):<17} {_when(row.expires_at, 'never'):<17} {state}"
            )

    @users.command("revoke-token")
    @click.argument("token_id", metavar="ID", type=int)
    @pass_app
    def revoke_token_(app: AppContext, token_id: int) -> None:
        """Revoke one API token by its id (see 'overwatch users tokens NAME'); refused at once."""
        from overwatch.storage.users import UserError  # noqa: PLC0415
        from overwatch.storage.users import revoke_token  # noqa: PLC0415

        try:
            with app.database().session() as session:
                info = revoke_token(session, token_id)
        except UserError as exc:
            raise click.ClickException(str(exc)) from exc
        label = f" ({info.label})" if info.label else ""
        click.echo(f"revoked token {info.id}{label} of {info.user}")


def users_group() -> click.Group:
    from overwatch.storage.users import ROLES  # noqa: PLC0415

    @click.group("users")
    def users() -> None:
        """User accounts (roles: viewer, expert, admin) and API tokens."""

    @users.command("add")
    @click.argument("name")
    @click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
    @click.option(
        "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
    )
    @pass_app
    def add(app: AppContext, name: str, role: str, password_stdin: bool) -> None:
        """Add a user; the password is prompted for unless --password-stdin."""
        from overwatch.storage.users import UserError  # noqa: PLC0415
        from overwatch.storage.users import create_user  # noqa: PLC0415

        password = _read_password(password_stdin)
        try:
            with app.database().session() as session:
                info = create_user(session, name, password, role)
        except UserError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"added {info.name} ({info.role})")

    @users.command("list")
    @pass_app
    def list_(app: AppContext) -> None:
        """List users and their roles."""
        from overwatch.storage.users import list_users  # noqa: PLC0415

        with app.database().session() as session:
            rows = list_users(session)
        for info in rows:
            click.echo(f"{info.name:<24} {info.role:<8} {'active' if info.active else 'disabled'}")
        if not rows:
            click.echo("no users; add one with: overwatch users add NAME --role admin")

    @users.command("remove")
    @click.argument("name")
    @pass_app
    def remove(app: AppContext, name: str) -> None:
        """Remove a user, their API tokens and their browser sessions."""
        from overwatch.storage.users import remove_user  # noqa: PLC0415

        with app.database().session() as session:
            removed = remove_user(session, name)
        if not removed:
            raise click.ClickException(f"no user {name!r}")
        click.echo(f"removed {name}")

    _add_token_commands(users)
    return users


def _when(moment: datetime | None, empty: str = "-") -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else empty


def ensure_demo_user(app: AppContext) -> tuple[str, str]:
    """The demo expert login and its password, kept in ``<data_dir>/demo_password`` (0600)."""
    from overwatch.storage.users import create_user  # noqa: PLC0415
    from overwatch.storage.users import list_users  # noqa: PLC0415
    from overwatch.storage.users import set_password  # noqa: PLC0415

    path = app.settings.data_dir / DEMO_PASSWORD_FILE
    with app.database().session() as session:
        exists = any(info.name == DEMO_USER for info in list_users(session))
        if exists and path.is_file():
            return DEMO_USER, path.read_text(encoding="utf-8").strip()
        password = secrets.token_urlsafe(9)
        if exists:
            set_password(session, DEMO_USER, password)
        else:
            create_user(session, DEMO_USER, password, "expert")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    return DEMO_USER, password


def overwatch_command(app: AppContext, *arguments: str) -> list[str]:
    """The command line of ``overwatch <arguments>`` with the same settings as ``app``."""
    args = [sys.executable, "-m", "overwatch"]
    if app.config_file:
        args += ["--config", str(app.config_file)]
    # The group options are the only overrides a command line can carry; the environment
    # (OVERWATCH_*) is inherited by the child as it is.
    for key in ("data_dir", "database_url"):
        if app.overrides.get(key):
            args += [f"--{key.replace('_', '-')}", str(app.overrides[key])]
    return [*args, *arguments]


def serve_demo(app: AppContext, live: dict[str, int] | None = None) -> int:
    """After ``overwatch demo`` processed: make the demo login, print it, then run the
    web app and the processing daemon side by side until Ctrl-C stops both; returns the
    exit status (see :func:`overwatch.demo.supervisor.run_side_by_side`).

    Production runs the same two as separate services (``overwatchProcessing`` and
    ``overwatchWebApp``); the demo starts both as child processes, so that time slices
    and reprocessing requested from the web form are computed. With ``live`` (the
    arguments of :func:`overwatch.demo.live.continue_run`), a third process keeps the
    newest run going.
    """
    from overwatch.demo.live import live_process  # noqa: PLC0415
    from overwatch.demo.supervisor import run_side_by_side  # noqa: PLC0415

    name, password = ensure_demo_user(app)
    settings = app.settings
    bind = settings.web_bind
    line = "-" * 60
    click.echo(line)
    click.secho(f"  Overwatch is at  http://{bind}/", bold=True)
    click.secho(f"  log in as        {name}", bold=True)
    click.secho(f"  password         {password}", bold=True)
    click.echo(f"  (kept in {settings.data_dir / DEMO_PASSWORD_FILE}; role expert)")
    if live is not None:
        click.echo(f"  Run {live['run_number']} is live: a new snapshot every few seconds.")
    click.echo("  The processing daemon runs beside it; Ctrl-C stops everything.")
    click.echo(line)
    # The children open their own connections; the demo keeps none while it waits.
    app.close()
    parent = ["--parent-pid", str(os.getpid())]

    def start(*arguments: str) -> Callable[[], Process]:
        command = overwatch_command(app, *arguments, *parent)
        return lambda: subprocess.Popen(command)  # noqa: S603 - our own interpreter and module

    starts = [("processing daemon", start("process"))]
    if live is not None:
        starts.append(("live writer", lambda: live_process(settings, **live)))
    workers = str(settings.web_workers)
    starts.append(("web app", start("web", "--bind", bind, "--workers", workers)))
    return run_side_by_side(starts)
