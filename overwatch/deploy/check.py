"""``overwatch deploy check``: validate the rendered files with the tools this machine has.

Each check says ``ok``, ``failed`` or ``skipped`` (with why), so an operator sees
what was proven and what was not:

- **settings**: the configuration (with its ``deploy:`` section) loads, and the
  rendered ``gunicorn.conf.py`` compiles.
- **nginx**: ``nginx -t`` on the rendered site, included from a minimal ``nginx.conf``
  written to a temporary directory (with its own pid and log files, so it needs no
  root and touches nothing of the machine's nginx); skipped when nginx is missing.
- **systemd**: ``systemd-analyze verify`` on the units; skipped when it is missing.
  Executables that exist only on the target (the install's ``.venv``) are reported
  as notes, any other complaint fails.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from overwatch.config import Settings

__all__ = ["CheckResult", "check_gunicorn_config", "check_nginx", "check_systemd", "find_tool"]

#: Seconds any external checker may take.
TOOL_TIMEOUT = 60


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # "ok", "failed" or "skipped"
    detail: str
    notes: list[str] = field(default_factory=list)


def find_tool(name: str) -> str | None:
    """A tool on PATH or in the sbin directories (nginx lives in /usr/sbin, often off a user's PATH)."""
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        candidate = Path(directory) / name
        if candidate.is_file():
            return str(candidate)
    return None


def check_gunicorn_config(output: Path) -> CheckResult:
    path = output / "gunicorn.conf.py"
    try:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    except (OSError, SyntaxError) as exc:
        return CheckResult("gunicorn", "failed", f"{path}: {exc}")
    return CheckResult("gunicorn", "ok", f"{path} compiles")


_WRAPPER = """\
# Minimal nginx.conf around the rendered site, for 'nginx -t' only.
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ }}
http {{
{mime}    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {site};
}}
"""


def nginx_wrapper(site: Path, directory: Path) -> Path:
    """Write a minimal ``nginx.conf`` including ``site`` into ``directory``; return its path."""
    mime = Path("/etc/nginx/mime.types")
    text = _WRAPPER.format(
        tmp=directory,
        site=site.resolve(),
        mime=f"    include {mime};\n" if mime.is_file() else "",
    )
    path = directory / "nginx.conf"
    path.write_text(text, encoding="utf-8")
    return path


def check_nginx(output: Path) -> CheckResult:
    nginx = find_tool("nginx")
    if nginx is None:
        return CheckResult("nginx", "skipped", "nginx is not installed (apt-get install nginx)")
    site = output / "nginx" / "overwatch.conf"
    with tempfile.TemporaryDirectory(prefix="overwatch-nginx-check-") as tmp:
        conf = nginx_wrapper(site, Path(tmp))
        completed = subprocess.run(  # noqa: S603 - a fixed tool and our own files
            [nginx, "-t", "-q", "-p", tmp, "-e", f"{tmp}/error.log", "-c", str(conf)],
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT,
            check=False,
        )
    message = (completed.stderr + completed.stdout).strip()
    if completed.returncode != 0:
        return CheckResult("nginx", "failed", f"nginx -t on {site}:\n{message}")
    return CheckResult("nginx", "ok", f"nginx -t accepts {site}", [message] if message else [])


def check_systemd(output: Path, settings: Settings) -> CheckResult:
    analyze = find_tool("systemd-analyze")
    if analyze is None:
        return CheckResult("systemd", "skipped", "systemd-analyze is not installed")
    units = sorted(str(path) for path in (output / "systemd").glob("overwatch*"))
    if not units:
        return CheckResult("systemd", "failed", f"no units in {output / 'systemd'}")
    completed = subprocess.run(  # noqa: S603 - a fixed tool and our own files
        [analyze, "verify", *units],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
        check=False,
    )
    venv = settings.deploy.venv_dir.rstrip("/") + "/"
    notes: list[str] = []
    problems: list[str] = []
    for line in (completed.stderr + completed.stdout).splitlines():
        if not line.strip():
            continue
        if "is not executable" in line and f"Command {venv}" in line:
            notes.append(f"{line.strip()} (exists only once installed)")
        else:
            problems.append(line.strip())
    names = ", ".join(Path(unit).name for unit in units)
    if problems or (completed.returncode != 0 and not notes):
        detail = "\n".join(problems) or f"exit status {completed.returncode}"
        return CheckResult("systemd", "failed", f"systemd-analyze verify: {detail}", notes)
    return CheckResult("systemd", "ok", f"systemd-analyze verify accepts {names}", notes)
