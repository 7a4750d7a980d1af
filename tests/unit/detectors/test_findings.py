"""Finding serialisation and message formatting."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from detectors.findings import Finding, format_duration, format_value


def test_to_dict_is_json_safe():
    at = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    f = Finding(
        "changepoint",
        {"job": "api"},
        "firing",
        value=float("nan"),
        threshold=float("inf"),
        change_points=[at],
        before=1.0,
        after=2.0,
        active_since=at,
        message="m",
        evidence={"v": [1.0, float("nan")], "when": at},
    )
    d = f.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["value"] is None and d["threshold"] is None
    assert d["change_points"] == ["2024-01-01T12:00:00+00:00"] and d["evidence"]["v"] == [1.0, None]


def test_durations_read_like_people_write_them():
    assert [format_duration(s) for s in (0, 45, 120, 150, 3900, 90000)] == ["0s", "45s", "2m", "2m30s", "1h5m", "1d1h"]


def test_values_are_compact():
    assert [format_value(v) for v in (97.2, 90.0, 0.001234, 1.5e9, None)] == [
        "97.2",
        "90",
        "0.001234",
        "1.5e+09",
        "no value",
    ]
