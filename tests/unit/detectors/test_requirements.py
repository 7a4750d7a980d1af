"""Warnings for windows too short for their analysis (check-config and the detectors API show them)."""

from __future__ import annotations

from config.schema import DetectorConfig
from detectors.requirements import warnings, window_points


def detector(window: str, analysis: dict, **kw: object) -> DetectorConfig:
    return DetectorConfig.model_validate(
        {"name": "d", "source": "s", "query": "q", "window": window, "analysis": analysis, **kw}
    )


def test_a_window_that_holds_what_the_analysis_needs_gives_no_warning() -> None:
    d = detector("2d", {"type": "auto", "slow_points": 100}, step="5m")
    assert window_points(d) == 576
    assert warnings(d) == []


def test_it_says_when_min_history_is_more_than_the_window_holds() -> None:
    [w] = warnings(detector("10m", {"type": "zscore", "min_history": 300}))
    assert "min_history needs 300 points" in w and "holds 240 points" in w and "never leaves warm-up" in w


def test_it_says_when_auto_cannot_get_enough_signals_to_agree() -> None:
    found = warnings(detector("1h", {"type": "auto", "agree": 5, "direction": "up", "slow_points": 0}, step="1m"))
    assert any("agree asks 5 signals" in w and "never fires" in w for w in found)


def test_it_names_the_window_and_step_it_measured() -> None:
    [w] = warnings(detector("1d", {"type": "auto", "slow_points": 576}, step="5m"))
    assert "slow_points needs 576 points" in w and "(1d at a 5m step) holds 288 points" in w
