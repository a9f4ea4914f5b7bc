"""``overwatch receive ...`` (the receivers) and ``overwatch agents ...`` (DQM agent tokens).

Named in :data:`overwatch.cli.COMMANDS` and imported when one of them runs; the
ZMQ receiver's command (:mod:`overwatch.receivers.stream_commands`) hangs from
:data:`receive_group` too. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import click

from overwatch.context import AppContext
from overwatch.context import pass_app
from overwatch.receivers.stream_commands import zmq_command

__all__ = ["agents_group", "receive_group"]

DEFAULT_DQM_BIND = "127.0.0.1:8851"


@click.group("receive")
def receive_group() -> None:
    """Receivers that bring ROOT files into the data directory."""


receive_group.add_command(zmq_command)


@receive_group.command("dqm")
@click.option("--bind", default=DEFAULT_DQM_BIND, show_default=True, help="HOST:PORT to listen on.")
@click.option(
    "--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="gunicorn workers."
)
@pass_app
def receive_dqm(app: AppContext, bind: str, workers: int) -> None:
    """The DQM REST receiver (overwatchDQMReceiver): POST /rest/api/files under gunicorn."""
    from overwatch.receivers.server import serve_receiver  # noqa: PLC0415

    settings = app.settings
    app.database()  # migrate once here, before any worker starts
    # ... and let go of the connection: a forked worker must not inherit (nor close) it.
    app.close()
    click.echo(f"Overwatch DQM receiver on http://{bind}/rest/api/files -> {settings.data_dir}")
    serve_receiver(settings, bind=bind, workers=workers)


@click.group("agents")
def agents_group() -> None:
    """DQM agents allowed to upload, each with its own token."""


@agents_group.command("add")
@click.argument("name")
@click.option(
    "--allow",
    "allow",
    multiple=True,
    metavar="NAME",
    help="Another amoreAgent name this agent may upload under (repeatable).",
)
@click.option(
    "--replace", is_flag=True, help="Give an existing agent a new token (revokes the old)."
)
@pass_app
def agents_add(app: AppContext, name: str, allow: tuple[str, ...], replace: bool) -> None:
    """Add agent NAME and print its token (shown once; the last word of the last line)."""
    from overwatch.storage.agents import AgentError  # noqa: PLC0415
    from overwatch.storage.agents import create_agent  # noqa: PLC0415

    try:
        with app.database().session() as session:
            token = create_agent(session, name, allow, replace=replace)
    except AgentError as exc:
        raise click.ClickException(str(exc)) from exc
    others = f" (also as {', '.join(allow)})" if allow else ""
    click.echo(f"agent {name} may upload{others}; send this token in the 'token' header.")
    click.echo(f"token: {token}")


@agents_group.command("list")
@pass_app
def agents_list(app: AppContext) -> None:
    """List agents, the names each may upload under, and their upload counts."""
    from overwatch.receivers.dqm import agent_receiver_name  # noqa: PLC0415
    from overwatch.storage.agents import list_agents  # noqa: PLC0415
    from overwatch.storage.receivers import list_receivers  # noqa: PLC0415

    with app.database().session() as session:
        agents = list_agents(session)
        beats = {beat.name: beat for beat in list_receivers(session)}
    if not agents:
        click.echo("no agents; add one with: overwatch agents add NAME")
    for agent in agents:
        beat = beats.get(agent_receiver_name(agent.name))
        counts = (
            f"accepted {beat.accepted}, refused {beat.refused}, last seen {beat.last_seen_at:%Y-%m-%d %H:%M:%S} UTC"
            if beat is not None
            else "no uploads yet"
        )
        names = ", ".join((agent.name, *agent.allowed_names))
        click.echo(f"{agent.name:<16} as {names:<24} {counts}")


@agents_group.command("remove")
@click.argument("name")
@pass_app
def agents_remove(app: AppContext, name: str) -> None:
    """Remove agent NAME; its token stops working at once."""
    from overwatch.storage.agents import remove_agent  # noqa: PLC0415

    with app.database().session() as session:
        removed = remove_agent(session, name)
    if not removed:
        raise click.ClickException(f"no agent {name!r}")
    click.echo(f"removed {name}; its token is revoked")
