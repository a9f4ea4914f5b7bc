"""``overwatch agents add/list/remove``: the token is the last word printed and works until removed."""

from __future__ import annotations

from click.testing import CliRunner

from overwatch.cli import cli
from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.agents import agent_for_token


def _run(settings: Settings, *args: str) -> object:
    options = [
        "--data-dir",
        str(settings.data_dir),
        "--database-url",
        settings.effective_database_url,
    ]
    return CliRunner().invoke(cli, [*options, *args], catch_exceptions=False)


def test_agents_add_list_remove(settings: Settings, db: Database) -> None:
    added = _run(settings, "agents", "add", "HLT", "--allow", "TPC")
    assert added.exit_code == 0, added.output  # type: ignore[attr-defined]
    token = added.output.strip().splitlines()[-1].split()[-1]  # type: ignore[attr-defined]
    with db.session() as session:
        agent = agent_for_token(session, token)
    assert agent is not None
    assert agent.may_upload_as("TPC")
    assert not agent.may_upload_as("EMC")
    again = _run(settings, "agents", "add", "HLT")
    assert again.exit_code == 1  # type: ignore[attr-defined]
    listed = _run(settings, "agents", "list")
    assert "HLT" in listed.output
    assert "TPC" in listed.output
    assert _run(settings, "agents", "remove", "HLT").exit_code == 0  # type: ignore[attr-defined]
    with db.session() as session:
        assert agent_for_token(session, token) is None
    bad = _run(settings, "agents", "add", "../x")
    assert bad.exit_code == 1  # type: ignore[attr-defined]
