"""``overwatch agents add/list/remove``: the token is the last word printed and works until removed."""

from __future__ import annotations

import pytest

from overwatch.config import Settings
from overwatch.storage import Database
from overwatch.storage.agents import agent_for_token
from tests.clisupport import run_cli

pytestmark = pytest.mark.usefixtures("close_cli_databases")


def test_agents_add_list_remove(settings: Settings, db: Database) -> None:
    added = run_cli(settings, "agents", "add", "HLT", "--allow", "TPC")
    assert added.exit_code == 0, added.output
    token = added.output.strip().splitlines()[-1].split()[-1]
    with db.session() as session:
        agent = agent_for_token(session, token)
    assert agent is not None
    assert agent.may_upload_as("TPC")
    assert not agent.may_upload_as("EMC")
    again = run_cli(settings, "agents", "add", "HLT")
    assert again.exit_code == 1
    listed = run_cli(settings, "agents", "list")
    assert "HLT" in listed.output
    assert "TPC" in listed.output
    assert run_cli(settings, "agents", "remove", "HLT").exit_code == 0
    with db.session() as session:
        assert agent_for_token(session, token) is None
    bad = run_cli(settings, "agents", "add", "../x")
    assert bad.exit_code == 1
