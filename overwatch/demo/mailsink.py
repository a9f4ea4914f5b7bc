"""A local SMTP server for ``overwatch demo --smtp-sink``: alarm e-mails without a mail server.

It listens on 127.0.0.1 (aiosmtpd, from the ``test`` extra), prints the recipient and
subject of every message it accepts and keeps the message under ``<data_dir>/mail/``.
:func:`demo_notifications` is the ``notifications`` setting that routes every alarm
to it.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import click

__all__ = ["MailSink", "demo_notifications"]


def demo_notifications(port: int) -> dict[str, Any]:
    """Every alarm by e-mail to the sink, one mail per alarm (no digest for the few
    planted problems); 5 s between delivery passes."""
    url = f"mailto://127.0.0.1:{port}?from=overwatch@localhost&to=shift@localhost&mode=insecure"
    return {
        "channels": {"demo-mail": {"url": url}},
        "interval_seconds": 5,
        "timeout_seconds": 10,
        "digest_threshold": 10,
    }


class _Handler:
    def __init__(self) -> None:
        self.directory: Path | None = None
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        from email import message_from_bytes  # noqa: PLC0415
        from email.policy import default  # noqa: PLC0415

        self.count += 1
        message = message_from_bytes(envelope.content, policy=default)
        click.secho(
            f"[smtp-sink] mail {self.count} to {', '.join(envelope.rcpt_tos)}: {message['Subject']}",
            fg="yellow",
        )
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / f"{self.count:04d}.eml").write_bytes(envelope.content)
        return "250 Message accepted for delivery"


class MailSink:
    """The SMTP server; ``start`` picks a free port, ``stop`` ends it."""

    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = 0
        self.controller: Any = None

    def start(self) -> int:
        try:
            from aiosmtpd.controller import Controller  # noqa: PLC0415
        except ImportError as exc:
            raise click.ClickException(
                "--smtp-sink needs aiosmtpd: pip install aiosmtpd (or the test extra)"
            ) from exc
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        # aiosmtpd logs every SMTP command at INFO; the demo prints one line per mail.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self.port

    def keep_in(self, directory: Path) -> None:
        self.handler.directory = directory

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
