"""Render the deployment files from the settings, and write them idempotently with a diff.

:func:`render_files` is pure: settings in, ``{relative path: text}`` out, the same
text for the same settings (no dates, no host names), so rendering twice changes
nothing and a checked-in copy can be compared with a fresh render. Paths on the
target machine come from the ``deploy:`` section: the checkout in ``install_dir``
with its ``.venv`` and ``node_modules``, the rendered files in
``<install_dir>/deploy``, the settings in ``config_path``.

:func:`write_files` writes only what changed (atomically, by rename) and returns a
unified diff per file. A manifest (``.overwatch-deploy``) lists the files it wrote, so
a file it no longer renders (a receiver taken out of the config) is removed, and
no other file in the directory is ever touched.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from overwatch.config import Settings
from overwatch.deploy.settings import DeployConfig
from overwatch.deploy.settings import ReceiverUnit

__all__ = ["MANIFEST", "Change", "render_files", "unit_names", "write_files"]

MANIFEST = ".overwatch-deploy"
#: Room for the multipart envelope around the largest allowed upload.
UPLOAD_ENVELOPE_BYTES = 1024 * 1024
#: Where the rendered files live in the checkout on the target machine.
FILES_DIR = "deploy"


@dataclass(frozen=True)
class Change:
    """What writing one file did: ``created``, ``changed``, ``unchanged`` or ``removed``."""

    path: str
    status: str
    diff: str


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("overwatch.deploy", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - configuration files, not HTML
    )


def _local(bind: str) -> str:
    """The address nginx reaches a service at: a wildcard listen address means this host."""
    host, _, port = bind.rpartition(":")
    return f"127.0.0.1:{port}" if host in {"0.0.0.0", "", "[::]", "::"} else bind  # noqa: S104


def _processing_binds(settings: Settings) -> list[str | None]:
    """Each daemon's metrics address: ``metrics_bind`` for the first, the next ports for the others."""
    count = settings.deploy.processing_daemons
    if settings.metrics_bind is None:
        return [None] * count
    host, _, port = settings.metrics_bind.rpartition(":")
    return [f"{host}:{int(port) + index}" for index in range(count)]


def unit_names(deploy: DeployConfig) -> list[str]:
    """The systemd units rendered for ``deploy``, the target last."""
    names = ["overwatch-web.service"]
    if deploy.processing_daemons == 1:
        names.append("overwatch-processing.service")
    else:
        names += [
            f"overwatch-processing-{index}.service"
            for index in range(1, deploy.processing_daemons + 1)
        ]
    names += [f"overwatch-receiver-{unit.name}.service" for unit in deploy.receivers]
    return [*names, "overwatch.target"]


def _context(settings: Settings) -> dict[str, Any]:
    from overwatch.webapp.assets import SERVED_DIRECTORIES  # noqa: PLC0415

    deploy = settings.deploy
    source = settings.config_file.name if settings.config_file else "the package defaults"
    dqm: ReceiverUnit | None = next((u for u in deploy.receivers if u.kind == "dqm"), None)
    install = deploy.install_dir.rstrip("/")
    return {
        "header": f"Rendered by 'overwatch deploy render' from {source}: do not edit, "
        "change the settings and render again.",
        "s": settings,
        "d": deploy,
        "web_bind": settings.web_bind,
        "web_upstream": _local(settings.web_bind),
        "files_dir": f"{install}/{FILES_DIR}",
        "files_dir_rel": FILES_DIR,
        "context_rel": "..",
        "config_rel": "../config.yaml",
        "static_dir": f"{install}/overwatch/webapp/static",
        "jsroot_dir": str(settings.jsroot_dir or f"{install}/node_modules/jsroot").rstrip("/"),
        "jsroot_parts": SERVED_DIRECTORIES,
        "body_limit": settings.upload_max_bytes + UPLOAD_ENVELOPE_BYTES,
        "dqm": dqm,
        "dqm_port": dqm.bind.rpartition(":")[2] if dqm else "8851",
        "units": unit_names(deploy)[:-1],
    }


def render_files(settings: Settings) -> dict[str, str]:
    """Every deployment file for ``settings``: relative path -> text."""
    env = _environment()
    context = _context(settings)
    deploy = settings.deploy

    def render(template: str, **extra: Any) -> str:
        return env.get_template(template).render(**context, **extra)

    files = {
        "gunicorn.conf.py": render("gunicorn.conf.py.j2"),
        "nginx/overwatch.conf": render("nginx-site.conf.j2"),
        "Dockerfile": render("Dockerfile.j2"),
        "compose.yaml": render("compose.yaml.j2"),
        "systemd/overwatch-web.service": render("overwatch-web.service.j2"),
        "systemd/overwatch.target": render("overwatch.target.j2"),
    }
    binds = _processing_binds(settings)
    processing = [name for name in unit_names(deploy) if name.startswith("overwatch-processing")]
    for index, (name, bind) in enumerate(zip(processing, binds, strict=True), start=1):
        files[f"systemd/{name}"] = render(
            "overwatch-processing.service.j2", index=index, metrics_bind=bind
        )
    for unit in deploy.receivers:
        files[f"systemd/overwatch-receiver-{unit.name}.service"] = render(
            "overwatch-receiver.service.j2", r=unit
        )
    return dict(sorted(files.items()))


def _diff(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    return "".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def write_files(files: dict[str, str], output: Path, *, dry_run: bool = False) -> list[Change]:
    """Write ``files`` under ``output``; only changed files are touched. One :class:`Change` each."""
    changes: list[Change] = []
    previous = _read(output / MANIFEST)
    for relative, text in files.items():
        target = output / relative
        old = _read(target)
        if old == text:
            changes.append(Change(relative, "unchanged", ""))
            continue
        changes.append(
            Change(
                relative, "created" if old is None else "changed", _diff(relative, old or "", text)
            )
        )
        if not dry_run:
            _write_atomically(target, text)
    for relative in sorted(set((previous or "").split()) - set(files)):
        if relative.startswith("/") or ".." in Path(relative).parts:
            continue  # never outside the output directory, whatever the manifest says
        target = output / relative
        old = _read(target)
        if old is None:
            continue
        changes.append(Change(relative, "removed", _diff(relative, old, "")))
        if not dry_run:
            target.unlink()
    manifest = "".join(f"{relative}\n" for relative in files)
    if not dry_run and previous != manifest:
        _write_atomically(output / MANIFEST, manifest)
    return changes
