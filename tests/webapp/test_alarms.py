"""The alarms page, the run list's count, the run page's alarms and the alarms API, on
alarms raised by the real pipeline from the demo's planted problems (HLT's out-of-range
histogram; EMC runs through the generic plugin here) plus one cleared trend alarm."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from overwatch.config import Settings
from overwatch.processing.alarms import evaluate_receiver_silences
from overwatch.storage import Database
from overwatch.storage.alarms import clear_alarms
from overwatch.storage.alarms import list_alarms
from overwatch.storage.alarms import raise_alarm
from overwatch.storage.models import utcnow
from overwatch.storage.receivers import record_receiver_activity
from overwatch.storage.users import create_token
from overwatch.webapp.formatting import hist_anchor
from tests.webapp.conftest import csrf_token

FIRST, SECOND = 294832, 294833


def _alarms(db: Database) -> list:  # type: ignore[type-arg]
    with db.session() as session:
        if not any(a.rule == "EMC drift" for a in list_alarms(session)):
            raise_alarm(
                session, rule="EMC drift", subsystem="EMC", target="emc_mean",
                severity="warning", message="emc_mean = 9 in run 294832", run_number=FIRST,
            )  # fmt: skip
            clear_alarms(session, rule="EMC drift", subsystem="EMC")
        return list_alarms(session)


def test_pages_show_the_alarms_where_problems_were_planted(
    processed_demo: Settings, db: Database, client_as: Callable[[str], FlaskClient]
) -> None:
    alarms = _alarms(db)
    assert {(a.run_number, a.subsystem, a.histogram) for a in alarms} == {
        (FIRST, "EMC", None),
        (SECOND, "HLT", "fHistTPCdEdxMaxOROC2"),
    }
    client = client_as("viewer")

    runs = client.get("/runs").text
    for run in (FIRST, SECOND):
        count = sum(1 for a in alarms if a.run_number == run)
        assert f'data-alarms="{count}"' in runs
        assert f'href="/alarms?run={run}"' in runs

    page = client.get("/alarms").text
    assert page.count('class="alarm-row') == len(alarms)
    hot = next(a for a in alarms if a.run_number == SECOND)
    assert f'href="/runs/{SECOND}/HLT?order=problems#{hist_anchor(hot.histogram)}"' in page
    assert f'href="/runs/{FIRST}/EMC"' in page  # a trend alarm: the run page
    assert "Acknowledge" not in page  # viewers cannot

    only = client.get(f"/alarms?run={SECOND}&subsystem=HLT").text
    assert only.count('class="alarm-row') == 1
    assert 'data-subsystem="HLT"' in only
    cleared = client.get("/alarms?state=cleared").text
    assert cleared.count('class="alarm-row') == sum(1 for a in alarms if a.cleared_at)
    assert client.get("/alarms?state=bogus").status_code == 400

    run_page = client.get(f"/runs/{SECOND}/HLT?order=problems").text
    assert 'id="run-alarms"' in run_page
    assert f'id="{hist_anchor(hot.histogram)}"' in run_page  # the anchor the alarm links to


def test_experts_acknowledge_with_csrf_and_viewers_cannot(
    processed_demo: Settings, db: Database, client_as: Callable[[str], FlaskClient]
) -> None:
    alarm = next(a for a in _alarms(db) if a.histogram)
    viewer = client_as("viewer")
    token = csrf_token(viewer.get("/alarms").text)
    refused = viewer.post(f"/alarms/{alarm.id}/ack", data={"csrf_token": token})
    assert refused.status_code == 403

    expert = client_as("expert")
    page = expert.get("/alarms").text
    assert f'action="/alarms/{alarm.id}/ack"' in page
    assert expert.post(f"/alarms/{alarm.id}/ack").status_code == 400  # no CSRF token
    assert all(a.acknowledged_at is None for a in _alarms(db))
    done = expert.post(
        f"/alarms/{alarm.id}/ack", data={"csrf_token": csrf_token(page), "next": "/alarms"}
    )
    assert done.status_code == 302
    assert done.headers["Location"] == "/alarms"
    acked = next(a for a in _alarms(db) if a.id == alarm.id)
    assert acked.acknowledged_by == "expert"
    assert acked.state == "acknowledged"
    assert f"Alarm {alarm.id} acknowledged" in expert.get("/alarms").text


def test_api_lists_filters_and_acknowledges(
    processed_demo: Settings, db: Database, app: Flask, users: dict[str, str]
) -> None:
    with db.session() as session:
        expert_token = create_token(session, "expert")
        viewer_token = create_token(session, "viewer")
    client = app.test_client()
    expert = {"Authorization": f"Bearer {expert_token}"}
    viewer = {"Authorization": f"Bearer {viewer_token}"}

    stored = _alarms(db)
    listed = client.get("/api/v1/alarms", headers=viewer).json["alarms"]
    assert len(listed) == len(stored)
    first = next(a for a in listed if a["histogram"])
    assert set(first) >= {"id", "state", "subsystem", "run_number", "histogram", "rule", "target"}
    assert first["url"].endswith(f"#{hist_anchor(first['histogram'])}")
    emc = client.get(f"/api/v1/alarms?subsystem=EMC&run={FIRST}", headers=viewer).json["alarms"]
    assert [(a["subsystem"], a["run_number"], a["state"]) for a in emc] == [
        ("EMC", FIRST, "cleared")
    ]
    assert client.get(f"/api/v1/alarms?subsystem=HLT&run={FIRST}", headers=viewer).json == {
        "alarms": []
    }
    open_ = client.get("/api/v1/alarms?state=open", headers=viewer).json["alarms"]
    assert all(a["cleared_at"] is None for a in open_)
    assert open_
    assert client.get("/api/v1/alarms?state=x", headers=viewer).status_code == 400

    target = open_[0]["id"]
    assert client.post(f"/api/v1/alarms/{target}/ack", headers=viewer).status_code == 403
    answer = client.post(f"/api/v1/alarms/{target}/ack", headers=expert)
    assert answer.status_code == 200
    assert answer.json["state"] == "acknowledged"
    assert answer.json["acknowledged_by"] == "expert"
    assert client.post("/api/v1/alarms/999999/ack", headers=expert).status_code == 404
    active = client.get("/api/v1/alarms?state=active", headers=viewer).json["alarms"]
    assert target not in {a["id"] for a in active}


def test_api_session_calls_need_the_csrf_header(
    processed_demo: Settings, db: Database, client_as: Callable[[str], FlaskClient]
) -> None:
    alarm = _alarms(db)[0]
    expert = client_as("expert")
    assert expert.post(f"/api/v1/alarms/{alarm.id}/ack").status_code == 400
    token = csrf_token(expert.get("/alarms").text)
    answer = expert.post(f"/api/v1/alarms/{alarm.id}/ack", headers={"X-CSRFToken": token})
    assert answer.status_code == 200


def test_a_silence_of_every_subsystem_is_filtered_as_star_and_shown_under_each_subsystem(
    make_settings: Callable[..., Settings],
    db: Database,
    client_as: Callable[[str], FlaskClient],
) -> None:
    """A ``subsystem: "*"`` receiver-silence rule stores its alarm under "*": the page and
    the API filter it as ``subsystem=*`` and list it under every subsystem too."""
    settings = make_settings(
        alarms=[
            {"name": "DQM silent", "kind": "receiver_silence", "subsystem": "*",
             "target": "dqm*", "minutes": 15},
        ]
    )  # fmt: skip
    record_receiver_activity(
        db, name="dqm-agent-1", kind="dqm-agent", now=utcnow() - timedelta(minutes=20)
    )
    evaluate_receiver_silences(settings, db)
    with db.session() as session:
        raise_alarm(
            session, rule="EMC drift", subsystem="EMC", target="emc_mean",
            severity="warning", message="emc_mean = 9 in run 294832", run_number=FIRST,
        )  # fmt: skip
    client = client_as("viewer")

    def listed(query: str) -> list[tuple[str, str]]:
        answer = client.get(f"/api/v1/alarms?{query}")
        assert answer.status_code == 200, answer.text
        return sorted((a["subsystem"], a["target"]) for a in answer.json["alarms"])

    silence = ("*", "dqm-agent-1")
    assert listed("subsystem=*") == [silence]
    assert listed("subsystem=%2A&state=active") == [silence]
    assert listed("subsystem=EMC") == [silence, ("EMC", "emc_mean")]
    assert listed("subsystem=TPC") == [silence]
    assert listed(f"subsystem=EMC&run={FIRST}") == [("EMC", "emc_mean")]
    assert client.get("/api/v1/alarms?subsystem=E*C").status_code == 400

    page = client.get("/alarms?subsystem=*")
    assert page.status_code == 200
    assert page.text.count('class="alarm-row') == 1
    assert 'data-subsystem="*"' in page.text
    assert "<td>all</td>" in page.text
    assert "· all subsystems" in page.text
    tpc = client.get("/alarms?subsystem=TPC").text
    assert tpc.count('class="alarm-row') == 1
    assert 'data-subsystem="*"' in tpc
