"""`vigil backtest --since`: the detector replayed over a real Prometheus's backfilled history,
beside the alerts actually stored, as a table or (--json) the API's document."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.__main__ import main
from app.alerts.models import Alert
from detectors.lifecycle import fingerprint
from tests.integration.rehearsal.history import NOW, PROMTOOL, START

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="needs promtool")]
REPO = Path(__file__).resolve().parents[3]
LABELS = {"__name__": "vigil_rh", "series": "a"}
PERIOD = ["--since", START.isoformat(), "--until", NOW.isoformat()]


def _config(tmp_path: Path, database_url: str, prometheus: str, *, above: float = 90, source: str = "prom") -> str:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "settings": {"data_dir": str(tmp_path / "data"), "database_url": database_url},
                "sources": [
                    {"type": "prometheus", "name": "prom", "url": prometheus},
                    {"type": "prometheus", "name": "down", "url": "http://127.0.0.1:9", "timeout_s": 2},
                ],
                "detectors": [
                    {
                        "name": "rh",
                        "source": source,
                        "query": "vigil_rh",
                        "interval": "5m",
                        "window": "15m",
                        "analysis": {"type": "threshold", "above": above},
                    }
                ],
            }
        )
    )
    return str(path)


def _store_actual(database: Any, fired: datetime) -> None:
    """The alert the live detector raised for the spike at hours 10-12."""
    with database.write() as session:
        session.add(
            Alert(
                fingerprint=fingerprint("rh", LABELS),
                detector="rh",
                labels=LABELS,
                severity="warning",
                state="resolved",
                kind="threshold",
                started_at=fired,
                fired_at=fired,
                resolved_at=START + timedelta(hours=12),
                last_seen_at=fired,
            )
        )


def test_it_prints_the_api_document_with_json(
    tmp_path: Path, database: Any, database_url: str, prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, database_url, prometheus)
    assert main(["--config", config, "backtest", "--detector", "rh", *PERIOD, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["summary"] == {"rehearsed": 1, "actual": 0, "same": 0, "shifted": 0, "added": 1, "removed": 0}
    fired = datetime.fromisoformat(body["added"][0]["start"])
    assert START + timedelta(hours=10) <= fired <= START + timedelta(hours=10, minutes=10)
    assert body["source"] == "prom" and body["added"][0]["labels"] == LABELS


def test_a_tuned_configuration_is_printed_beside_the_alerts_actually_raised(
    tmp_path: Path, database: Any, database_url: str, prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _store_actual(database, START + timedelta(hours=10, minutes=5))
    config = _config(tmp_path, database_url, prometheus, above=70)  # the change being judged
    assert main(["--config", config, "backtest", "--detector", "rh", *PERIOD]) == 0
    out = capsys.readouterr().out
    assert "rehearsed 2 alerts, actually raised 1: 1 same, 0 shifted, 1 added, 0 removed" in out
    same, added = [line for line in out.splitlines() if line.startswith(("same", "added"))]
    assert same.startswith("same") and "#1 " in same and "series=a" in same  # beside the stored alert's id
    assert added.startswith("added") and "—" in added  # nothing actually raised for the hour-20 bump

    higher = _config(tmp_path, database_url, prometheus, above=99)
    assert main(["--config", higher, "backtest", "--detector", "rh", *PERIOD]) == 0
    assert "1 removed" in capsys.readouterr().out


def test_source_replaces_the_detectors_own_source(
    tmp_path: Path, database: Any, database_url: str, prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, database_url, prometheus, source="down")
    assert main(["--config", config, "backtest", "--detector", "rh", *PERIOD]) == 1
    assert "vigil backtest: source 'down'" in capsys.readouterr().err  # nobody listens on port 9
    assert main(["--config", config, "backtest", "--detector", "rh", *PERIOD, "--source", "prom", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["added"] == 1


def test_the_console_command_runs_it_too(tmp_path: Path, database: Any, database_url: str, prometheus: str) -> None:
    config = _config(tmp_path, database_url, prometheus)
    done = subprocess.run(
        [sys.executable, "-m", "app", "--config", config, "backtest", "--detector", "rh", "--since", "2d", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["rehearsed"] == 1
