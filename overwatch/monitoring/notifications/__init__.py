"""Notifications: alarms delivered to people through e-mail and chat channels.

- :mod:`~overwatch.monitoring.notifications.config` — the ``notifications`` setting
  (channels, routing by subsystem and severity, cool-down, digest, retries); pure
  Python, cheap to import;
- :mod:`~overwatch.monitoring.notifications.messages` — the text of one alarm's
  message and of a digest;
- :mod:`~overwatch.monitoring.notifications.planning` — which alarms are due on which
  channel (new, escalated, or reminded after the cool-down);
- :mod:`~overwatch.monitoring.notifications.delivery` — sending one message through
  apprise in a thread of its own, with a deadline.

The delivery pass that reads alarms and records deliveries in the database is
:mod:`overwatch.processing.notify`, a scheduled job of the processing daemon.
Nothing is imported here, so loading the settings does not import apprise.
"""

from __future__ import annotations

__all__: list[str] = []
