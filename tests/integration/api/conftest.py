"""Hypothesis and schemathesis (test_fuzz.py) keep caches in the working directory
(.hypothesis/, .schemathesis/); Hypothesis writes its own while tests are collected. Both go
to a temporary directory instead, removed when the session ends."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import configuration as hypothesis_configuration
from schemathesis.core import storage as schemathesis_storage


def pytest_configure(config: pytest.Config) -> None:
    home = Path(tempfile.mkdtemp(prefix="vigil-fuzz-"))
    hypothesis_configuration.set_hypothesis_home_dir(home / ".hypothesis")
    schemathesis_storage.DEFAULT_ROOT = home / ".schemathesis"
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))
