"""``overwatch notify test|channels``: try the alarm notification channels by hand.

``notify test`` sends a test message to every channel (or the one ``--channel``
names) at once, records it like any delivery (so a failure also shows on the status
page) and exits 1 when one failed, printing apprise's reason.
"""

from __future__ import annotations

import sys

import click

from overwatch.context import AppContext
from overwatch.context import pass_app

__all__ = ["notify_group"]


@click.group("notify")
def notify_group() -> None:
    """Alarm notification channels: list them, send a test message."""


@notify_group.command("channels")
@pass_app
def notify_channels(app: AppContext) -> None:
    """List the configured channels and their routing (URLs masked)."""
    config = app.settings.notifications
    if not config:
        click.echo("no notification channels configured (the notifications setting)")
        return
    for channel in config.channels:
        click.echo(channel.describe())


@notify_group.command("test")
@click.option("--channel", "name", help="Only this channel (default: every channel).")
@pass_app
def notify_test(app: AppContext, name: str | None) -> None:
    """Send a test message to the notification channels now and report each result."""
    from overwatch.monitoring.notifications.config import NotificationConfigError  # noqa: PLC0415
    from overwatch.monitoring.notifications.delivery import check_channels  # noqa: PLC0415
    from overwatch.processing.notify import send_test  # noqa: PLC0415

    config = app.settings.notifications
    if not config:
        raise click.ClickException(
            "no notification channels configured (the notifications setting)"
        )
    channels = list(config.channels)
    if name is not None:
        chosen = config.channel(name)
        if chosen is None:
            known = ", ".join(channel.name for channel in config.channels)
            raise click.BadParameter(
                f"no channel {name!r} (known: {known})", param_hint="--channel"
            )
        channels = [chosen]
    try:
        check_channels(channels)
    except NotificationConfigError as exc:
        raise click.ClickException(f"bad configuration: {exc}") from exc
    outcomes = send_test(app.settings, app.database(), channels)
    failed = 0
    for channel in channels:
        outcome = outcomes[channel.name]
        if outcome.ok:
            click.echo(f"{channel.name}: sent ({outcome.seconds:.2f} s)")
        else:
            failed += 1
            click.echo(f"{channel.name}: FAILED: {outcome.error}", err=True)
    sys.exit(1 if failed else 0)
