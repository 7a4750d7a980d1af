"""One real Prometheus holding two days of backfilled history, shared by the rehearsal tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.rehearsal import history


@pytest.fixture(scope="package")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(history.PROMTOOL).exists():
        pytest.skip("needs promtool")
    yield from history.serve(tmp_path_factory.mktemp("prom"))
