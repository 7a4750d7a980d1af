"""Offline change-point quality: F1 (5-point margin) and cover on labelled synthetic series.

Compares `detectors.analysis.change_points` with its defaults against "no change" (only
index 0) and a binary segmentation with an MBIC-like penalty (ruptures' Binseg, L2 cost,
on the series standardised to mean 0 and standard deviation 1, penalty 3·log(n) per
change), the reference the TCPDBench paper found hard to beat. Cases and scorer:
tests/changepoint_cases.py (steps, trends, daily swings, outliers, variance changes,
autocorrelated noise; half of the kinds hold no change at all).

Run: .venv/bin/python bench/bench_changepoints.py [--per-kind 10] [--seed 2024] [--kinds]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.analysis import change_points  # noqa: E402
from tests.changepoint_cases import Case, binseg_mbic, cases, cover, f1_score  # noqa: E402

Method = Callable[[np.ndarray], list[int]]


def no_change(values: np.ndarray) -> list[int]:
    return []


METHODS: dict[str, Method] = {"defaults": change_points, "no change": no_change, "binseg/MBIC": binseg_mbic}


def score(method: Method, labelled: list[Case]) -> dict[str, dict[str, float]]:
    """Mean F1, precision, recall and cover per kind and overall ('all')."""
    rows: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    for case in labelled:
        found = method(case.values)
        f1, precision, recall = f1_score(case.changes, found)
        row = (f1, precision, recall, cover(case.changes, found, case.values.size))
        rows[case.name].append(row)
        rows["all"].append(row)
    return {kind: dict(zip(("f1", "precision", "recall", "cover"), np.mean(r, axis=0))) for kind, r in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=10, help="series per kind (12 kinds)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--kinds", action="store_true", help="also print F1 and cover per kind")
    args = parser.parse_args()
    labelled = list(cases(args.per_kind, args.seed))
    print(
        f"{len(labelled)} series, {sum(c.values.size for c in labelled):,} points, "
        f"{sum(len(c.changes) for c in labelled)} labelled changes"
    )
    print(f"{'method':<14} {'F1':>6} {'P':>6} {'R':>6} {'cover':>6} {'ms/series':>10}")
    scores = {}
    for name, method in METHODS.items():
        began = time.perf_counter()
        scores[name] = score(method, labelled)
        ms = 1000 * (time.perf_counter() - began) / len(labelled)
        s = scores[name]["all"]
        print(f"{name:<14} {s['f1']:6.3f} {s['precision']:6.3f} {s['recall']:6.3f} {s['cover']:6.3f} {ms:10.2f}")
    if args.kinds:
        print(f"\n{'kind':<14}" + "".join(f" {name:>22}" for name in METHODS))
        for kind in scores["defaults"]:
            cells = "".join(f"   F1 {scores[m][kind]['f1']:.2f} cover {scores[m][kind]['cover']:.2f}" for m in METHODS)
            print(f"{kind:<14}{cells}")


if __name__ == "__main__":
    main()
