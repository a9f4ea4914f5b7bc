"""``overwatch web`` (overwatchWebApp), ``overwatch users ...`` and the demo's web server.

Attached to the click group by :mod:`overwatch.cli` through :func:`register_commands`.
Heavy imports happen inside the commands so ``overwatch --help`` stays fast.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

import click

if TYPE_CHECKING:
    from flask import Flask

    from overwatch.cli import AppContext
    from overwatch.config import Settings

__all__ = ["DEMO_PASSWORD_FILE", "DEMO_USER", "register_commands", "serve", "serve_demo"]

DEMO_USER = "demo"
DEMO_PASSWORD_FILE = "demo_password"  # noqa: S105 - a file name, not a password


def _pass_app(function: Any) -> Any:
    from overwatch.cli import pass_app  # noqa: PLC0415 - overwatch.cli imports this module

    return pass_app(function)


def _split_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise click.BadParameter(f"expected HOST:PORT, got {bind!r}", param_hint="--bind") from None


def serve(settings: Settings, *, bind: str, workers: int) -> None:
    """Run the app under gunicorn until interrupted; each worker builds its own app and engine."""
    from gunicorn.app.base import BaseApplication  # noqa: PLC0415

    from overwatch.webapp import create_app  # noqa: PLC0415

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", [bind])
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            self.cfg.set("proc_name", "overwatch-web")
            self.cfg.set("forwarded_allow_ips", "127.0.0.1" if settings.web_behind_proxy else "")

        def load(self) -> Flask:
            # Called in every worker after the fork, so no database connection is shared.
            return create_app(settings)

    _Server().run()


def _web_command() -> click.Command:
    @click.command("web")
    @click.option(
        "--debug", is_flag=True, help="Flask's development server with reloader and debugger."
    )
    @click.option("--bind", help="HOST:PORT to listen on (default: the web_bind setting).")
    @click.option(
        "--workers", type=click.IntRange(1, 64), help="gunicorn workers (default: web_workers)."
    )
    @_pass_app
    def web(app: AppContext, debug: bool, bind: str | None, workers: int | None) -> None:
        """Serve the web app (overwatchWebApp): gunicorn, or Flask's server with --debug."""
        settings = app.settings
        app.database()  # migrate once here, before any worker starts
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
    @_pass_app
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
    @_pass_app
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
    @_pass_app
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


def _users_group() -> click.Group:
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
    @_pass_app
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
    @_pass_app
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
    @_pass_app
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


def register_commands(cli: click.Group) -> None:
    cli.add_command(_web_command())
    cli.add_command(_users_group())


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


def serve_demo(app: AppContext) -> None:
    """After ``overwatch demo`` processed: make the demo login, print it, serve until Ctrl-C."""
    name, password = ensure_demo_user(app)
    bind = app.settings.web_bind
    line = "-" * 60
    click.echo(line)
    click.secho(f"  Overwatch is at  http://{bind}/", bold=True)
    click.secho(f"  log in as        {name}", bold=True)
    click.secho(f"  password         {password}", bold=True)
    click.echo(f"  (kept in {app.settings.data_dir / DEMO_PASSWORD_FILE}; role expert)")
    click.echo("  Ctrl-C stops the server.")
    click.echo(line)
    serve(app.settings, bind=bind, workers=app.settings.web_workers)
