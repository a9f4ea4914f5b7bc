"""The standalone DQM receiver: a minimal Flask app (the upload blueprint and ``/healthz``) under gunicorn.

``overwatch receive dqm`` runs this where the web app should not be exposed to the
agents' network. Each gunicorn worker builds its own app and database engine
after the fork, so no connection is shared between processes.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask import jsonify
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from overwatch.config import Settings
from overwatch.logs import init_sentry
from overwatch.receivers import dqm
from overwatch.storage import Database

__all__ = ["create_receiver_app", "serve_receiver"]


def create_receiver_app(settings: Settings, receiver_name: str = "dqm") -> Flask:
    """The receiver app for ``settings``: ``/rest/api/files`` and ``/healthz``."""
    init_sentry(settings)
    app = Flask(__name__)
    app.config.update(JSON_SORT_KEYS=False)
    database = Database(settings.effective_database_url)
    dqm.init_app(app, settings, database, receiver_name)

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        try:
            database.ping()
        except SQLAlchemyError as exc:
            reason = f"database unreachable: {type(exc).__name__}"
            return jsonify({"status": "unavailable", "reason": reason}), 503
        return jsonify({"status": "ok", "receiver": receiver_name}), 200

    return app


def serve_receiver(settings: Settings, *, bind: str, workers: int, threads: int = 4) -> None:
    """Run the receiver under gunicorn until SIGTERM or Ctrl-C."""
    from gunicorn.app.base import BaseApplication  # noqa: PLC0415

    from overwatch.gunicorn_worker import ThreadWorker  # noqa: PLC0415

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            values: dict[str, Any] = {
                "bind": [bind],
                "workers": workers,
                # gthread, but one that always quits on SIGQUIT/Ctrl-C (see the module).
                "worker_class": ThreadWorker,
                "threads": threads,
                "accesslog": "-",
                "proc_name": "overwatch-dqm-receiver",
                # A large upload on a slow link may take long; uploads have their own deadline.
                "timeout": max(60, int(settings.upload_timeout_seconds) + 30),
                "forwarded_allow_ips": "127.0.0.1" if settings.web_behind_proxy else "",
            }
            for key, value in values.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return create_receiver_app(settings)

    _Server().run()
