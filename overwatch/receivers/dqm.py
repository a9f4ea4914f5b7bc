"""The DQM REST receiver: the HTTP front door the detector's DQM agents push ROOT files to.

It accepts, unchanged, what the agents send to the ALICE Overwatch receiver:
``POST /rest/api/files`` with the headers ``token``, ``runNumber``, ``timeStamp``
(unix seconds), ``amoreAgent`` and optionally ``dataStatus``, the file as the
multipart field ``file`` or as the raw body, answered with
``{status, filename, message, received, receivedHeaders}``. ``GET /rest/api/files``
lists stored uploads and ``GET /rest/api/files/<name>`` returns one.

What it guarantees: an upload answered 200 is on disk (fsynced, under its final
name, published by one atomic ``link`` of the file it was received into, see
:meth:`~overwatch.receivers.upload.Body.publish`) and recorded; the same content from the same agent for the same run is stored once;
anything else is refused with a status and a reason, and leaves nothing behind.
Only values parsed from the headers (a number, a time, a name of letters and
digits) make up a file name. Every accepted and refused upload is counted in the
receiver heartbeats, per agent and for the endpoint.

The blueprint is mounted by the web app and by the standalone receiver
(``overwatch receive dqm``); :func:`init_app` gives it its settings and database.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import jsonify
from flask import request
from flask import send_file
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from overwatch.config import Settings
from overwatch.receivers.filenames import FileNameError
from overwatch.receivers.filenames import build_file_name
from overwatch.receivers.filenames import parse_file_name
from overwatch.receivers.rootcheck import ContentError
from overwatch.receivers.rootcheck import inspect_root_file
from overwatch.receivers.upload import DEFAULT_AGENT
from overwatch.receivers.upload import SECRET_HEADERS
from overwatch.receivers.upload import Body
from overwatch.receivers.upload import UploadError
from overwatch.receivers.upload import UploadHeaders
from overwatch.receivers.upload import parse_upload_headers
from overwatch.receivers.upload import receive_body
from overwatch.receivers.upload import token_from_headers
from overwatch.storage import Database
from overwatch.storage.agents import AgentInfo
from overwatch.storage.agents import agent_for_token
from overwatch.storage.agents import shared_token_matches
from overwatch.storage.receivers import record_receivers_activity
from overwatch.storage.uploads import claim_upload
from overwatch.storage.uploads import list_uploads

__all__ = ["AGENT_KIND", "ENDPOINT_KIND", "DqmState", "agent_receiver_name", "bp", "init_app"]

log = logging.getLogger(__name__)

bp = Blueprint("dqm", __name__)
ENDPOINT_KIND = "dqm"
AGENT_KIND = "dqm-agent"
ACCEPTED_MESSAGE = "Successfully received file and extracted information"
EXTENSION = "overwatch_dqm"


@dataclass
class DqmState:
    settings: Settings
    db: Database
    #: The endpoint's heartbeat row.
    receiver_name: str = "dqm"


@dataclass(frozen=True)
class _Sender:
    """Who sent a request: an agent with its own token, or a holder of a shared token."""

    agent: AgentInfo | None

    def may_upload_as(self, name: str) -> bool:
        return self.agent is None or self.agent.may_upload_as(name)

    @property
    def label(self) -> str:
        return self.agent.name if self.agent is not None else "shared-token"


def agent_receiver_name(agent: str) -> str:
    """The heartbeat row of one DQM agent."""
    return f"dqm:{agent}"


def init_app(app: Flask, settings: Settings, db: Database, receiver_name: str = "dqm") -> None:
    app.extensions[EXTENSION] = DqmState(settings, db, receiver_name)
    app.register_blueprint(bp)


def _state() -> DqmState:
    found: DqmState = current_app.extensions[EXTENSION]
    return found


def _echo_headers() -> dict[str, str]:
    # The ALICE receiver echoed the request headers; credentials are not sent back.
    return {
        name: ("********" if name.lower() in SECRET_HEADERS else value)
        for name, value in request.headers.items()
    }


def _refusal(error: UploadError) -> Response:
    response = jsonify(
        {
            "status": error.status,
            "message": error.reason,
            "received": None,
            "receivedHeaders": _echo_headers(),
            "error": {"status": error.status, "reason": error.reason},
        }
    )
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="overwatch-dqm"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _identify(state: DqmState) -> _Sender:
    token = token_from_headers(request.headers)
    if token is None:
        raise UploadError(
            401, "Must pass a token: the 'token' header or 'Authorization: Bearer <token>'"
        )
    if shared_token_matches(token, state.settings.dqm_upload_tokens):
        return _Sender(None)
    try:
        with state.db.new_session() as session:
            agent = agent_for_token(session, token)
    except SQLAlchemyError as exc:
        raise UploadError(
            503, f"the database is unavailable, retry later: {type(exc).__name__}"
        ) from exc
    if agent is None:
        raise UploadError(401, "Received token, but it is invalid (wrong or revoked)")
    return _Sender(agent)


def _count(state: DqmState, agent: str | None, *, ok: bool, nbytes: int, detail: str) -> None:
    """Count one upload for the endpoint and the agent; a database hiccup only logs."""
    accepted, refused = (1, 0) if ok else (0, 1)
    last_file, reason = (detail, None) if ok else (None, detail)
    names = [(state.receiver_name, ENDPOINT_KIND)]
    if agent is not None:
        names.append((agent_receiver_name(agent), AGENT_KIND))
    try:
        record_receivers_activity(
            state.db,
            names,
            accepted=accepted,
            refused=refused,
            nbytes=nbytes,
            last_file=last_file,
            reason=reason,
        )
    except SQLAlchemyError as exc:
        log.error("could not record DQM upload counts: %s", exc)


@bp.post("/rest/api/files")
def upload() -> Response:
    state = _state()
    agent_name: str | None = None
    try:
        sender = _identify(state)
        agent_name = sender.agent.name if sender.agent is not None else None
        meta = parse_upload_headers(request.headers, default_agent=agent_name or DEFAULT_AGENT)
        agent_name = meta.agent
        if not sender.may_upload_as(meta.agent):
            # Counted under the agent that tried, not the name it tried to use.
            agent_name = sender.agent.name if sender.agent is not None else None
            raise UploadError(
                403, f"agent {sender.label} may not upload as amoreAgent {meta.agent}"
            )
        settings = state.settings
        with receive_body(
            request.environ,
            settings.data_dir,
            max_bytes=settings.upload_max_bytes,
            timeout=settings.upload_timeout_seconds,
        ) as body:
            try:
                inspection = inspect_root_file(
                    body.file, body.size, max_inflated=settings.upload_max_inflated_bytes
                )
            except ContentError as exc:
                raise UploadError(
                    400, f"Successfully received the file, but the file is not valid: {exc}"
                ) from exc
            file_name, duplicate = _store(state, sender, meta, body)
    except UploadError as error:
        log.warning(
            "DQM upload from %s refused (%d): %s", request.remote_addr, error.status, error.reason
        )
        _count(state, agent_name, ok=False, nbytes=0, detail=error.reason)
        return _refusal(error)
    log.info(
        "DQM upload %s from %s: %s (%d bytes)",
        "duplicate" if duplicate else "stored",
        sender.label,
        file_name,
        body.size,
    )
    _count(state, meta.agent, ok=True, nbytes=0 if duplicate else body.size, detail=file_name)
    received = {
        name: f"Obj name: {name}, Obj IsA() Name: {class_name}"
        for name, class_name in inspection.top_level.items()
    }
    response = jsonify(
        {
            "status": 200,
            "filename": file_name,
            "message": ACCEPTED_MESSAGE,
            "received": received,
            "receivedHeaders": _echo_headers(),
            "duplicate": duplicate,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _store(state: DqmState, sender: _Sender, meta: UploadHeaders, body: Body) -> tuple[str, bool]:
    """Store the body once; (file name, whether it was a duplicate).

    The content is made durable first, outside any transaction. The claim's
    transaction then covers only the claim, the ``link`` that names the file and the
    directory sync, and commits once the name is on disk: a claim always means a
    stored file, and on SQLite the database's write lock is never held across the
    copy or the file's fsync.
    """
    settings = state.settings
    name = build_file_name(meta.agent, meta.run_number, "DQM", meta.timestamp, settings.tz)
    target = settings.data_dir / name
    filed = settings.data_dir / f"Run{meta.run_number}" / meta.agent / name
    try:
        body.make_durable()
        with state.db.session() as session:
            claim = claim_upload(
                session,
                agent=meta.agent,
                run_number=meta.run_number,
                sha256=body.sha256,
                file_name=name,
                size=body.size,
                uploaded_by=sender.label,
            )
            if not claim.new:
                return claim.file_name, True
            for existing in (target, filed):
                if existing.exists():
                    if _sha256(existing) == body.sha256:
                        return name, True  # stored before a crash lost the record
                    raise UploadError(409, _conflict(name))
            try:
                body.publish(target)
            except FileExistsError:
                if _sha256(target) == body.sha256:
                    return name, True
                raise UploadError(409, _conflict(name)) from None
    except IntegrityError:
        raise UploadError(409, _conflict(name)) from None
    except SQLAlchemyError as exc:
        raise UploadError(
            503, f"the database is unavailable, retry later: {type(exc).__name__}"
        ) from exc
    except OSError as exc:
        log.error("could not store DQM upload %s: %s", name, exc)
        raise UploadError(503, f"could not store the file, retry later: {exc.strerror}") from exc
    return name, False


def _conflict(name: str) -> str:
    return (
        f"a different file was already received as {name} (same agent, run and second); "
        "send it again with another timeStamp"
    )


def _listing_sender(state: DqmState) -> _Sender | Response:
    try:
        return _identify(state)
    except UploadError as error:
        return _refusal(error)


@bp.get("/rest/api/files")
def file_list() -> Response:
    """Names of stored uploads (only the agent's own names for a per-agent token)."""
    state = _state()
    sender = _listing_sender(state)
    if isinstance(sender, Response):
        return sender
    agents: set[str] | None = None
    if sender.agent is not None:
        agents = {sender.agent.name, *sender.agent.allowed_names}
    with state.db.new_session() as session:
        names = list_uploads(session, agents)
    return jsonify({"files": names})


@bp.get("/rest/api/files/<string:filename>")
def file_download(filename: str) -> Response:
    """One stored upload's bytes; the name must be a DQM upload name, nothing else."""
    state = _state()
    sender = _listing_sender(state)
    if isinstance(sender, Response):
        return sender
    settings = state.settings
    try:
        parsed = parse_file_name(filename, settings.tz)
    except FileNameError:
        return _refusal(UploadError(400, "not the name of a DQM upload"))
    if parsed.hlt_mode != "DQM":
        return _refusal(UploadError(400, "not the name of a DQM upload"))
    if not sender.may_upload_as(parsed.subsystem):
        return _refusal(
            UploadError(403, f"agent {sender.label} may not read {parsed.subsystem} files")
        )
    # Both candidates are built from the parsed parts, never from the request's text.
    name = build_file_name(
        parsed.subsystem, parsed.run_number, "DQM", parsed.timestamp, settings.tz
    )
    for path in (
        settings.data_dir / name,
        settings.data_dir / f"Run{parsed.run_number}" / parsed.subsystem / name,
    ):
        if path.is_file():
            return send_file(
                path.resolve(),
                mimetype="application/octet-stream",
                as_attachment=True,
                download_name=name,
            )
    return _refusal(UploadError(404, f"no stored upload {name}"))
