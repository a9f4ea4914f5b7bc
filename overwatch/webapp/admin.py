"""User administration in the browser (admin role): list, add, change role, remove.

The same operations as ``overwatch users ...``; every form carries a CSRF token and
an admin cannot remove or demote their own account (so there is always one admin).
A new role or removal ends the user's browser sessions at once (their next request
is anonymous), so nobody keeps rights they no longer have.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Flask
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from overwatch.storage.users import ROLES
from overwatch.storage.users import UserError
from overwatch.storage.users import create_user
from overwatch.storage.users import list_users
from overwatch.storage.users import remove_user
from overwatch.storage.users import set_role
from overwatch.webapp.auth import protect
from overwatch.webapp.database import read_session
from overwatch.webapp.database import write_session

__all__ = ["bp", "init_app"]

bp = Blueprint("admin", __name__, url_prefix="/admin")
protect(bp, "admin")


def _page(message: str | None = None, status: int = 200) -> tuple[str, int]:
    with read_session() as session:
        users = list_users(session)
    return render_template("users.html", users=users, roles=ROLES, message=message), status


@bp.get("/users")
def users() -> tuple[str, int]:
    return _page()


@bp.post("/users")
def add_user() -> Response | tuple[str, int]:
    name = request.form.get("name", "")
    try:
        with write_session() as session:
            info = create_user(
                session, name, request.form.get("password", ""), request.form.get("role", "")
            )
    except UserError as exc:
        return _page(str(exc), 400)
    flash(f"Added {info.name} ({info.role}).")
    return redirect(url_for("admin.users"))


@bp.post("/users/<name>/role")
def change_role(name: str) -> Response | tuple[str, int]:
    if name == current_user.name:
        return _page("You cannot change your own role.", 400)
    try:
        with write_session() as session:
            info = set_role(session, name, request.form.get("role", ""))
    except UserError as exc:
        return _page(str(exc), 400)
    flash(f"{info.name} is now {info.role}.")
    return redirect(url_for("admin.users"))


@bp.post("/users/<name>/remove")
def delete_user(name: str) -> Response | tuple[str, int]:
    if name == current_user.name:
        return _page("You cannot remove your own account.", 400)
    with write_session() as session:
        removed = remove_user(session, name)
    if not removed:
        return _page(f"No user {name!r}.", 404)
    flash(f"Removed {name}.")
    return redirect(url_for("admin.users"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
