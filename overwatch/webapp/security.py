"""Secret key, CSRF protection and response headers.

When no ``secret_key`` is configured, one is generated into ``<data_dir>/secret_key``
(mode 0600) on first start and read by every later start and every worker, so
sessions survive restarts and the key never lives in the repository.

Every response carries a Content-Security-Policy that lets a page run only
scripts served by the app itself: no inline ``<script>``, no ``onclick=``-style
handlers, no ``eval``, nothing from another origin. A name that slips unescaped
into the page (a histogram named ``x<img src=x onerror=...>``) therefore cannot
run. Templates keep all script in ``static/*.js`` for that reason.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from overwatch.config import MIN_SECRET_KEY_LENGTH
from overwatch.config import ConfigError
from overwatch.config import Settings

__all__ = ["CONTENT_SECURITY_POLICY", "HSTS", "SECRET_KEY_FILE", "csrf", "init_app", "secret_key"]

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret

csrf = CSRFProtect()

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        # Only our own files: no inline script, no inline event handlers, no eval. JSROOT
        # compiles code only for TF1 formulas without stored points and TTree::Draw
        # expressions; those cannot be drawn here, histograms never need it.
        "script-src 'self'",
        # JSROOT (d3) and MathJax style every SVG element they draw through style
        # attributes and inject <style> elements for their own classes; CSS cannot run
        # script, so inline styles are allowed while style sheets still come from us only.
        "style-src 'self' 'unsafe-inline'",
        # JSROOT's tree icons and MathJax's fonts are data: URIs built into their code.
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
#: Sent only with ``web_secure_cookies``: the site is reached by https and must stay so.
HSTS = "max-age=31536000"


def _read_key(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("secret_key", str(path), f"cannot be read: {exc}") from None
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            "secret_key",
            str(path),
            f"the file holds {len(key)} characters, at least {MIN_SECRET_KEY_LENGTH} are needed; "
            "delete it to have a new key generated",
        )
    return key


def secret_key(settings: Settings) -> str:
    """The configured key, else the one kept in the data directory (created once)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / SECRET_KEY_FILE
    if path.exists():
        return _read_key(path)
    key = secrets.token_hex(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: when several workers start at once, exactly one writes the key.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    except OSError as exc:
        raise ConfigError(
            "secret_key",
            str(path),
            f"no key is configured and none can be kept here: {exc.strerror}",
        ) from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def _headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


def _hsts(response: Response) -> Response:
    response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.after_request(_headers)
    if app.extensions["overwatch"].settings.web_secure_cookies:
        app.after_request(_hsts)
