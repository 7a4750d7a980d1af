"""Executions through the real dispatcher run isolated; where they cannot, Vigil says so and refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from app import create_app
from app.automation import isolation
from app.automation.dispatch import Dispatcher
from remediations.backends.inline import InlineBackend
from tests.conftest import make_config
from tests.integration.automation.conftest import Automation
from tests.integration.dashboard.conftest import Web

SECRET = "vigil-admin-token-7d2e"


def isolated(auto: Automation, config: Any, tmp_path: Path) -> InlineBackend:
    """Run auto's executions as the scheduler does: through the launcher the config implies."""
    backend = InlineBackend(2, launcher=isolation.launcher(config))
    auto.backend.shutdown(wait=True)
    auto.backend, auto.config = backend, config
    auto.dispatcher = Dispatcher(
        auto.database, backend, config, holder="test", scripts_dir=tmp_path / "scripts", environ={}
    )
    return backend


def test_an_execution_cannot_read_vigils_secrets_or_database(database: Any, database_url: str, tmp_path: Path) -> None:
    db_file = tmp_path / "vigil.db"
    if not db_file.exists():  # PostgreSQL run: a stand-in file where SQLite's would be
        db_file.write_bytes(b"SQLite format 3\x00")
    vigil = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE,
        env={**os.environ, "VIGIL_SECRET_KEY": SECRET},
    )
    config = make_config(tmp_path, database_url, settings={"data_dir": str(tmp_path)})
    auto = Automation(database, tmp_path)
    backend = isolated(auto, config, tmp_path)
    try:
        auto.register(
            script=f"#!/bin/sh\nid -u\ncat /proc/{vigil.pid}/environ /proc/[0-9]*/environ\n"
            f"head -c 15 {db_file}\necho; echo x >> {db_file}\necho end\n"
        )
        auto.bind()
        auto.fire()
        [execution] = auto.wait_idle()
    finally:
        backend.shutdown(wait=True)
        vigil.communicate()
    assert execution.output.startswith("65534\n") and execution.output.endswith("end\n"), execution.output
    assert SECRET not in execution.output and "SQLite format" not in execution.output
    assert f"cannot open '{db_file}' for reading: No such file or directory" in execution.output


def test_ready_says_scripts_run_isolated(client: Any) -> None:
    body = client.get("/api/v1/ready").json

    assert body["isolation"]["isolated"] is True and body["isolation"]["scripts"] == "isolated"


def test_where_isolation_fails_ready_and_dashboard_say_so_and_executions_are_refused(
    database: Any, database_url: str, tmp_path: Path, tokens: dict[str, str]
) -> None:
    config = make_config(tmp_path, database_url, settings={"automation": {"run_as": "4294967295"}})
    app = create_app(config)
    app.config["TESTING"] = True
    auto = Automation(database, tmp_path)
    backend = isolated(auto, config, tmp_path)
    try:
        ready = app.test_client().get("/api/v1/ready").json["isolation"]
        page = Web(app.test_client(), tokens).login("viewer").get("/alerts").text
        auto.register(script="#!/bin/sh\necho ran\n")
        auto.bind()
        auto.fire()
        [execution] = auto.wait_idle()
    finally:
        backend.shutdown(wait=True)
        app.extensions["vigil.db"].dispose()
    assert ready["isolated"] is False and ready["scripts"] == "refused"
    assert 'id="isolation-banner"' in page and "allow_unisolated" in page
    assert execution.state == "error" and "allow_unisolated is false" in execution.output
