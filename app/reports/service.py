"""The numbers of the reports page and GET /api/v1/reports, aggregated in SQL.

Two grouped queries per report: alerts by (time bucket, detector, severity) with their
acknowledge and resolve durations summed, and finished remediation runs by (time bucket,
remediation, state, outcome). Everything else (per-severity series, top detectors, rates)
is rolled up in Python from at most a few thousand grouped rows, whatever the alert count.

Alert times count from `started_at` (the alert's first pending or firing evaluation):
time to acknowledge is acked_at - started_at, time to resolve resolved_at - started_at.
Remediation verdicts are the stored ones (app.automation.effectiveness decides them).
"""

from __future__ import annotations

import time
import weakref
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.automation.effectiveness import OUTCOMES
from app.automation.models import Execution
from app.db import Database, iso
from app.reports.sqltime import bucket_start, seconds_between
from config.vocabulary import SEVERITIES as VOCABULARY_SEVERITIES

# name -> (span, bucket width) in seconds: at most 90 buckets per chart.
RANGES = {"24h": (86400, 3600), "7d": (7 * 86400, 6 * 3600), "30d": (30 * 86400, 86400), "90d": (90 * 86400, 86400)}
DEFAULT_RANGE = "7d"
SEVERITIES = VOCABULARY_SEVERITIES[::-1]  # worst first, as the charts stack them
# A run that reached its script and ended, as service.stats counts runs.
FINISHED = ("succeeded", "failed", "timed_out", "error", "interrupted")
TOP_DETECTOR_SERIES = 6  # the rest of the detectors chart as one "other" line
# Daily buckets over 30 or 90 days read up to a quarter of a 1M-alert table (about a second
# on SQLite, bench/bench_reports.py); within a minute the page and the API reuse the answer.
CACHED_RANGES, CACHE_TTL_S = ("30d", "90d"), 60.0
_cache: weakref.WeakKeyDictionary[Database, dict[str, tuple[float, dict[str, Any]]]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Period:
    """The span a report covers, cut into buckets of bucket_s seconds."""

    name: str
    since: datetime
    until: datetime
    bucket_s: int

    @property
    def buckets(self) -> list[int]:
        start = int(self.since.timestamp())
        return list(range(start, int(self.until.timestamp()), self.bucket_s))


def period(name: str, now: datetime) -> Period:
    """The last `name` of time, on bucket boundaries (the newest bucket is still filling)."""
    span_s, bucket_s = RANGES[name]
    end = (int(now.timestamp()) // bucket_s + 1) * bucket_s
    until = datetime.fromtimestamp(end, timezone.utc)
    return Period(name, until - timedelta(seconds=span_s), until, bucket_s)


def cached_report(database: Database, name: str, now: datetime) -> dict[str, Any]:
    """report() for the last `name`, reused for CACHE_TTL_S by this process for long periods."""
    entries = _cache.setdefault(database, {})
    hit = entries.get(name)
    if name in CACHED_RANGES and hit and time.monotonic() - hit[0] < CACHE_TTL_S:
        return hit[1]
    with database.read() as session:
        answer = {**report(session, period(name, now)), "computed_at": iso(now)}
    if name in CACHED_RANGES:
        entries[name] = (time.monotonic(), answer)
    return answer


def report(session: Session, p: Period) -> dict[str, Any]:
    """Alert volume, response times, top detectors and remediation results for the period."""
    alerts = _alert_rows(session, p)
    runs = _run_rows(session, p)
    return {
        "range": p.name,
        "since": iso(p.since),
        "until": iso(p.until),
        "bucket_s": p.bucket_s,
        "t": p.buckets,
        "alerts": _alert_series(alerts, p),
        "detectors": detector_table(alerts),
        "remediations": _run_series(runs, p),
        "remediation_table": remediation_table(runs),
    }


def _alert_rows(session: Session, p: Period) -> list[tuple[int, str, str, int, int, float, int, float]]:
    bucket = bucket_start(Alert.started_at, p.bucket_s)
    ack_s = seconds_between(Alert.acked_at, Alert.started_at)
    resolve_s = seconds_between(Alert.resolved_at, Alert.started_at)
    stmt = (
        select(
            bucket,
            Alert.detector,
            Alert.severity,
            func.count(),
            func.count(Alert.acked_at),
            func.coalesce(func.sum(ack_s), 0.0),
            func.count(Alert.resolved_at),
            func.coalesce(func.sum(resolve_s), 0.0),
        )
        .where(Alert.started_at >= p.since, Alert.started_at < p.until)
        .group_by(bucket, Alert.detector, Alert.severity)
    )
    return [
        (int(b), d, s, int(n), int(na), float(sa), int(nr), float(sr))
        for b, d, s, n, na, sa, nr, sr in session.execute(stmt)
    ]


def _run_rows(session: Session, p: Period) -> list[tuple[int, str, str, str | None, int]]:
    bucket = bucket_start(Execution.finished_at, p.bucket_s)
    stmt = (
        select(bucket, Execution.remediation, Execution.state, Execution.outcome, func.count())
        .where(
            Execution.finished_at >= p.since,
            Execution.finished_at < p.until,
            Execution.state.in_(FINISHED),
            Execution.trigger != "diagnostic",
        )  # diagnostics fix nothing
        .group_by(bucket, Execution.remediation, Execution.state, Execution.outcome)
    )
    return [(int(b), r, s, o, int(n)) for b, r, s, o, n in session.execute(stmt)]


def _mean(total: float, count: int) -> float | None:
    return round(total / count, 1) if count else None


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _alert_series(rows: list[tuple[int, str, str, int, int, float, int, float]], p: Period) -> dict[str, Any]:
    index = {t: i for i, t in enumerate(p.buckets)}
    size = len(index)
    by_severity = {s: [0] * size for s in SEVERITIES}
    by_detector: dict[str, list[int]] = defaultdict(lambda: [0] * size)
    sums = [[0, 0.0, 0, 0.0] for _ in range(size)]  # acked, ack seconds, resolved, resolve seconds
    for t, detector, severity, n, acked, ack_s, resolved, resolve_s in rows:
        i = index.get(t)
        if i is None:
            continue
        by_severity.setdefault(severity, [0] * size)[i] += n
        by_detector[detector][i] += n
        cell = sums[i]
        cell[0] += acked
        cell[1] += ack_s
        cell[2] += resolved
        cell[3] += resolve_s  # noqa: E702
    acked, ack_s = sum(int(c[0]) for c in sums), sum(c[1] for c in sums)
    resolved, resolve_s = sum(int(c[2]) for c in sums), sum(c[3] for c in sums)
    return {
        "total": sum(sum(v) for v in by_severity.values()),
        "by_severity": by_severity,
        "by_detector": _top_series(by_detector, size),
        "acked": acked,
        "resolved": resolved,
        "mtta_s": _mean(ack_s, acked),
        "mttr_s": _mean(resolve_s, resolved),
        "mtta_series": [_mean(c[1], int(c[0])) for c in sums],
        "mttr_series": [_mean(c[3], int(c[2])) for c in sums],
    }


def _top_series(by_detector: dict[str, list[int]], size: int) -> dict[str, list[int]]:
    ranked = sorted(by_detector.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    top = dict(ranked[:TOP_DETECTOR_SERIES])
    rest = ranked[TOP_DETECTOR_SERIES:]
    if rest:
        top["other"] = [sum(series[i] for _name, series in rest) for i in range(size)]
    return top


def detector_table(rows: list[tuple[int, str, str, int, int, float, int, float]]) -> list[dict[str, Any]]:
    """Detectors by alerts raised, noisiest first, with their share and response times."""
    acc: dict[str, dict[str, Any]] = {}
    for _t, detector, severity, n, acked, ack_s, resolved, resolve_s in rows:
        d = acc.setdefault(
            detector,
            {
                "detector": detector,
                "alerts": 0,
                "critical": 0,
                "warning": 0,
                "info": 0,
                "acked": 0,
                "_ack_s": 0.0,
                "resolved": 0,
                "_resolve_s": 0.0,
            },
        )
        d["alerts"] += n
        d[severity] = d.get(severity, 0) + n
        d["acked"] += acked
        d["_ack_s"] += ack_s
        d["resolved"] += resolved
        d["_resolve_s"] += resolve_s  # noqa: E702
    total = sum(d["alerts"] for d in acc.values())
    table = []
    for d in sorted(acc.values(), key=lambda d: (-d["alerts"], d["detector"])):
        table.append(
            {
                "detector": d["detector"],
                "alerts": d["alerts"],
                "share": _ratio(d["alerts"], total),
                "critical": d["critical"],
                "warning": d["warning"],
                "info": d["info"],
                "acked": d["acked"],
                "resolved": d["resolved"],
                "mtta_s": _mean(d["_ack_s"], d["acked"]),
                "mttr_s": _mean(d["_resolve_s"], d["resolved"]),
            }
        )
    return table


def _run_series(rows: list[tuple[int, str, str, str | None, int]], p: Period) -> dict[str, Any]:
    index = {t: i for i, t in enumerate(p.buckets)}
    size = len(index)
    runs, ok = [0] * size, [0] * size
    verdicts = {o: [0] * size for o in OUTCOMES}
    for t, _name, state, outcome, n in rows:
        i = index.get(t)
        if i is None:
            continue
        runs[i] += n
        ok[i] += n if state == "succeeded" else 0
        if outcome in verdicts:
            verdicts[outcome][i] += n
    judged = [e + ne for e, ne in zip(verdicts["effective"], verdicts["not_effective"])]
    return {
        "runs": runs,
        "succeeded": ok,
        **verdicts,
        "success_rate": [_ratio(a, b) for a, b in zip(ok, runs)],
        "effectiveness_rate": [_ratio(a, b) for a, b in zip(verdicts["effective"], judged)],
        "total_runs": sum(runs),
        "total_succeeded": sum(ok),
        "success": _ratio(sum(ok), sum(runs)),
        "effectiveness": _ratio(sum(verdicts["effective"]), sum(judged)),
    }


def remediation_table(rows: list[tuple[int, str, str, str | None, int]]) -> list[dict[str, Any]]:
    """Per remediation: runs, success rate and effectiveness rate (effective of judged)."""
    acc: dict[str, dict[str, Any]] = {}
    for _t, name, state, outcome, n in rows:
        r = acc.setdefault(name, {"remediation": name, "runs": 0, "succeeded": 0, **{o: 0 for o in OUTCOMES}})
        r["runs"] += n
        r["succeeded"] += n if state == "succeeded" else 0
        if outcome in OUTCOMES:
            r[outcome] += n
    table = []
    for r in sorted(acc.values(), key=lambda r: (-r["runs"], r["remediation"])):
        judged = r["effective"] + r["not_effective"]
        table.append(
            {
                **r,
                "success_rate": _ratio(r["succeeded"], r["runs"]),
                "effectiveness_rate": _ratio(r["effective"], judged),
            }
        )
    return table


def volume_rows(report_: dict[str, Any]) -> list[dict[str, Any]]:
    """The volume chart as a table: one row per bucket (for CSV export)."""
    alerts, runs = report_["alerts"], report_["remediations"]
    return [
        {
            "bucket_start": iso(datetime.fromtimestamp(t, timezone.utc)),
            **{s: alerts["by_severity"].get(s, [0] * len(report_["t"]))[i] for s in SEVERITIES},
            "mtta_s": alerts["mtta_series"][i],
            "mttr_s": alerts["mttr_series"][i],
            "runs": runs["runs"][i],
            "succeeded": runs["succeeded"][i],
            "effective": runs["effective"][i],
            "not_effective": runs["not_effective"][i],
        }
        for i, t in enumerate(report_["t"])
    ]
