"""DQM agents and their upload tokens.

Each agent has one random token, shown once when it is made; only its SHA-256 is
stored (a random 256-bit token needs no slow hash). A token is found by its hash
and the stored hash is compared again with :func:`hmac.compare_digest`, so the
comparison takes the same time whatever the token. An agent uploads under its
own name and any names an admin allowed it (``allowed_names``); removing an agent
revokes its token at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from overwatch.storage.models import DqmAgent

__all__ = [
    "AGENT_NAME",
    "AgentError",
    "AgentInfo",
    "agent_for_token",
    "create_agent",
    "hash_token",
    "list_agents",
    "remove_agent",
    "shared_token_matches",
]

#: What an agent name (the ``amoreAgent`` header) may be: it becomes part of file names.
AGENT_NAME = re.compile(r"[A-Za-z0-9]{1,32}")
TOKEN_PREFIX = "owdqm_"  # noqa: S105 - a prefix that makes leaked tokens recognisable


class AgentError(ValueError):
    """A bad agent name, or an agent that exists (or does not)."""


@dataclass(frozen=True)
class AgentInfo:
    name: str
    allowed_names: tuple[str, ...]
    created_at: datetime

    def may_upload_as(self, name: str) -> bool:
        return name == self.name or name in self.allowed_names


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _check_name(name: str) -> str:
    if not AGENT_NAME.fullmatch(name):
        raise AgentError(f"agent name {name!r} must be 1 to 32 letters or digits")
    return name


def _info(agent: DqmAgent) -> AgentInfo:
    return AgentInfo(agent.name, tuple(agent.allowed_names or ()), agent.created_at)


def create_agent(
    session: Session, name: str, allow: Iterable[str] = (), *, replace: bool = False
) -> str:
    """Add agent ``name`` (or give it a new token with ``replace``); returns the token."""
    _check_name(name)
    allowed = sorted({_check_name(other) for other in allow} - {name})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    agent = session.scalar(select(DqmAgent).where(DqmAgent.name == name))
    if agent is not None and not replace:
        raise AgentError(f"agent {name!r} exists; --replace gives it a new token")
    if agent is None:
        agent = DqmAgent(name=name, token_hash=hash_token(token), allowed_names=allowed)
        session.add(agent)
    else:
        agent.token_hash = hash_token(token)
        if allow:
            agent.allowed_names = allowed
    session.flush()
    return token


def list_agents(session: Session) -> list[AgentInfo]:
    return [_info(agent) for agent in session.scalars(select(DqmAgent).order_by(DqmAgent.name))]


def remove_agent(session: Session, name: str) -> bool:
    """Remove an agent, revoking its token; whether it existed."""
    result = session.execute(delete(DqmAgent).where(DqmAgent.name == name))
    return bool(getattr(result, "rowcount", 0))


_BY_TOKEN_HASH = select(
    DqmAgent.name, DqmAgent.token_hash, DqmAgent.allowed_names, DqmAgent.created_at
).where(DqmAgent.token_hash == bindparam("token_hash"))


def agent_for_token(session: Session, token: str) -> AgentInfo | None:
    """The agent holding ``token``, or None for a wrong or revoked one."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    wanted = hash_token(token)
    # Columns, not the ORM entity: this runs for every upload, and the rows are only read.
    row = session.execute(_BY_TOKEN_HASH, {"token_hash": wanted}).first()
    if row is None or not hmac.compare_digest(row.token_hash, wanted):
        return None
    return AgentInfo(row.name, tuple(row.allowed_names or ()), row.created_at)


def shared_token_matches(token: str, configured: str | None) -> bool:
    """Whether ``token`` is one of the comma-separated ``dqm_upload_tokens``.

    Every configured token is compared (in constant time), so the answer takes as
    long for the first as for the last or for none.
    """
    if not configured:
        return False
    given = token.encode("utf-8", "surrogateescape")
    found = False
    for item in configured.split(","):
        candidate = item.strip()
        if candidate and hmac.compare_digest(candidate.encode("utf-8"), given):
            found = True
    return found
