"""The CSV replay source: formats, windows and malformed files."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import numpy as np
import pytest

from config.schema import CsvSource
from detectors.errors import SourceError
from detectors.sources import CsvReplay, build_source

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
T9 = datetime(2030, 1, 1, tzinfo=timezone.utc)


def source_for(tmp_path, text: str) -> CsvReplay:
    path = tmp_path / "data.csv"
    path.write_text(text)
    src = build_source(CsvSource(type="csv", name="replay", path=str(path)))
    assert isinstance(src, CsvReplay)
    return src


def fetch_all(src: CsvReplay, query: str = "value"):
    return src.fetch(query, start=datetime(2000, 1, 1, tzinfo=timezone.utc), end=T9, step_s=1)


def test_it_reads_iso_timestamps_and_one_value_column(tmp_path):
    [s] = fetch_all(source_for(tmp_path, "timestamp,value\n2024-01-01T00:00:00Z,1\n2024-01-01T00:01:00+01:00,2\n"))
    assert s.labels == {} and s.values.tolist() == [2.0, 1.0]  # +01:00 is earlier in UTC: sorted
    assert str(s.values.index.tz) == "UTC"


def test_it_reads_unix_seconds_and_several_columns(tmp_path):
    src = source_for(tmp_path, "timestamp,api,db\n1704067200,1,10\n1704067260.5,2,\n")
    api, db = fetch_all(src)
    assert api.labels == {"series": "api"} and db.labels == {"series": "db"}
    assert api.values.index[1].timestamp() == 1704067260.5 and np.isnan(db.values.iloc[1])
    [only_db] = fetch_all(src, "db")
    assert only_db.labels == {"series": "db"}


def test_it_returns_only_points_in_the_window(tmp_path):
    src = source_for(tmp_path, "timestamp,value\n" + "".join(f"{1704067200 + 60 * i},{i}\n" for i in range(10)))
    start, end = datetime(2024, 1, 1, 0, 2, tzinfo=timezone.utc), datetime(2024, 1, 1, 0, 5, tzinfo=timezone.utc)
    [s] = src.fetch("value", start=start, end=end, step_s=60)
    assert s.values.tolist() == [2.0, 3.0, 4.0, 5.0]
    assert src.time_range() == (T0, datetime(2024, 1, 1, 0, 9, tzinfo=timezone.utc))


def test_a_fetch_returns_views_that_share_one_stamps_array(tmp_path):
    src = source_for(tmp_path, "timestamp,api,db\n" + "".join(f"{1704067200 + 60 * i},{i},{-i}\n" for i in range(10)))
    start, end = datetime(2024, 1, 1, 0, 2, tzinfo=timezone.utc), datetime(2024, 1, 1, 0, 5, 30, tzinfo=timezone.utc)
    api, db = src.fetch("", start=start, end=end, step_s=60)
    assert api.t_s is db.t_s and api.t_s.tolist() == [1704067320.0, 1704067380.0, 1704067440.0, 1704067500.0]
    assert db.v.tolist() == [-2.0, -3.0, -4.0, -5.0] and not db.v.flags.owndata  # a view of the cached table


def test_it_rereads_the_file_when_it_changes(tmp_path):
    src = source_for(tmp_path, "timestamp,value\n1704067200,1\n")
    assert fetch_all(src)[0].values.tolist() == [1.0]
    path = tmp_path / "data.csv"
    path.write_text("timestamp,value\n1704067200,1\n1704067260,2\n")
    os.utime(path, ns=(1, 2))  # a different mtime even on coarse clocks
    assert fetch_all(src)[0].values.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("time,value\n1,2\n", "expected a header 'timestamp,<value column>...', found time,value"),
        ("timestamp\n1\n", "found timestamp"),
        ("", "the file is empty"),
        (
            "timestamp,value\n2024-01-01T00:00:00Z,1\nyesterday,2\n",
            "line 3, column timestamp: expected an ISO-8601 time (as in the first row), got 'yesterday'",
        ),
        (
            "timestamp,value\n1704067200,1\n1704067260,1\n2024-01-01,2\n",
            "line 4, column timestamp: expected unix seconds (as in the first row), got '2024-01-01'",
        ),
        ("timestamp,cpu\n1704067200,1\n\n1704067260,high\n", "line 4, column cpu: expected a number, got 'high'"),
        ("timestamp,value\n1704067200,1\n1704067260,1,2,3\n", "Expected 2 fields in line 3, saw 4"),
    ],
)
def test_malformed_files_name_the_file_line_and_column(tmp_path, text, fragment):
    with pytest.raises(SourceError) as info:
        fetch_all(source_for(tmp_path, text))
    assert fragment in str(info.value)
    assert str(tmp_path / "data.csv") in str(info.value) and info.value.permanent


def test_a_missing_file_is_a_source_error(tmp_path):
    src = build_source(CsvSource(type="csv", name="replay", path=str(tmp_path / "nope.csv")))
    with pytest.raises(SourceError, match="cannot read .*nope.csv"):
        fetch_all(src)
