"""``/metrics`` in one process (Flask's test client), and switched off."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from overwatch.config import Settings
from overwatch.storage import Database
from tests.metrics.test_gunicorn_metrics import samples
from tests.metrics.test_gunicorn_metrics import value


def test_metrics_without_a_login_with_database_figures(
    settings: Settings, db: Database, make_app: Callable[..., Flask]
) -> None:
    client = make_app(settings).test_client()
    assert client.get("/login").status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert value(text, "overwatch_database_up") == 1
    assert ("overwatch_jobs", (("state", "failed"),)) in samples(text)
    assert ("overwatch_jobs", (("state", "done"),)) not in samples(text)
    assert (
        value(
            text,
            "overwatch_http_requests_total",
            endpoint="auth.login",
            method="GET",
            status="200",
        )
        >= 1
    )


def test_a_database_that_does_not_answer_is_a_figure_not_an_error(
    make_settings: Callable[..., Settings],
    db: Database,
    make_app: Callable[..., Flask],
    tmp_path: Path,
) -> None:
    settings = make_settings(database_url=f"sqlite:///{tmp_path}/missing/dir/none.db")
    text = make_app(settings).test_client().get("/metrics").get_data(as_text=True)
    assert value(text, "overwatch_database_up") == 0
    assert "overwatch_jobs{" not in text


def test_metrics_can_be_switched_off(
    make_settings: Callable[..., Settings], db: Database, make_app: Callable[..., Flask]
) -> None:
    client = make_app(make_settings(metrics_enabled=False)).test_client()
    assert client.get("/metrics").status_code == 404


def test_a_metrics_token_is_required_when_set(
    make_settings: Callable[..., Settings], db: Database, make_app: Callable[..., Flask]
) -> None:
    token = "scrape-token-0123456789"
    client = make_app(make_settings(metrics_token=token)).test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert "overwatch_" not in refused.get_data(as_text=True)
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    allowed = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 200
    assert "overwatch_database_up 1.0" in allowed.get_data(as_text=True)
