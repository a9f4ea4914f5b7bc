"""Login, logout, roles and API tokens.

Browsers log in with a form and get a Flask-Login session; API clients send
``Authorization: Bearer <token>``. Every blueprint calls :func:`protect` so no
route is reachable without at least the ``viewer`` role; views that change
something add :func:`require_role`. Anonymous API calls get 401 JSON, pages a
redirect to the login form; a missing role is 403. A refused token gets 401 with
the reason (unknown, revoked, expired). Opening ``/login`` while logged in leads
home (or to ``?next=``).

The signed session cookie carries the random key of a server-side session
(:mod:`overwatch.storage.sessions`), never a user id: every request looks the key
up, without a cache, so logout, a removed user, a new password or a new role end
the session in every web worker on the next request. Login throttling is in
:mod:`overwatch.webapp.throttle`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Flask
from flask import Response as FlaskResponse
from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_login import LoginManager
from flask_login import UserMixin
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from overwatch.storage.models import utcnow
from overwatch.storage.sessions import SESSION_TOUCH_INTERVAL
from overwatch.storage.sessions import end_session
from overwatch.storage.sessions import session_user
from overwatch.storage.sessions import start_session
from overwatch.storage.sessions import touch_session
from overwatch.storage.users import UserInfo
from overwatch.storage.users import authenticate
from overwatch.storage.users import check_token
from overwatch.storage.users import has_role
from overwatch.webapp import throttle
from overwatch.webapp.database import read_session
from overwatch.webapp.database import write_session
from overwatch.webapp.errors import api_error
from overwatch.webapp.errors import is_api_request

__all__ = ["WebUser", "bp", "init_app", "login_manager", "protect", "require_role"]

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


class WebUser(UserMixin):  # type: ignore[misc]
    """The logged-in user as Flask-Login sees it; ``session_key`` is empty for token calls."""

    def __init__(self, info: UserInfo, session_key: str = "") -> None:
        self.info = info
        self.session_key = session_key

    @property
    def via_token(self) -> bool:
        return not self.session_key

    def get_id(self) -> str:
        # Flask-Login stores this in the cookie: the never-reused session key, not the user id.
        return self.session_key

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def role(self) -> str:
        return self.info.role

    def can(self, role: str) -> bool:
        return has_role(self.info.role, role)


def _load_user(session_key: str) -> WebUser | None:
    now = utcnow()
    with read_session() as db_session:
        found = session_user(db_session, session_key, now=now)
    if found is None:
        return None
    if now - found.last_seen_at > SESSION_TOUCH_INTERVAL:
        with write_session() as db_session:
            touch_session(db_session, session_key, now=now)
    return WebUser(UserInfo(found.user_id, found.name, found.role), session_key)


def _load_from_token(req: Any) -> WebUser | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    with write_session() as db_session:
        checked = check_token(db_session, token.strip())
    if checked.user is None:
        g.token_refusal = checked.reason
        return None
    return WebUser(checked.user)


def _unauthorized() -> Response:
    refusal = g.get("token_refusal")
    if refusal or is_api_request():
        # A client that sent a token is a program: tell it why, whatever the path.
        response = api_error(
            401,
            refusal or "authentication required: log in or send 'Authorization: Bearer <token>'",
        )
        response.headers["WWW-Authenticate"] = (
            'Bearer realm="overwatch", error="invalid_token"'
            if refusal
            else 'Bearer realm="overwatch"'
        )
        return response
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _check(role: str) -> Response | None:
    if not current_user.is_authenticated:
        result: Response = login_manager.unauthorized()
        return result
    if not current_user.can(role):
        abort(403, f"this needs the {role} role; you are {current_user.role}")
    return None


def require_role(role: str) -> Callable[[F], F]:
    """Decorate a view so it answers only users with ``role`` (or a higher one)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            refused = _check(role)
            return refused if refused is not None else view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


def protect(blueprint: Blueprint, role: str = "viewer") -> None:
    """Require ``role`` for every route of ``blueprint``."""
    blueprint.before_request(lambda: _check(role))


class LoginForm(FlaskForm):  # type: ignore[misc]
    name = StringField("User name", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a user to another host after login."""
    if not target:
        return url_for("runs.run_list")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("runs.run_list")
    return target


def _too_many(message: str, retry_after: int) -> FlaskResponse:
    page = render_template("login.html", form=LoginForm(), message=message)
    response = FlaskResponse(page, status=429, mimetype="text/html")
    response.headers["Retry-After"] = str(retry_after)
    return response


#: Same words for an unknown name, a wrong password and a disabled account.
LOGIN_REFUSED = "Unknown user or wrong password."


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    form = LoginForm()
    if request.method == "GET":
        # A logged-in user who opens the form (a bookmark, the back button) goes on to
        # where the form would have sent them; posting it still switches user.
        if current_user.is_authenticated:
            return redirect(_safe_next(request.args.get("next")))
        return render_template("login.html", form=form, message=None)
    if not form.validate_on_submit():
        return render_template(
            "login.html", form=form, message="Enter a user name and a password."
        ), 400
    with throttle.password_check_slot() as allowed:
        if not allowed:
            return throttle.busy_response()
        with write_session() as db_session:
            user = authenticate(db_session, form.name.data or "", form.password.data or "")
            if user is not None:
                lifetime = current_app.permanent_session_lifetime
                key = start_session(db_session, user.id, lifetime)
    if user is None:
        return render_template("login.html", form=form, message=LOGIN_REFUSED), 401
    session.clear()
    login_user(WebUser(user, key))
    session.permanent = True
    flash(f"Logged in as {user.name} ({user.role}).")
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated and not current_user.via_token:
        with write_session() as db_session:
            end_session(db_session, current_user.session_key)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.user_loader(_load_user)
    login_manager.request_loader(_load_from_token)
    login_manager.unauthorized_handler(_unauthorized)
    login_manager.init_app(app)
    app.register_blueprint(bp)
    throttle.init_app(app, app.extensions["overwatch"].settings, _too_many)
