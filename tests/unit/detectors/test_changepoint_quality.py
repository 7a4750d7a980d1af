"""The change-point defaults against "no change" and binseg/MBIC on labelled series (tests/changepoint_cases.py)."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.analysis import change_points
from tests.changepoint_cases import binseg_mbic, cases, cover, f1_score

LABELLED = list(cases(per_kind=2, seed=7))


def scores(method) -> tuple[float, float]:
    rows = [
        (f1_score(c.changes, found := method(c.values))[0], cover(c.changes, found, c.values.size)) for c in LABELLED
    ]
    f1, cov = np.mean(rows, axis=0)
    return float(f1), float(cov)


def test_the_defaults_beat_no_change_and_binseg_mbic_on_f1_and_cover():
    ours = scores(change_points)
    none = scores(lambda v: [])
    reference = scores(binseg_mbic)
    assert ours[0] > max(none[0], reference[0]), (ours, none, reference)
    assert ours[1] > max(none[1], reference[1]), (ours, none, reference)


def test_series_without_a_change_are_almost_always_left_whole():
    quiet = [c for c in cases(per_kind=12, seed=11) if not c.changes and c.name != "variance"]
    whole = {c.name: 0 for c in quiet}
    for c in quiet:
        whole[c.name] += change_points(c.values) == []
    assert whole["trend"] == whole["outliers"] == whole["noise"] == 12, whole
    assert sum(whole.values()) >= 0.85 * len(quiet), whole  # daily swings on a trend are the hardest


def test_the_scorer_follows_the_tcpdbench_conventions():
    assert f1_score([], []) == (1.0, 1.0, 1.0)  # index 0 on both sides
    assert f1_score([100], []) == pytest.approx((2 / 3, 1.0, 0.5))
    assert f1_score([100], [104])[0] == 1.0 and f1_score([100], [106])[0] < 1.0
    assert f1_score([100], [98, 101])[1] == pytest.approx(2 / 3)  # one annotation matches one prediction
    assert cover([], [], 200) == 1.0
    assert cover([100], [], 200) == pytest.approx(0.5)  # each half overlaps the whole by 1/2
    assert cover([100], [100], 200) == 1.0
