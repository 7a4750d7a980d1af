"""Remediation scripts read the alert's diagnosis from VIGIL_DIAGNOSIS_FILE, isolated or not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.alerts.models import Alert
from app.diagnostics.models import Diagnosis
from tests.conftest import make_config
from tests.integration.automation.conftest import Automation
from tests.integration.automation.test_isolation import isolated

SCRIPT = '#!/bin/sh\necho "file=${VIGIL_DIAGNOSIS_FILE:-none}"\ncat "$VIGIL_DIAGNOSIS_FILE" 2>/dev/null\necho\n'
SUSPECT = {"labels": {"__name__": "pool_waiting", "instance": "db-1"}, "lead_s": 300.0, "score": 1.5}


def _diagnose(auto: Automation) -> None:
    """A finished diagnosis of the open alert, as the diagnosis thread stores it."""
    with auto.database.write() as session:
        alert = session.scalars(select(Alert)).one()
        session.add(
            Diagnosis(
                alert_id=alert.id,
                state="done",
                requested_at=auto.t0,
                requested_by="system",
                not_before=auto.t0,
                signals=300,
                analysed=300,
                changed=4,
                result={"window": {"step_s": 6.0}, "suspects": [SUSPECT]},
            )
        )


def _run(auto: Automation, diagnosed: bool) -> str:
    auto.register(script=SCRIPT)
    auto.bind()
    assert auto.decide() == 1
    if diagnosed:
        _diagnose(auto)
    auto.dispatcher.dispatch()
    [execution] = auto.wait_idle()
    return execution.output


def test_a_script_reads_the_diagnosis_from_its_work_dir(database: Any, tmp_path: Path) -> None:
    auto = Automation(database, tmp_path)
    try:
        output = _run(auto, diagnosed=True)
    finally:
        auto.backend.shutdown(wait=True)
    first, body = output.split("\n", 1)
    assert first.startswith("file=") and first.endswith("/diagnosis.json")
    assert json.loads(body)["suspects"] == [SUSPECT]


def test_without_a_diagnosis_there_is_no_variable(database: Any, tmp_path: Path) -> None:
    auto = Automation(database, tmp_path)
    try:
        assert _run(auto, diagnosed=False).startswith("file=none\n")
    finally:
        auto.backend.shutdown(wait=True)


def test_an_isolated_script_reads_it_too(database: Any, database_url: str, tmp_path: Path) -> None:
    config = make_config(tmp_path, database_url, settings={"data_dir": str(tmp_path / "data")})
    auto = Automation(database, tmp_path)
    backend = isolated(auto, config, tmp_path)
    try:
        output = _run(auto, diagnosed=True)
    finally:
        backend.shutdown(wait=True)
    if "isolat" in output and "refused" in output:
        pytest.skip(f"scripts cannot be isolated here: {output[:200]}")
    assert json.loads(output.split("\n", 1)[1])["suspects"] == [SUSPECT], output
