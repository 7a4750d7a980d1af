"""Detection quality: backtest a detector over labelled series and score its alerts.

Run: .venv/bin/python bench/detection_quality.py [--data DIR] [--definition FILE.yaml]
                                                  [--window 7d] [--window-points 0]
                                                  [--interval step] [--jobs 1]

DIR holds `labels.json` ({"group/name.csv": [[start, end], ...]}, NAB's format) and the
CSV files it names (timestamp,value). Each series is replayed with `lifecycle.replay`
exactly as the scheduler would run the detector: every `interval` the analysis sees only
the trailing `window`, and an alert counts at the time of the run that raised it (its
`start`). The default definition is the default analysis (`auto`), a window of 7 days and
an interval of one step of the series (its median spacing: NAB's 5-minute files tick every
5 minutes); `--window` / `--interval` override the definition's. The window is what a user
writes (7 days: 168 points of an hourly series); `--window-points N` stretches it per series
to at least N steps (2,016 is 7 days of 5-minute points) for comparison. The replay starts
at each series' first point, as a job on a new metric would: the analysis warms up first.

Reports per series and overall: precision, recall and F1 of alerts against windows (a
window with an alert inside is a hit, an alert outside every window a false positive),
the mean detection delay as a fraction of the window, false alerts per series per week,
the warm-up (time until the analysis has `min_history` points), and the NAB score
(bench/nab_scoring.py; null detector 0, perfect 100), summed over the corpus before
normalising as NAB does. Development data: ../shared/data/nab (NAB realKnownCause and
realAWSCloudwatch, 24 series).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.nab_scoring import PROFILES, NabScore, WindowMatch, match_windows, nab_score  # noqa: E402
from config.schema import CsvSource, DetectorConfig  # noqa: E402
from config.units import parse_duration  # noqa: E402
from detectors import lifecycle  # noqa: E402
from detectors.sources import build_source  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "nab"
WINDOW_POINTS = 0
"""The window is at least this many steps of each series (0: the window as written)."""
DEFAULT_DEFINITION: dict[str, Any] = {
    "name": "quality",
    "source": "bench",
    "query": "value",
    "window": "7d",
    "analysis": {"type": "auto"},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with labels.json and the CSVs")
    parser.add_argument("--definition", type=Path, help="YAML detector definition (default: analysis auto)")
    parser.add_argument("--window", help="override the definition's window (e.g. 7d)")
    parser.add_argument(
        "--interval", default="step", help="'step' (each series' median spacing, the default) or a duration"
    )
    parser.add_argument(
        "--window-points",
        type=int,
        default=WINDOW_POINTS,
        help="the window is at least this many steps of each series (0: as given)",
    )
    parser.add_argument("--group", help="only series whose key starts with this (e.g. realKnownCause)")
    parser.add_argument("--jobs", type=int, default=1, help="series replayed in parallel")
    parser.add_argument("--json", action="store_true", help="print the table as JSON lines too")
    args = parser.parse_args(argv)
    labels = json.loads((args.data / "labels.json").read_text(encoding="utf-8"))
    keys = sorted(k for k in labels if (args.data / k).exists() and (not args.group or k.startswith(args.group)))
    if not keys:
        print(f"detection_quality: no labelled CSV under {args.data}", file=sys.stderr)
        return 1
    raw = _definition(args)
    began = time.perf_counter()
    jobs = [(str(args.data / k), labels[k], raw, args.interval, args.window_points) for k in keys]
    with ProcessPoolExecutor(max_workers=args.jobs) if args.jobs > 1 else _Serial() as pool:
        results = list(pool.map(_one, jobs))
    _report(keys, results, raw, time.perf_counter() - began, args.json, args.window_points)
    return 0


def _definition(args: argparse.Namespace) -> dict[str, Any]:
    raw = dict(DEFAULT_DEFINITION)
    if args.definition:
        raw = yaml.safe_load(args.definition.read_text(encoding="utf-8"))
        raw.setdefault("source", "bench")
        raw.setdefault("query", "value")
    if args.window:
        raw["window"] = args.window
    return raw


def _one(job: tuple[str, list[list[str]], dict[str, Any], str, int]) -> dict[str, Any]:
    """Replay one CSV and score it (in a worker process when --jobs > 1)."""
    path, windows, raw, interval, window_points = job
    source = build_source(CsvSource(type="csv", name="bench", path=path))
    span = source.time_range()  # type: ignore[attr-defined]
    t_s = pd.to_datetime(pd.read_csv(path, usecols=[0]).iloc[:, 0], utc=True).to_numpy("datetime64[us]")
    t_s = t_s.astype(np.int64) / 1e6
    step_s = float(np.median(np.diff(t_s)))
    spec = dict(raw)
    spec["interval"] = step_s if interval == "step" else parse_duration(interval)
    spec["window"] = max(DetectorConfig.model_validate(spec).window, window_points * step_s)
    definition = DetectorConfig.model_validate(spec)
    began = time.perf_counter()
    alerts = lifecycle.replay(definition, source, start=span[0], end=span[1])
    seconds = time.perf_counter() - began
    at = [datetime.fromisoformat(a["start"]).timestamp() for a in alerts]
    wins = [(_unix(a), _unix(b)) for a, b in windows]
    need = max(getattr(definition.analysis, "min_history", 1), 8)
    warm_s = float(t_s[min(need, t_s.size) - 1] - t_s[0])
    return {
        "nab": {name: nab_score(t_s, wins, at, profile=p) for name, p in PROFILES.items()},
        "match": match_windows(wins, at),
        "points": int(t_s.size),
        "step_s": step_s,
        "warm_s": warm_s,
        "weeks": float(t_s[-1] - t_s[0]) / 604800.0,
        "ticks": int((span[1] - span[0]).total_seconds() // definition.interval),
        "seconds": seconds,
    }


def _unix(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def _report(
    keys: list[str],
    results: list[dict[str, Any]],
    raw: dict[str, Any],
    seconds: float,
    as_json: bool,
    window_points: int,
) -> None:
    print(
        f"definition: {json.dumps(raw)}; interval: one step of each series unless given; "
        f"window: at least {window_points} steps"
    )
    head = (
        f"{'series':44} {'points':>7} {'NAB std':>8} {'low FP':>7} {'low FN':>7} {'P':>5} {'R':>5} {'F1':>5} "
        f"{'hits':>5} {'FP':>4} {'FP/wk':>5} {'warm':>6} {'delay':>6} {'s':>6}"
    )
    print(head)
    total = {name: NabScore(0, 0, 0) for name in PROFILES}
    match = WindowMatch(0, 0, 0, 0)
    for key, r in zip(keys, results):
        for name in PROFILES:
            total[name] = total[name] + r["nab"][name]
        match = match + r["match"]
        print(
            _row(
                key,
                r["points"],
                {n: s.normalised for n, s in r["nab"].items()},
                r["match"],
                r["seconds"],
                r["weeks"],
                r["warm_s"],
            )
        )
        if as_json:
            print(json.dumps(_as_dict(key, r["nab"], r["match"])))
    print(
        _row(
            "overall",
            sum(r["points"] for r in results),
            {n: s.normalised for n, s in total.items()},
            match,
            seconds,
            sum(r["weeks"] for r in results),
            None,
        )
    )
    if as_json:
        print(json.dumps(_as_dict("overall", total, match)))


def _row(
    key: str, points: int, nab: dict[str, float], m: WindowMatch, seconds: float, weeks: float, warm_s: float | None
) -> str:
    """One table line; FP/wk is false alerts per series per week (what an on-call feels), warm the
    time from a series' first point until the analysis has `min_history` points (h)."""
    delay = f"{m.mean_delay:.2f}" if m.mean_delay is not None else "-"
    warm = f"{warm_s / 3600:.1f}h" if warm_s is not None else "-"
    per_week = m.false_positives / weeks if weeks > 0 else 0.0
    return (
        f"{key[-44:]:44} {points:7d} {nab['standard']:8.1f} {nab['reward_low_fp_rate']:7.1f} "
        f"{nab['reward_low_fn_rate']:7.1f} {m.precision:5.2f} {m.recall:5.2f} {m.f1:5.2f} "
        f"{m.hits:2d}/{m.windows:<2d} {m.false_positives:4d} {per_week:5.2f} {warm:>6} {delay:>6} {seconds:6.1f}"
    )


def _as_dict(key: str, nab: dict[str, NabScore], m: WindowMatch) -> dict[str, Any]:
    return {
        "series": key,
        **{f"nab_{n}": round(s.normalised, 2) for n, s in nab.items()},
        "precision": round(m.precision, 3),
        "recall": round(m.recall, 3),
        "f1": round(m.f1, 3),
        "hits": m.hits,
        "windows": m.windows,
        "false_positives": m.false_positives,
        "mean_delay": m.mean_delay,
    }


class _Serial:
    """ProcessPoolExecutor's map, in this process (--jobs 1)."""

    def __enter__(self) -> "_Serial":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Any, items: Any) -> Any:
        return map(fn, items)


if __name__ == "__main__":
    sys.exit(main())
