"""The scripts/output path on a full filesystem: a clear error on the execution, no crash loop."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.automation.conftest import Automation


@pytest.fixture
def full_dir(tmp_path: Path):
    path = tmp_path / "full"
    path.mkdir()
    # A tiny tmpfs, filled up: as real a full disk as a test can have (we run as root).
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(path)], check=True)
    try:
        (path / "filler").write_bytes(b"x" * 16 * 1024)
    except OSError:
        pass
    yield path
    subprocess.run(["umount", str(path)], check=False)


def test_a_full_disk_fails_the_run_with_a_clear_reason_and_the_next_runs_still_work(
    database, tmp_path: Path, full_dir: Path
) -> None:
    auto = Automation(database, tmp_path)
    try:
        auto.dispatcher.scripts_dir = full_dir / "scripts"
        auto.register()
        auto.bind(cooldown=0)
        auto.fire(0, labels={"instance": "a"})
        auto.fire(1, labels={"instance": "b"})  # the dispatcher keeps going: no exception escaped
        rows = auto.wait_idle()
        assert [r.state for r in rows] == ["error", "error"]
        assert "No space left on device" in rows[0].reason and str(full_dir) in rows[0].reason
        auto.dispatcher.scripts_dir = tmp_path / "scripts"  # space again
        auto.fire(2, labels={"instance": "c"})
        assert auto.wait_idle()[-1].state == "succeeded"
    finally:
        auto.backend.shutdown()
