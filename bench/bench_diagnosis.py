"""Diagnosis: speed of the batch change-point ranking and its quality on synthetic incidents.

Speed: 5,000 series x 360 points analysed and ranked (fetch excluded), best of --repeat
runs, wall and CPU time on one core (numpy is kept single-threaded).
Quality: --incidents random incidents from tests/diagnosis_cases.py (2,000 signals: 3
causes stepping 1-20 minutes before the alert, 20 consequences 1-10 minutes after it,
5% unrelated shifts 50-70 minutes before it, all on noise, daily swings, trends, spikes
and random walks); per incident the ranks of the 3 causes in the diagnosis. Reports
recall@3 and recall@5 (share of causes ranked that high), MRR (mean over incidents of
1 / the best cause's rank) and the share of incidents with all 3 causes in the top 5
(target >= 90%). --hard uses 3-8 sigma causes instead of 4-10.

Run: OMP_NUM_THREADS=1 .venv/bin/python bench/bench_diagnosis.py [--incidents 100] [--seed 16] [--hard]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.diagnosis import diagnose  # noqa: E402
from tests.diagnosis_cases import incident, ranks  # noqa: E402


def speed(seed: int, repeat: int) -> tuple[float, float]:
    """(best wall s, its CPU s) to rank 5,000 x 360."""
    rng = np.random.default_rng(seed)
    inc = incident(rng, signals=5000, points=360)
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        diagnose(inc.values, inc.t_s, inc.labels, start_s=inc.start_s, direction=1)
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def quality(seed: int, incidents: int, cause_sigmas: tuple[float, float]) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    at3 = at5 = all5 = 0
    mrr = 0.0
    for _ in range(incidents):
        inc = incident(rng, cause_sigmas=cause_sigmas)
        result = diagnose(inc.values, inc.t_s, inc.labels, start_s=inc.start_s, direction=1, top=50)
        found = ranks([s.row for s in result.suspects], inc.causes)
        at3 += sum(1 for r in found if r is not None and r <= 3)
        at5 += sum(1 for r in found if r is not None and r <= 5)
        all5 += all(r is not None and r <= 5 for r in found)
        best = min((r for r in found if r is not None), default=None)
        mrr += 1.0 / best if best else 0.0
    causes = 3 * incidents
    return {"recall@3": at3 / causes, "recall@5": at5 / causes, "mrr": mrr / incidents, "all3_top5": all5 / incidents}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hard", action="store_true", help="causes of 3-8 sigmas instead of 4-10")
    args = parser.parse_args()
    wall, cpu = speed(args.seed, args.repeat)
    print(f"speed: 5000 series x 360 points ranked in {wall:.3f} s wall, {cpu:.3f} s CPU (target <= 2 s)")
    sigmas = (3.0, 8.0) if args.hard else (4.0, 10.0)
    q = quality(args.seed, args.incidents, sigmas)
    print(f"quality over {args.incidents} incidents (causes {sigmas[0]:g}-{sigmas[1]:g} sigma): "
          f"recall@3 {q['recall@3']:.3f}  recall@5 {q['recall@5']:.3f}  MRR {q['mrr']:.3f}  "
          f"all 3 causes in top 5: {q['all3_top5']:.0%} (target >= 90%)")


if __name__ == "__main__":
    main()
