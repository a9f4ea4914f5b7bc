"""``overwatch deploy`` (overwatchDeploy): everything that runs Overwatch, rendered from the settings.

:mod:`.settings` checks the ``deploy:`` section of ``config.yaml``; :mod:`.render`
turns settings into files (systemd units, gunicorn config, nginx site, Dockerfile and
compose file) from the Jinja2 templates in ``templates/`` and writes them
idempotently, reporting a unified diff; :mod:`.check` validates what it can on
this machine; :mod:`.commands` is the command line.
"""

from __future__ import annotations

__all__: list[str] = []
