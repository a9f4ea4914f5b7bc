"""The web app: run list, run pages drawn by JSROOT, time slices, status and the JSON API.

:func:`create_app` builds a Flask application for one set of settings; nothing is
created at import time.
"""

from __future__ import annotations

from overwatch.webapp.app import create_app

__all__ = ["create_app"]
