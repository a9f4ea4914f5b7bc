"""Login, logout, roles and API tokens.

Browsers log in with a form and get a Flask-Login session; API clients send
``Authorization: Bearer <token>``. Every blueprint calls :func:`protect` so no
route is reachable without at least the ``viewer`` role; views that change
something add :func:`require_role`. Anonymous API calls get 401 JSON, pages a
redirect to the login form; a missing role is 403.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import current_app
from flask import flash
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

from overwatch.storage.users import UserInfo
from overwatch.storage.users import authenticate
from overwatch.storage.users import get_user
from overwatch.storage.users import has_role
from overwatch.storage.users import user_for_token
from overwatch.webapp.database import read_session
from overwatch.webapp.database import write_session
from overwatch.webapp.errors import api_error
from overwatch.webapp.errors import is_api_request

__all__ = ["WebUser", "bp", "forget_user", "init_app", "login_manager", "protect", "require_role"]

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
#: Seconds a looked-up user is trusted before the database is asked again; a removed
#: user or changed role takes effect within this time in every worker.
USER_CACHE_SECONDS = 10.0


def _user_cache() -> dict[int, tuple[float, UserInfo | None]]:
    """Per application (tests build many apps on different databases)."""
    cache: dict[int, tuple[float, UserInfo | None]] = current_app.extensions.setdefault(
        "overwatch_users", {}
    )
    return cache


class WebUser(UserMixin):  # type: ignore[misc]
    """The logged-in user as Flask-Login sees it."""

    def __init__(self, info: UserInfo, via_token: bool = False) -> None:
        self.info = info
        self.via_token = via_token

    def get_id(self) -> str:
        return str(self.info.id)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def role(self) -> str:
        return self.info.role

    def can(self, role: str) -> bool:
        return has_role(self.info.role, role)


def forget_user(user_id: int) -> None:
    """Drop a cached user so a role change takes effect at once in this worker."""
    _user_cache().pop(user_id, None)


def _load_user(user_id: str) -> WebUser | None:
    try:
        key = int(user_id)
    except ValueError:
        return None
    now = time.monotonic()
    cache = _user_cache()
    cached = cache.get(key)
    if cached is None or cached[0] < now:
        with read_session() as db_session:
            info = get_user(db_session, key)
        cached = (now + USER_CACHE_SECONDS, info)
        cache[key] = cached
    info = cached[1]
    return WebUser(info) if info is not None and info.active else None


def _load_from_token(req: Any) -> WebUser | None:
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    with write_session() as db_session:
        info = user_for_token(db_session, token.strip())
    return WebUser(info, via_token=True) if info is not None else None


def _unauthorized() -> Response:
    if is_api_request():
        response = api_error(
            401, "authentication required: log in or send 'Authorization: Bearer <token>'"
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="overwatch"'
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


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    form = LoginForm()
    if request.method == "GET":
        return render_template("login.html", form=form, message=None)
    if not form.validate_on_submit():
        return render_template(
            "login.html", form=form, message="Enter a user name and a password."
        ), 400
    with write_session() as db_session:
        outcome = authenticate(db_session, form.name.data or "", form.password.data or "")
    if outcome.user is None:
        status = 429 if outcome.retry_after else 401
        page = render_template("login.html", form=form, message=outcome.reason)
        response = Response(page, status=status, mimetype="text/html")
        if outcome.retry_after:
            response.headers["Retry-After"] = str(int(outcome.retry_after) + 1)
        return response
    _user_cache().pop(outcome.user.id, None)
    session.clear()
    login_user(WebUser(outcome.user))
    session.permanent = True
    flash(f"Logged in as {outcome.user.name} ({outcome.user.role}).")
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def logout() -> Response:
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.user_loader(_load_user)
    login_manager.request_loader(_load_from_token)
    login_manager.unauthorized_handler(_unauthorized)
    login_manager.init_app(app)
    app.register_blueprint(bp)
