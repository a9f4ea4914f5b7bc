"""JSROOT and MathJax from npm, served by the app (no CDN, nothing fetched at run time).

The package ``jsroot`` is found at the ``jsroot_dir`` setting, else at
``node_modules/jsroot`` next to the ``overwatch`` package (an editable install from
a checkout where ``npm ci`` ran), else in the current directory's ``node_modules``.
When it is missing, pages still render and say how to install it;
``/static/jsroot/...`` answers 404 with the same hint.

JSROOT typesets titles holding TeX (``\\sqrt{s}``) with MathJax, which it loads
from ``<jsroot>/../mathjax/3.2.0/es5/`` and, failing that, from a CDN. The npm
package ``mathjax`` (installed next to jsroot, or inside it) is served at exactly
that path, so the browser never looks elsewhere; the Content-Security-Policy
would block the CDN anyway.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import current_app
from flask import send_from_directory
from werkzeug.wrappers import Response

import overwatch
from overwatch.config import Settings
from overwatch.webapp.auth import protect

__all__ = [
    "JSROOT_MISSING",
    "MATHJAX_PATH",
    "bp",
    "find_jsroot",
    "find_mathjax",
    "init_app",
    "mathjax_bp",
]

JSROOT_MISSING = (
    "JSROOT is not installed: run 'npm ci' in the Overwatch checkout "
    "(it installs the npm package jsroot pinned in package.json), "
    "or set jsroot_dir to a directory holding the jsroot package."
)
#: Only these parts of the package are served; never its package.json or scripts.
SERVED_DIRECTORIES = ("build", "modules", "fonts", "img")
#: The files are versioned by the pinned package; browsers may keep them a day.
MAX_AGE = 86400
#: Where JSROOT 7 looks for MathJax, relative to its own directory (modules/base/latex.mjs);
#: the version in it is JSROOT's choice, the files are whichever mathjax 3 npm installed.
MATHJAX_PATH = "mathjax/3.2.0"

bp = Blueprint("assets", __name__)
#: Only pages behind the login draw TeX titles, so MathJax is served to logged-in users only.
mathjax_bp = Blueprint("mathjax", __name__)
protect(mathjax_bp)


def _is_jsroot(path: Path) -> bool:
    return (path / "build" / "jsroot.min.js").is_file()


def find_jsroot(settings: Settings) -> Path | None:
    """The directory of the jsroot npm package, or ``None`` when not installed."""
    if settings.jsroot_dir is not None:
        return settings.jsroot_dir.resolve() if _is_jsroot(settings.jsroot_dir) else None
    checkout = Path(overwatch.__file__).resolve().parent.parent
    for candidate in (checkout / "node_modules" / "jsroot", Path.cwd() / "node_modules" / "jsroot"):
        if _is_jsroot(candidate):
            return candidate.resolve()
    return None


def find_mathjax(jsroot_dir: Path | None) -> Path | None:
    """The npm package mathjax installed with ``jsroot_dir``, or ``None``."""
    if jsroot_dir is None:
        return None
    for candidate in (jsroot_dir.parent / "mathjax", jsroot_dir / "node_modules" / "mathjax"):
        if (candidate / "es5" / "tex-svg.js").is_file():
            return candidate.resolve()
    return None


@mathjax_bp.get(f"/static/{MATHJAX_PATH}/es5/<path:filename>")
def mathjax_file(filename: str) -> Response:
    root = find_mathjax(current_app.extensions["overwatch"].jsroot_dir)
    if root is None:
        abort(404, "MathJax is not installed: run 'npm ci' in the Overwatch checkout")
    # send_from_directory refuses paths that escape the directory ("..", absolute).
    return send_from_directory(root / "es5", filename, max_age=MAX_AGE)


@bp.get("/static/jsroot/<path:filename>")
def jsroot_file(filename: str) -> Response:
    root: Path | None = current_app.extensions["overwatch"].jsroot_dir
    if root is None:
        abort(404, JSROOT_MISSING)
    parts = filename.split("/")
    if parts[0] not in SERVED_DIRECTORIES or ".." in parts:
        abort(404, "not a JSROOT file")
    # send_from_directory refuses paths that escape the directory ("..", absolute).
    return send_from_directory(root, filename, max_age=MAX_AGE)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(mathjax_bp)
    app.jinja_env.globals["jsroot_missing"] = (
        JSROOT_MISSING if app.extensions["overwatch"].jsroot_dir is None else None
    )
