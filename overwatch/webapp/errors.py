"""Errors: JSON with a reason for the API, friendly pages for people.

Any :class:`~werkzeug.exceptions.HTTPException` raised (``abort(404, "why")``)
becomes ``{"error": {"status": 404, "reason": "why"}}`` under ``/api/`` and an
error page elsewhere. A database connection found dead during a request (the
server restarted; the pool does not test connections before use unless
``web_database_pre_ping``) answers 503 with ``Retry-After``: SQLAlchemy has
already discarded the dead connections, so the retry gets a fresh one.
"""

from __future__ import annotations

from flask import Flask
from flask import jsonify
from flask import render_template
from flask import request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

__all__ = ["api_error", "init_app", "is_api_request"]


def is_api_request() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def api_error(status: int, reason: str, **extra: object) -> Response:
    body: dict[str, object] = {"status": status, "reason": reason}
    body.update(extra)
    response = jsonify({"error": body})
    response.status_code = status
    return response


def _describe(error: HTTPException) -> str:
    # Werkzeug's default descriptions are long English paragraphs; a short reason reads better.
    if error.description and error.description != type(error).description:
        return str(error.description)
    return error.name


def _handle_http(error: HTTPException) -> Response | tuple[str, int]:
    status = error.code or 500
    reason = _describe(error)
    if is_api_request():
        response = api_error(status, reason)
        if error.response is None and status == 405 and hasattr(error, "valid_methods"):
            response.headers["Allow"] = ", ".join(error.valid_methods or [])
        return response
    return render_template("error.html", status=status, title=error.name, reason=reason), status


def _handle_csrf(error: CSRFError) -> Response | tuple[str, int]:
    reason = (
        f"The form expired or did not come from this site ({error.description}). "
        "Reload the page and try again."
    )
    if is_api_request():
        return api_error(400, reason)
    return render_template("error.html", status=400, title="Form expired", reason=reason), 400


def _handle_lost_connection(error: DBAPIError) -> Response | tuple[str, int, dict[str, str]]:
    if not error.connection_invalidated:
        raise error
    reason = "The connection to the database was lost and has been renewed; try again."
    if is_api_request():
        response = api_error(503, reason)
        response.headers["Retry-After"] = "1"
        return response
    page = render_template("error.html", status=503, title="Try again", reason=reason)
    return page, 503, {"Retry-After": "1"}


def init_app(app: Flask) -> None:
    app.register_error_handler(DBAPIError, _handle_lost_connection)
    app.register_error_handler(CSRFError, _handle_csrf)
    app.register_error_handler(HTTPException, _handle_http)
