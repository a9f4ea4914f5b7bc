"""Rendered by 'overwatch deploy render' from config.yaml: do not edit, change the settings and render again.

gunicorn settings for the Overwatch web app:

    OVERWATCH_CONFIG=/etc/overwatch/config.yaml gunicorn -c gunicorn.conf.py 'overwatch.webapp:create_app()'

Run ``overwatch db upgrade`` before starting (the systemd unit does). No scheduler
or background thread runs in these workers; processing is the separate service.
Workers add up their Prometheus counts in one directory (metrics_dir, or
PROMETHEUS_MULTIPROC_DIR from the unit), emptied at start; exited workers are
marked dead.
"""

from overwatch.config import load_settings
from overwatch.logs import configure_logging
from overwatch.metrics.multiprocess import GunicornMetrics

bind = "127.0.0.1:8850"
workers = 2
# Threads let one worker overlap database waits; our gthread worker, as gunicorn's
# own can hang on Ctrl-C or SIGQUIT (see overwatch/gunicorn_worker.py).
worker_class = "overwatch.gunicorn_worker.ThreadWorker"
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
# Who may set X-Forwarded-*: the local nginx (web_behind_proxy is off: nobody).
forwarded_allow_ips = ""

_settings = load_settings()
configure_logging(_settings)
_metrics = GunicornMetrics(_settings)
on_starting = _metrics.on_starting
child_exit = _metrics.child_exit
on_exit = _metrics.on_exit
