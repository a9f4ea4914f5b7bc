"""gunicorn settings for the Overwatch web app in production.

    gunicorn -c deploy/gunicorn.conf.py 'overwatch.webapp:create_app()'

``create_app()`` without arguments reads the same settings as the CLI: the file
named by OVERWATCH_CONFIG (or ./config.yaml) and OVERWATCH_* variables. Run
``overwatch db upgrade`` once before starting (``overwatch web`` does that itself).
No scheduler or background thread runs in these workers; processing is the
separate ``overwatch process`` service.
"""

from __future__ import annotations

import multiprocessing
import os

# nginx (deploy/nginx-overwatch.conf) proxies to this address.
bind = os.environ.get("OVERWATCH_WEB_BIND", "127.0.0.1:8850")
# Threads let one worker overlap database waits; two workers per core is plenty for JSON and pages.
worker_class = "gthread"
workers = int(os.environ.get("OVERWATCH_WEB_WORKERS", str(max(2, multiprocessing.cpu_count()))))
threads = 4
# No preload: each worker builds its own app and database engine after the fork.
preload_app = False
timeout = 60
graceful_timeout = 30
keepalive = 5
# Restart workers now and then, so a slow leak in any library never becomes an outage.
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
loglevel = "info"
proc_name = "overwatch-web"
# Only the local nginx may set X-Forwarded-*; set web_behind_proxy: true in config.yaml too.
forwarded_allow_ips = "127.0.0.1"
