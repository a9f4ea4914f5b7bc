"""``/metrics`` for Prometheus, and the latency of every request by endpoint.

On when ``metrics_enabled`` (the default). Under gunicorn the workers share their
counts through prometheus-client's multiprocess mode, set up before the workers
start by ``overwatch web`` or the rendered ``gunicorn.conf.py``
(:mod:`overwatch.metrics.multiprocess`), so whichever worker answers a scrape
reports the whole server. The endpoint needs no user login (Prometheus has none): with
``metrics_token`` set it asks for that bearer token, and the rendered nginx site lets
only the addresses in ``deploy.metrics_allow`` reach it.

Latency is labelled by Flask endpoint name (``runs.run_page``), never by path, so the
number of series stays bounded whatever URLs clients send.
"""

from __future__ import annotations

import hmac
import time

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request

from overwatch.webapp.database import get_settings

__all__ = ["bp", "init_app"]

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    from overwatch.metrics.exposition import CONTENT_TYPE  # noqa: PLC0415
    from overwatch.metrics.exposition import render_metrics  # noqa: PLC0415

    token = get_settings().metrics_token
    if token is not None:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            refused = Response("metrics need 'Authorization: Bearer <metrics_token>'\n", 401)
            refused.headers["WWW-Authenticate"] = 'Bearer realm="overwatch-metrics"'
            return refused
    response = Response(
        render_metrics(current_app.extensions["overwatch_metrics"]), content_type=CONTENT_TYPE
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _start() -> None:
    g.overwatch_started = time.perf_counter()


def _observe(response: Response) -> Response:
    from overwatch.metrics.instruments import observe_request  # noqa: PLC0415

    started = g.get("overwatch_started")
    if started is not None:
        endpoint = request.endpoint or "(unmatched)"
        observe_request(
            endpoint, request.method, response.status_code, time.perf_counter() - started
        )
    return response


def init_app(app: Flask) -> None:
    settings = app.extensions["overwatch"].settings
    if not settings.metrics_enabled:
        return
    from overwatch.metrics.exposition import database_collector  # noqa: PLC0415
    from overwatch.metrics.instruments import enable  # noqa: PLC0415

    enable()
    app.extensions["overwatch_metrics"] = database_collector(app.extensions["overwatch"].db)
    app.before_request(_start)
    app.after_request(_observe)
    app.register_blueprint(bp)
