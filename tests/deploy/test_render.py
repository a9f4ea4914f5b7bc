"""``overwatch deploy render``: the files, idempotence, the diff, and the deploy section's checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from overwatch.cli import cli
from overwatch.config import ConfigError
from overwatch.config import load_settings
from overwatch.deploy.render import MANIFEST
from overwatch.deploy.render import render_files

REPO = Path(__file__).resolve().parent.parent.parent


def _config(tmp_path: Path, **values: Any) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"data_dir": "data", **values}), encoding="utf-8")
    return path


def _render(config: Path, output: Path, *extra: str) -> Any:
    result = CliRunner().invoke(
        cli, ["--config", str(config), "deploy", "render", "--output", str(output), *extra], env={}
    )
    assert result.exit_code == 0, result.output
    return result


def test_default_render_is_plain_http_with_every_service(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path), environ={})
    files = render_files(settings)
    assert set(files) == {
        "Dockerfile",
        "compose.yaml",
        "gunicorn.conf.py",
        "nginx/overwatch.conf",
        "systemd/overwatch-processing.service",
        "systemd/overwatch-web.service",
        "systemd/overwatch.target",
    }
    site = files["nginx/overwatch.conf"]
    assert "listen 80;" in site
    assert "ssl" not in site
    assert f"client_max_body_size {200 * 1024 * 1024 + 1024 * 1024};" in site
    assert "gunzip off;" in site
    assert "location = /metrics" in site
    assert "X-Forwarded-Proto $scheme" in site
    compose = yaml.safe_load(files["compose.yaml"])
    assert set(compose["services"]) == {"postgres", "web", "processing", "dqm-receiver"}
    gunicorn = files["gunicorn.conf.py"]
    compile(gunicorn, "gunicorn.conf.py", "exec")
    assert 'bind = "127.0.0.1:8850"' in gunicorn
    assert "child_exit = _metrics.child_exit" in gunicorn


def test_tls_receivers_and_several_daemons(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        upload_max_bytes=1024,
        metrics_bind="127.0.0.1:9851",
        deploy={
            "server_name": ["dqm.example.org", "dqm"],
            "tls_certificate": "/etc/ssl/certs/dqm.pem",
            "tls_certificate_key": "/etc/ssl/private/dqm.key",
            "processing_daemons": 2,
            "receivers": [
                {"kind": "dqm", "name": "agents", "bind": "127.0.0.1:8861", "workers": 3},
                {"kind": "zmq", "name": "hlt", "connect": "tcp://hlt:60323", "mode": "req"},
            ],
        },
    )
    files = render_files(load_settings(config, environ={}))
    site = files["nginx/overwatch.conf"]
    assert "listen 443 ssl http2;" in site
    assert "ssl_certificate     /etc/ssl/certs/dqm.pem;" in site
    assert "return 301 https://$host$request_uri;" in site
    assert "server_name dqm.example.org dqm;" in site
    assert "server 127.0.0.1:8861;" in site
    assert f"client_max_body_size {1024 + 1024 * 1024};" in site
    receiver = files["systemd/overwatch-receiver-agents.service"]
    assert "receive dqm --bind 127.0.0.1:8861 --workers 3" in receiver
    zmq = files["systemd/overwatch-receiver-hlt.service"]
    assert "receive zmq --connect tcp://hlt:60323 --mode req --interval 10.0" in zmq
    assert (
        "OVERWATCH_METRICS_BIND=127.0.0.1:9851" in files["systemd/overwatch-processing-1.service"]
    )
    assert (
        "OVERWATCH_METRICS_BIND=127.0.0.1:9852" in files["systemd/overwatch-processing-2.service"]
    )
    target = files["systemd/overwatch.target"]
    assert "overwatch-processing-2.service" in target
    assert "overwatch-receiver-hlt.service" in target


def test_render_is_idempotent_and_shows_a_diff_of_what_changed(tmp_path: Path) -> None:
    output = tmp_path / "out"
    config = _config(tmp_path, deploy={"receivers": [{"kind": "zmq", "connect": "tcp://a:1"}]})
    first = _render(config, output)
    assert "created" in first.output
    (output / "README.local").write_text("the site's own notes\n")
    before = {p: p.read_bytes() for p in output.rglob("*") if p.is_file()}
    times = {p: p.stat().st_mtime_ns for p in before}

    again = _render(config, output)
    assert "8 unchanged" in again.output
    assert not [
        line for line in again.output.splitlines() if line.startswith(("created", "changed"))
    ]
    assert {p: p.stat().st_mtime_ns for p in before} == times  # nothing rewritten

    config = _config(tmp_path, web_workers=5, deploy={})
    changed = _render(config, output)
    assert "changed   " in changed.output
    assert "-workers = 2\n+workers = 5\n" in changed.output
    assert "--- a/gunicorn.conf.py" in changed.output
    assert "removed" in changed.output  # the ZMQ receiver's unit is gone
    assert not (output / "systemd" / "overwatch-receiver-zmq.service").exists()
    assert (output / "README.local").read_text() == "the site's own notes\n"
    assert "README.local" not in (output / MANIFEST).read_text()


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    output = tmp_path / "out"
    result = _render(_config(tmp_path), output, "--dry-run")
    assert "would be written" in result.output
    assert not output.exists()


@pytest.mark.parametrize(
    ("deploy", "key"),
    [
        ({"receivers": [{"kind": "ftp"}]}, "deploy.receivers[0].kind"),
        ({"receivers": [{"kind": "zmq"}]}, "deploy.receivers[0].connect"),
        ({"http_port": 0}, "deploy.http_port"),
        ({"install_dir": "relative/path"}, "deploy.install_dir"),
        ({"tls_certificate": "/etc/ssl/a.pem"}, "deploy.tls_certificate_key"),
        ({"jsroot_max_age": "forever"}, "deploy.jsroot_max_age"),
        ({"server_name": "a; include /etc/passwd"}, "deploy.server_name"),
        ({"colour": "blue"}, "deploy.colour"),
    ],
)
def test_a_bad_deploy_section_fails_at_start_naming_the_key(
    tmp_path: Path, deploy: dict[str, Any], key: str
) -> None:
    config = _config(tmp_path, deploy=deploy)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    assert caught.value.key == "deploy"
    assert key in str(caught.value)
    result = CliRunner().invoke(cli, ["--config", str(config), "deploy", "render", "--output", "x"])
    assert result.exit_code == 1
    assert key in result.output


def test_the_examples_in_deploy_are_the_render_of_the_example_config() -> None:
    files = render_files(load_settings(REPO / "config.yaml", environ={}))
    for relative, text in files.items():
        assert (REPO / "deploy" / relative).read_text(encoding="utf-8") == text, (
            f"deploy/{relative} is stale: run 'overwatch --config config.yaml deploy render --output deploy'"
        )
