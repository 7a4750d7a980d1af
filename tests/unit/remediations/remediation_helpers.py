"""Helpers for remediation tests: request builder and process checks."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from remediations.runner import RunRequest

# The interpreter running the tests: a real python3 with an absolute path for shebangs.
PYTHON = sys.executable


def request(script_path: str, **overrides: Any) -> RunRequest:
    """A RunRequest with small defaults; pass only the fields a test is about."""
    fields: dict[str, Any] = {
        "execution_id": 1,
        "script_path": script_path,
        "params": {},
        "alert": None,
        "env": {},
        "timeout_s": 10,
        "kill_grace_s": 0.5,
    }
    fields.update(overrides)
    return RunRequest(**fields)


def alive(pid: int) -> bool:
    """True while `pid` runs; an unreaped zombie counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            data = stat_file.read()
    except FileNotFoundError:
        return False
    return data[data.rindex(b")") + 2 :][:1] not in (b"Z", b"X")


def read_pid(path: Path, *, timeout_s: float = 5.0) -> int:
    """Wait for a pid file written by a script and return the pid."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().strip())
        time.sleep(0.02)
    raise AssertionError(f"no pid in {path}")


def kill_quietly(pid: int) -> None:
    """Clean up a process a test started, if it is still there."""
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
