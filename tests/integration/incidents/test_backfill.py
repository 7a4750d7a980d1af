"""`vigil incidents backfill` folds alerts stored before incidents existed (migration 0017)
into the incidents the live path would have made for the same firings and resolutions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import delete, select, update

from app.__main__ import main
from app.alerts import service as alerts
from app.alerts.models import Alert
from app.audit.models import AuditRecord
from app.incidents.models import Incident
from config.schema import IncidentSettings
from detectors.findings import Finding

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
GROUPING = IncidentSettings(group_by=("service",), window=600)

# (minute, detector, labels, finding state, severity): a day of history with what grouping
# must get right: flapping re-fires inside and outside the window, overlapping members that
# resolve out of order, a long pending start, label-less alerts grouped by detector, a
# severity rise, an alert that never fired, and two still open at the end.
API, DB = {"service": "api"}, {"service": "db"}
HISTORY = [
    (0, "latency", API, "firing", "warning"),
    (2, "errors", API, "firing", "critical"),
    (5, "latency", API, "ok", "warning"),
    (9, "errors", API, "ok", "critical"),
    (15, "latency", API, "firing", "warning"),
    (16, "latency", API, "ok", "warning"),  # re-fire within 10m
    (40, "latency", API, "firing", "warning"),
    (41, "latency", API, "ok", "warning"),  # after the window
    (42, "disk", {}, "firing", "warning"),
    (43, "queue", {}, "firing", "info"),
    (44, "disk", {}, "ok", "warning"),
    (50, "errors", DB, "pending", "warning"),
    (58, "errors", DB, "firing", "warning"),  # pending 8 minutes
    (59, "latency", DB, "pending", "warning"),
    (60, "latency", DB, "ok", "warning"),  # never fires
    (70, "errors", DB, "ok", "warning"),
    (79, "latency", DB, "firing", "critical"),
    (80, "latency", DB, "ok", "critical"),
    (95, "latency", API, "firing", "warning"),
    (96, "errors", API, "firing", "warning"),
    (97, "latency", API, "ok", "warning"),
]


def play(database: Any, history: list[tuple[int, str, dict[str, str], str, str]], start: datetime = T0) -> None:
    """The live path: each detector run stores its finding, at its own time."""
    for minute, detector, labels, state, severity in history:
        with database.write() as s:
            alerts.apply(
                s,
                detector=detector,
                severity=severity,
                static_labels={},
                now=start + timedelta(minutes=minute),
                findings=[Finding("threshold", labels, state, value=1.0)],
                grouping=GROUPING,
            )


def forget_incidents(database: Any) -> None:
    """The alerts as a database from before migration 0017 holds them."""
    with database.write() as s:
        s.execute(update(Alert).values(incident_id=None))
        s.execute(delete(Incident))


def incidents(database: Any) -> list[tuple[Any, ...]]:
    """Every incident by what a user sees of it, identified by its members (ids differ)."""
    with database.read() as s:
        members: dict[int, list[int]] = {}
        for alert_id, incident_id in s.execute(select(Alert.id, Alert.incident_id).order_by(Alert.id)):
            if incident_id is not None:
                members.setdefault(incident_id, []).append(alert_id)
        return sorted(
            (
                tuple(members.get(i.id, [])),
                i.group_key,
                i.detector,
                sorted(i.group_labels.items()),
                i.severity,
                i.state,
                i.started_at,
                i.updated_at,
                i.resolved_at,
                i.alert_count,
                i.open_count,
            )
            for i in s.scalars(select(Incident))
        )


@pytest.fixture
def config_file(tmp_path: Path, database_url: str) -> str:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "settings": {
                    "data_dir": str(tmp_path / "data"),
                    "database_url": database_url,
                    "incidents": {"group_by": list(GROUPING.group_by), "window": "10m"},
                }
            }
        )
    )
    return str(path)


def test_backfill_makes_the_incidents_the_live_path_made(
    database: Any, config_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    play(database, HISTORY)
    live = incidents(database)
    assert len(live) == 6 and any(i[5] == "open" for i in live), "the history covers open and resolved incidents"
    forget_incidents(database)

    assert main(["--config", config_file, "incidents", "backfill"]) == 0

    assert incidents(database) == live
    fired = sum(len(i[0]) for i in live)
    assert capsys.readouterr().out.strip() == f"folded {fired} alerts into 6 incidents (6 new, 0 existing)"
    with database.read() as s:
        [record] = s.scalars(select(AuditRecord).where(AuditRecord.action == "incidents.backfill")).all()
        assert record.actor == "cli" and record.details["alerts"] == fired


def test_a_second_run_changes_nothing(database: Any, config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    play(database, HISTORY)
    forget_incidents(database)
    assert main(["--config", config_file, "incidents", "backfill"]) == 0
    first = incidents(database)
    capsys.readouterr()

    assert main(["--config", config_file, "incidents", "backfill"]) == 0

    assert incidents(database) == first
    assert capsys.readouterr().out.strip() == "folded 0 alerts into 0 incidents (0 new, 0 existing)"


@pytest.mark.parametrize("batch", [1, 3])
def test_any_batch_size_and_a_run_stopped_half_way_give_the_same_incidents(database: Any, batch: int) -> None:
    from app.incidents import backfill

    play(database, HISTORY)
    live = incidents(database)
    forget_incidents(database)
    with database.write() as s:  # what a run stopped after its first batches committed
        first = s.scalars(
            select(Alert).where(Alert.fired_at.is_not(None)).order_by(Alert.fired_at, Alert.id).limit(7)
        ).all()
        for alert in first:
            backfill.fold(s, alert, GROUPING, backfill.Backfilled())

    done = backfill.backfill(database, settings=GROUPING, batch=batch)

    assert incidents(database) == live
    assert done.alerts == sum(len(i[0]) for i in live) - 7


def test_since_leaves_older_alerts_alone(database: Any, config_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    play(
        database,
        [(0, "latency", API, "firing", "warning"), (1, "latency", API, "ok", "warning")],
        start=now - timedelta(days=40),
    )
    play(
        database,
        [(0, "errors", DB, "firing", "warning"), (1, "errors", DB, "ok", "warning")],
        start=now - timedelta(days=2),
    )
    forget_incidents(database)

    assert main(["--config", config_file, "incidents", "backfill", "--since", "30d"]) == 0

    assert capsys.readouterr().out.strip() == "folded 1 alert into 1 incident (1 new, 0 existing)"
    with database.read() as s:
        folded = {a.detector: a.incident_id is not None for a in s.scalars(select(Alert))}
    assert folded == {"latency": False, "errors": True}
    assert main(["--config", config_file, "incidents", "backfill", "--since", "soon"]) == 2
    assert "since" in capsys.readouterr().err


def test_old_alerts_stay_out_of_an_open_live_incident_which_keeps_taking_new_ones(
    database: Any, config_file: str
) -> None:
    play(database, [(0, "latency", API, "firing", "warning"), (3, "latency", API, "ok", "warning")])
    forget_incidents(database)  # stored before 0017
    play(database, [(0, "errors", API, "firing", "warning")], start=T0 + timedelta(days=1))  # after: live
    [live] = incidents(database)

    assert main(["--config", config_file, "incidents", "backfill"]) == 0
    old = [i for i in incidents(database) if i != live]
    assert len(old) == 1 and old[0][5] == "resolved" and old[0][9] == 1, "the old alert has its own incident"
    # The backfilled incident now has the group's highest id; a new firing still joins the open one.
    play(database, [(5, "saturation", API, "firing", "warning")], start=T0 + timedelta(days=1))

    with database.read() as s:
        by_detector = {a.detector: a.incident_id for a in s.scalars(select(Alert))}
        assert by_detector["saturation"] == by_detector["errors"] != by_detector["latency"]
        assert s.get(Incident, by_detector["errors"]).alert_count == 2
