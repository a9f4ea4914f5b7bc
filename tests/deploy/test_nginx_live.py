"""The rendered nginx site in front of gunicorn started with the rendered ``gunicorn.conf.py``,
as the systemd unit starts it.

Histogram JSON must arrive through nginx byte for byte as the app sends it (stored
gzip, one ``Content-Encoding``), static files and JSROOT carry long ``expires``, the
forwarded headers reach the app, and ``/metrics`` answers the allowed address.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from overwatch.config import Settings
from overwatch.config import load_settings
from overwatch.deploy.check import find_tool
from overwatch.deploy.check import nginx_wrapper
from overwatch.deploy.render import render_files
from overwatch.deploy.render import write_files
from overwatch.storage import Database
from overwatch.storage.users import create_user
from overwatch.storage.users import issue_token
from tests.servers import free_port
from tests.servers import stop
from tests.servers import wait_until_healthy
from tests.webapp.builders import add_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_tool("nginx") is None, reason="nginx is not installed"),
]
REPO = Path(__file__).resolve().parent.parent.parent
TIMEOUT = 30


@pytest.fixture
def site(settings: Settings, db: Database, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(nginx URL, app URL): gunicorn and nginx, each with its rendered configuration."""
    web_port, nginx_port = free_port(), free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(settings.data_dir),
                "web_bind": f"127.0.0.1:{web_port}",
                "web_behind_proxy": True,
                "deploy": {"install_dir": str(REPO), "http_port": nginx_port},
            }
        )
    )
    output = tmp_path / "rendered"
    write_files(render_files(load_settings(config, environ={})), output)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OVERWATCH_")},
        "OVERWATCH_CONFIG": str(config),
        "OVERWATCH_DATABASE_URL": settings.effective_database_url,
        "OVERWATCH_SECRET_KEY": "test-secret-key-not-for-production",
        # What the unit's RuntimeDirectory gives.
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "run-overwatch-web"),
    }
    web_log = tmp_path / "web.log"
    with web_log.open("wb") as log:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        web = subprocess.Popen(
            [
                str(gunicorn),
                "-c",
                str(output / "gunicorn.conf.py"),
                "overwatch.webapp:create_app()",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    conf = nginx_wrapper(output / "nginx" / "overwatch.conf", nginx_dir)
    nginx_log = nginx_dir / "error.log"
    nginx = subprocess.Popen(
        [
            str(find_tool("nginx")),
            "-p",
            str(nginx_dir),
            "-e",
            str(nginx_log),
            "-c",
            str(conf),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{web_port}/healthz", web, web_log)
        wait_until_healthy(f"http://127.0.0.1:{nginx_port}/healthz", nginx, nginx_log)
        yield f"http://127.0.0.1:{nginx_port}", f"http://127.0.0.1:{web_port}"
    finally:
        stop(nginx)
        stop(web)


def test_histogram_json_static_files_and_metrics_through_nginx(
    site: tuple[str, str], db: Database
) -> None:
    proxy, app = site
    add_run(db, 7)
    with db.session() as session:
        create_user(session, "viewer", "viewer-password", "viewer")
        token = issue_token(session, "viewer", "test", expires_days=0).token
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    listing = requests.get(f"{app}/api/v1/runs/7/EMC", headers=headers, timeout=TIMEOUT)
    assert listing.status_code == 200, listing.text
    url = "/api/v1/runs/7/EMC/histogram"
    name = "EMCal/energy"
    direct = requests.get(
        f"{app}{url}", params={"name": name}, headers=headers, timeout=TIMEOUT, stream=True
    )
    proxied = requests.get(
        f"{proxy}{url}", params={"name": name}, headers=headers, timeout=TIMEOUT, stream=True
    )
    assert direct.status_code == proxied.status_code == 200, proxied.text
    assert proxied.headers["Content-Encoding"] == "gzip"
    assert proxied.raw.read() == direct.raw.read()  # the stored bytes, not re-compressed
    assert proxied.headers["ETag"] == direct.headers["ETag"]

    css = requests.get(f"{proxy}/static/overwatch.css", timeout=TIMEOUT)
    assert css.status_code == 200
    assert "max-age=604800" in css.headers["Cache-Control"]
    jsroot = requests.get(f"{proxy}/static/jsroot/modules/main.mjs", timeout=TIMEOUT)
    if jsroot.status_code == 200:  # node_modules present in this checkout
        assert "max-age=2592000" in jsroot.headers["Cache-Control"]
    assert requests.get(f"{proxy}/static/jsroot/package.json", timeout=TIMEOUT).status_code == 404

    metrics = requests.get(f"{proxy}/metrics", timeout=TIMEOUT)
    assert metrics.status_code == 200
    # The worker behind nginx counted these requests in the unit's directory.
    assert (
        'overwatch_http_requests_total{endpoint="api.histogram",method="GET",status="200"} 2.0'
        in metrics.text
    )
