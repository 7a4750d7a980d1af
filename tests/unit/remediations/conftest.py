"""Fixtures for remediation tests; builders live in remediation_helpers.py beside this file."""

from __future__ import annotations

import stat
import sys
import textwrap
from pathlib import Path
from typing import Callable, Iterator

import pytest

from remediations.process.spawner import Spawner

# Importable under both pytest import modes (prepend and importlib).
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def script(tmp_path: Path) -> Callable[..., str]:
    """Write an executable script (dedented) into tmp_path and return its path."""
    count = 0

    def write(text: str, *, name: str | None = None) -> str:
        nonlocal count
        count += 1
        path = tmp_path / (name or f"script{count}")
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return str(path)

    return write


@pytest.fixture(scope="session")
def spawner() -> Iterator[Spawner]:
    """One Spawner (its servers start on first use) shared by the whole test session."""
    launcher = Spawner()
    yield launcher
    launcher.close()
