"""``overwatch deploy check`` with the real nginx and systemd-analyze of this machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from overwatch.cli import cli
from overwatch.deploy.check import find_tool

VENV = Path(sys.executable).parent.parent
needs_nginx = pytest.mark.skipif(find_tool("nginx") is None, reason="nginx is not installed")
needs_systemd = pytest.mark.skipif(
    find_tool("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def _config(tmp_path: Path, **deploy: Any) -> Path:
    path = tmp_path / "config.yaml"
    values = {
        "data_dir": "data",
        "deploy": {"install_dir": str(tmp_path), "venv": str(VENV), **deploy},
    }
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


def _check(config: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(config), "deploy", "check", *extra], env={})


@needs_nginx
@needs_systemd
def test_the_default_render_passes_nginx_and_systemd(tmp_path: Path) -> None:
    result = _check(
        _config(tmp_path, receivers=[{"kind": "dqm"}, {"kind": "zmq", "connect": "tcp://a:1"}])
    )
    assert result.exit_code == 0, result.output
    assert "ok       settings:" in result.output
    assert "ok       nginx: nginx -t accepts" in result.output
    assert "ok       systemd: systemd-analyze verify accepts" in result.output
    assert "overwatch-receiver-zmq.service" in result.output
    # The executables exist (this test's venv), so systemd had nothing to note.
    assert "note:" not in result.output


@needs_nginx
def test_a_tls_site_passes_with_a_real_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "site.pem", tmp_path / "site.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    output = tmp_path / "out"
    config = _config(tmp_path, tls_certificate=str(cert), tls_certificate_key=str(key))
    rendered = CliRunner().invoke(
        cli, ["--config", str(config), "deploy", "render", "--output", str(output)], env={}
    )
    assert rendered.exit_code == 0, rendered.output
    result = _check(config, "--output", str(output))
    assert result.exit_code == 0, result.output
    assert "ok       nginx" in result.output

    # nginx -t is a real check: a certificate that is not there fails it.
    cert.unlink()
    result = _check(config, "--output", str(output))
    assert result.exit_code == 1
    assert "failed   nginx" in result.output
    assert "site.pem" in result.output


@needs_systemd
def test_a_broken_unit_fails_the_systemd_check(tmp_path: Path) -> None:
    output = tmp_path / "out"
    config = _config(tmp_path)
    CliRunner().invoke(
        cli, ["--config", str(config), "deploy", "render", "--output", str(output)], env={}
    )
    unit = output / "systemd" / "overwatch-web.service"
    unit.write_text(unit.read_text().replace("Type=notify", "Type=sometimes"))
    result = _check(config, "--output", str(output))
    assert result.exit_code == 1
    assert "failed   systemd" in result.output
    assert "service type" in result.output
