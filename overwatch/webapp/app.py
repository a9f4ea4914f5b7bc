"""The application factory.

Each part registers itself with an ``init_app(app)`` function; the database, the
settings and the JSROOT location live in ``app.extensions["overwatch"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask import redirect
from flask import url_for
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from overwatch import __version__
from overwatch.config import Settings
from overwatch.config import load_settings
from overwatch.logs import init_sentry
from overwatch.receivers import dqm as dqm_receiver
from overwatch.storage import Database
from overwatch.webapp import admin
from overwatch.webapp import alarms
from overwatch.webapp import api
from overwatch.webapp import assets
from overwatch.webapp import auth
from overwatch.webapp import errors
from overwatch.webapp import formatting
from overwatch.webapp import metrics
from overwatch.webapp import params
from overwatch.webapp import references
from overwatch.webapp import runs
from overwatch.webapp import security
from overwatch.webapp import slicing
from overwatch.webapp import status
from overwatch.webapp import trends

__all__ = ["WebState", "create_app", "state"]


@dataclass
class WebState:
    """What every request needs: settings, the database and where JSROOT is."""

    settings: Settings
    db: Database
    jsroot_dir: Path | None


def state(app: Flask) -> WebState:
    found: WebState = app.extensions["overwatch"]
    return found


def create_app(
    settings: Settings | None = None, test_config: dict[str, Any] | None = None
) -> Flask:
    """Build the web app for ``settings`` (loaded from config file and environment when omitted).

    The database schema is not migrated here: ``overwatch web`` migrates once before
    starting workers, so several workers never race on a migration.
    """
    settings = settings or load_settings()
    # In each worker after the fork: Sentry's sending thread does not survive one.
    init_sentry(settings)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=security.secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.web_secure_cookies,
        SESSION_COOKIE_NAME="overwatch_session",
        # A session lasts a long shift; re-signing the cookie on every request would
        # add a Set-Cookie header to every histogram response for nothing.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=14),
        SESSION_REFRESH_EACH_REQUEST=False,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.web_secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    if settings.web_behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    if settings.plugins:
        # Site plugins declare the processing options the request form offers.
        from overwatch.detectors.registry import activate_plugins  # noqa: PLC0415

        activate_plugins(settings.plugins)
    database = Database(settings.effective_database_url, pre_ping=settings.web_database_pre_ping)
    app.extensions["overwatch"] = WebState(settings, database, assets.find_jsroot(settings))
    app.jinja_env.globals["overwatch_version"] = __version__

    # Before any blueprint: it bounds the <int:...> converter that their routes use.
    params.init_app(app)
    # First, so the request clock starts before any other hook and stops after all of them.
    metrics.init_app(app)
    for part in (
        security,
        auth,
        errors,
        formatting,
        assets,
        runs,
        references,
        slicing,
        status,
        api,
        alarms,
        trends,
        admin,
    ):
        part.init_app(app)
    # Agents authenticate every upload with their token; they have no session to forge.
    dqm_receiver.init_app(app, settings, database)
    security.csrf.exempt(dqm_receiver.bp)

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("runs.run_list"))

    return app
