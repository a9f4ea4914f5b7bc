"""Login throttling: limits per client address and per account, and a cap on argon2 work.

What it promises:

- One client address gets ``login_limit_per_address`` attempts (right or wrong, any
  name), so one machine can neither guess quickly nor keep the CPU busy with argon2.
- Wrong passwords for one user name are limited per address
  (``login_failures_per_account_and_address``): a guesser elsewhere never locks the
  real user out, and the real user's right password from another address still works.
- Wrong passwords for one user name from all addresses together are capped too
  (``login_failures_per_account``), a backstop against guessing from many machines;
  only when that is reached is the name refused everywhere, until the window passes.
- Limits apply to a submitted name whether or not it exists, and every refusal is the
  same 429 page with ``Retry-After``, so the answers tell nobody which names exist.
- At most ``login_concurrent_checks`` password verifications run at once in one web
  worker; a login beyond that gets 429 at once, so page requests never queue behind
  argon2 (:func:`password_check_slot`).

Counting is Flask-Limiter's (the ``limits`` package) in ``ratelimit_storage_url``:
``memory://`` counts per worker process, ``redis://`` shares the counts. The client
address is ``request.remote_addr``, which ProxyFix sets from X-Forwarded-For only
when ``web_behind_proxy`` is on.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask import Response
from flask import current_app
from flask import request
from flask_limiter import Limiter
from flask_limiter import RateLimitExceeded
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response as WerkzeugResponse

from overwatch.config import Settings

__all__ = ["LOGIN_ENDPOINT", "Refusal", "busy_response", "init_app", "password_check_slot"]

#: Draws the 429 login page: (message, seconds to wait) -> response.
Refusal = Callable[[str, int], Response]

LOGIN_ENDPOINT = "auth.login"
#: How long a login waits for a free password-check slot before it is told to come back.
SLOT_WAIT_SECONDS = 0.05
_SLOTS = "overwatch_password_checks"
_REFUSAL = "overwatch_login_refusal"


def _address() -> str:
    return "address:" + (get_remote_address() or "unknown")


def _account() -> str:
    # Every submitted name counts, known or not, so a refusal never reveals which exist.
    return "account:" + request.form.get("name", "").strip()[:64]


def _account_and_address() -> str:
    return _account() + "|" + _address()


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _on_breach(limit: RequestLimit) -> Response:
    refuse: Refusal = current_app.extensions[_REFUSAL]
    seconds = max(math.ceil(limit.reset_at - time.time()), 1)
    return refuse(f"Too many login attempts; try again in {seconds} s.", seconds)


def busy_response() -> Response:
    """The answer when no password-check slot is free (see :func:`password_check_slot`)."""
    refuse: Refusal = current_app.extensions[_REFUSAL]
    return refuse("The server is busy checking other logins; try again in a moment.", 1)


def _rate_limited(error: RateLimitExceeded) -> WerkzeugResponse:
    # The app-wide HTTPException handler would draw a generic error page; the login
    # refusal built in _on_breach carries the reason and Retry-After.
    return error.get_response()


@contextmanager
def password_check_slot() -> Iterator[bool]:
    """Yield whether this request may verify a password now (``False``: answer busy_response)."""
    slots: threading.BoundedSemaphore = current_app.extensions[_SLOTS]
    acquired = slots.acquire(timeout=SLOT_WAIT_SECONDS)
    try:
        yield acquired
    finally:
        if acquired:
            slots.release()


def init_app(app: Flask, settings: Settings, refusal: Refusal) -> None:
    """Limit the login view of ``app`` (after the auth blueprint is registered).

    ``refusal`` draws the 429 answer, the same for every limit and every user name.
    """
    app.extensions[_REFUSAL] = refusal
    app.extensions[_SLOTS] = threading.BoundedSemaphore(settings.login_concurrent_checks)
    # One limiter per app: Flask-Limiter keeps its storage on the instance, and tests
    # build many apps; a web worker builds exactly one.
    limiter = Limiter(
        key_func=_address,
        storage_uri=settings.ratelimit_storage_url,
        strategy="moving-window",
        on_breach=_on_breach,
    )
    limiter.init_app(app)
    app.extensions["overwatch_limiter"] = limiter
    view: Callable[..., Any] = app.view_functions[LOGIN_ENDPOINT]
    post = ["POST"]
    view = limiter.limit(settings.login_limit_per_address, methods=post, scope="address")(view)
    view = limiter.limit(
        settings.login_failures_per_account_and_address,
        key_func=_account_and_address,
        methods=post,
        scope="account-address",
        deduct_when=_failed,
    )(view)
    view = limiter.limit(
        settings.login_failures_per_account,
        key_func=_account,
        methods=post,
        scope="account",
        deduct_when=_failed,
    )(view)
    app.view_functions[LOGIN_ENDPOINT] = view
    app.register_error_handler(RateLimitExceeded, _rate_limited)
