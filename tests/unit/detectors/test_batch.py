"""The matrix path (evaluate_all) against the per-series path (evaluate), on messy data."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from config.schema import DetectorConfig
from detectors.analysis.batch import MIN_BATCH, align, evaluate_all
from detectors.analysis.evaluate import evaluate
from detectors.findings import LazyEvidence
from detectors.series import LabelledSeries
from detectors.sources.promjson import decode

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def analysis(spec: dict):
    return DetectorConfig.model_validate({"name": "d", "source": "s", "query": "q", "analysis": spec}).analysis


def messy_series(rng: np.random.Generator, n_series: int, n_points: int, offset_s: float) -> list[LabelledSeries]:
    """Series on one 15 s grid, most sharing its stamps array, some with gaps, NaN, off-grid or no points."""
    stamps = T0.timestamp() + offset_s + 15.0 * np.arange(n_points)
    grid = LabelledSeries.from_arrays({}, stamps, np.zeros(n_points)).t_s
    out = []
    for i in range(n_series):
        v = 90 + rng.normal(0, 3, n_points).cumsum() * 0.5
        kind = rng.integers(0, 8)
        labels = {"__name__": "cpu", "i": str(i)} if i % 3 else {"i": str(i)}
        if kind <= 2:  # on the grid, sharing its array as a decoded answer does
            out.append(LabelledSeries(labels, grid, v))
            continue
        keep = np.ones(n_points, bool)
        if kind == 3:
            keep &= rng.random(n_points) > 0.2  # scattered gaps
        elif kind == 4:
            keep[: rng.integers(1, n_points)] = False  # started late
        elif kind == 5:
            keep[rng.integers(1, n_points) :] = False  # stopped early
        elif kind == 6:
            v[rng.random(n_points) < 0.1] = np.nan  # NaN values, no gaps, an equal but unshared array
        else:
            keep[:] = rng.random() < 0.5  # nothing at all, or a copy
        t = grid[keep].copy()
        if kind == 3 and rng.random() < 0.3:
            t = np.append(t, t[-1] + 7.5) if t.size else t  # an off-grid point
            v = np.append(v[keep], v[-1])
            out.append(LabelledSeries.from_arrays(labels, t, v))
            continue
        out.append(LabelledSeries(labels, t, v[keep].copy()))
    return out


def threshold_spec(rng: np.random.Generator) -> dict:
    spec: dict = {
        "type": "threshold",
        "for": float(rng.integers(0, 8)) * 15,
        "clear_after": float(rng.integers(0, 5)) * 15,
        "hysteresis": float(rng.uniform(0, 2)),
    }
    if rng.random() < 0.8:
        spec["above"] = 90.0 + float(rng.normal(0, 2))
    if "above" not in spec or rng.random() < 0.3:
        spec["below"] = 80.0 + float(rng.normal(0, 2))
    return spec


def both_ways(series, spec, now):
    a = analysis(spec)
    batch = [f.to_dict() for f in evaluate_all(series, a, now=now, name="q")]
    each = [evaluate(s, a, now=now, name="q").to_dict() for s in series]
    return batch, each


@pytest.mark.parametrize("seed", range(60))
def test_the_matrix_path_gives_the_same_threshold_findings_as_series_by_series(seed):
    rng = np.random.default_rng(seed)
    n_points = int(rng.integers(2, 120))
    series = messy_series(rng, int(rng.integers(MIN_BATCH, 40)), n_points, offset_s=0.123 if seed % 2 else 0.0)
    now = T0 + timedelta(seconds=15.0 * float(rng.integers(n_points // 2, n_points + 2)) + 0.5)
    batch, each = both_ways(series, threshold_spec(rng), now)
    assert batch == each


@pytest.mark.parametrize("seed", range(40))
def test_the_matrix_path_gives_the_same_zscore_findings_as_series_by_series(seed):
    rng = np.random.default_rng(1000 + seed)
    n_points = int(rng.integers(20, 200))
    series = messy_series(rng, int(rng.integers(MIN_BATCH, 30)), n_points, offset_s=0.0)
    now = T0 + timedelta(seconds=15.0 * (n_points - 1))
    spec = {
        "type": "zscore",
        "threshold": float(rng.uniform(1.5, 4)),
        "window_points": int(rng.integers(5, 60)),
        "min_history": int(rng.integers(5, 40)),
        "direction": str(rng.choice(["up", "down", "both"])),
    }
    batch, each = both_ways(series, spec, now)
    assert batch == each


def test_the_random_cases_reach_every_state():
    seen = set()
    for seed in range(60):
        rng = np.random.default_rng(seed)
        n_points = int(rng.integers(2, 120))
        series = messy_series(rng, int(rng.integers(MIN_BATCH, 40)), n_points, offset_s=0.0)
        now = T0 + timedelta(seconds=15.0 * n_points)
        seen |= {f["state"] for f in both_ways(series, threshold_spec(rng), now)[0]}
    assert seen == {"ok", "pending", "firing"}


def test_align_puts_gaps_as_nan_on_the_union_of_stamps():
    grid = np.array([0.0, 15.0, 30.0, 45.0])
    a = LabelledSeries({"i": "a"}, grid, np.array([1.0, 2.0, 3.0, 4.0]))
    b = LabelledSeries({"i": "b"}, grid[[0, 2]], np.array([5.0, 6.0]))
    c = LabelledSeries({"i": "c"}, np.array([7.5]), np.array([9.0]))
    aligned = align([a, b, c], now_s=40.0)
    assert aligned.t_s.tolist() == [0.0, 7.5, 15.0, 30.0]
    assert np.array_equal(
        aligned.values, [[1, np.nan, 2, 3], [5, np.nan, np.nan, 6], [np.nan, 9, np.nan, np.nan]], equal_nan=True
    )
    assert aligned.full.tolist() == [False, False, False]


def test_a_decoded_answer_shares_one_stamps_array_between_full_series():
    body = json.dumps(
        {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [
                    {"metric": {"i": "a"}, "values": [[1704067200.5, "1"], [1704067215.5, "NaN"]]},
                    {"metric": {"i": "b"}, "values": [[1704067200.5, "+Inf"], [1704067215.5, "2"]]},
                    {"metric": {"i": "c"}, "values": [[1704067200.5, "3"], [1704067230.5, "4"]]},
                ],
            },
        }
    )
    a, b, c = decode(body, source="p", endpoint="query_range", max_series=10)
    assert a.t_s is b.t_s and c.t_s is not a.t_s
    assert np.isnan(a.v[1]) and b.v[0] == np.inf and c.t_s.tolist() == [1704067200.5, 1704067230.5]
    assert a.values.index[0].timestamp() == 1704067200.5


def test_evidence_is_built_once_when_read_and_pickles_as_a_dict():
    calls = []
    evidence = LazyEvidence(lambda: calls.append(1) or {"t": [1.0], "v": [None]})
    assert calls == []
    assert evidence["t"] == [1.0] and dict(evidence)["t"] == [1.0] and len(evidence) == 2
    assert calls == [1]
    copy = pickle.loads(pickle.dumps(evidence))
    assert type(copy) is dict and copy == {"t": [1.0], "v": [None]}


def test_findings_carry_lazy_evidence_that_to_dict_makes_json_safe():
    s = LabelledSeries.from_arrays({}, [0.0, 15.0, 30.0], [50.0, float("nan"), 95.0])
    f = evaluate(s, analysis({"type": "threshold", "above": 90}), now=T0)
    assert isinstance(f.evidence, LazyEvidence)
    assert f.to_dict()["evidence"] == {
        "t": [0.0, 15.0, 30.0],
        "v": [50.0, None, 95.0],
        "above": 90.0,
        "below": None,
        "hysteresis": 0.0,
    }
