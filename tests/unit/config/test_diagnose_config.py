"""A detector's `diagnose:` block: defaults, and errors that name the key path."""

from __future__ import annotations

from typing import Any

import pytest

from config.errors import ConfigError
from config.loader import from_dict


def _config(diagnose: dict[str, Any], source: str = "h") -> dict[str, Any]:
    return {
        "sources": [
            {"name": "h", "type": "host"},
            {"name": "p", "type": "prometheus", "url": "http://127.0.0.1:9090"},
            {"name": "s", "type": "scrape", "url": "http://127.0.0.1:9100/metrics"},
        ],
        "detectors": [
            {
                "name": "d",
                "source": source,
                "query": "cpu_percent",
                "analysis": {"type": "threshold", "above": 1},
                "diagnose": diagnose,
            }
        ],
    }


def test_it_fills_defaults_and_reads_durations() -> None:
    d = from_dict(_config({"after": "2m"}), {}).detectors[0].diagnose
    assert d is not None and (d.source, d.queries, d.lookback, d.after, d.max_signals) == (None, [], 1800, 120, 5000)


def test_it_accepts_prometheus_queries() -> None:
    d = from_dict(_config({"source": "p", "queries": ['{job="api"}']}), {}).detectors[0].diagnose
    assert d is not None and d.queries == ['{job="api"}']


def test_a_scrape_source_needs_no_queries_every_series_is_diagnosed() -> None:
    d = from_dict(_config({"source": "s"}), {}).detectors[0].diagnose
    assert d is not None and d.queries == []


@pytest.mark.parametrize(
    "diagnose, message",
    [
        ({"source": "nope"}, r"detectors\[0\]\.diagnose\.source: unknown source 'nope'"),
        ({"source": "p"}, r"detectors\[0\]\.diagnose\.queries: a prometheus source needs at least one query"),
        ({"lookback": "10s"}, r"detectors\[0\]\.diagnose: lookback must be at least 1m"),
        ({"max_signals": 0}, r"detectors\[0\]\.diagnose\.max_signals"),
        ({"queries": [" "]}, r"detectors\[0\]\.diagnose: queries: a query must not be empty"),
        ({"lookbak": "5m"}, r"detectors\[0\]\.diagnose\.lookbak: unknown key"),
    ],
)
def test_it_rejects_bad_blocks_naming_the_key_path(diagnose: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(_config(diagnose), {})
