"""The host source (psutil)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from config.schema import HostSource
from detectors.errors import SourceError
from detectors.sources import HostSampler, build_source
from detectors.sources.host import QUERIES

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def sampler(**kw) -> HostSampler:
    src = build_source(HostSource.model_validate({"type": "host", "name": "me", **kw}))
    assert isinstance(src, HostSampler)
    return src


@pytest.mark.parametrize("query", QUERIES)
def test_it_samples_each_metric_once_per_fetch(query):
    src = sampler()
    for i in range(3):
        [s] = src.fetch(query, start=T0, end=T0 + timedelta(seconds=i), step_s=1)
    assert s.labels == {"__name__": query} and s.points == 3
    assert (s.values >= 0).all()


def test_a_repeated_end_reuses_the_sample():
    src = sampler()
    src.fetch("load1", start=T0, end=T0, step_s=1)
    [s] = src.fetch("cpu_percent", start=T0, end=T0, step_s=1)
    assert s.points == 1


def test_the_window_is_bounded_by_keep_points():
    src = sampler(keep_points=10)
    for i in range(15):
        [s] = src.fetch("memory_percent", start=T0, end=T0 + timedelta(seconds=i), step_s=1)
    assert s.points == 10 and s.values.index[0] == T0 + timedelta(seconds=5)


def test_an_unknown_query_lists_the_valid_ones():
    with pytest.raises(SourceError, match="unknown query 'cpu'; valid: cpu_percent, memory_percent") as info:
        sampler().fetch("cpu", start=T0, end=T0, step_s=1)
    assert info.value.permanent


def test_a_missing_disk_path_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="cannot read disk_percent"):
        sampler(disk_path=str(tmp_path / "gone")).fetch("disk_percent", start=T0, end=T0, step_s=1)
