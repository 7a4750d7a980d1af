"""`vigil backtest --detector NAME --since 3d [--until T] [--source S] [--json]`: the detector
rehearsal of POST /api/v1/detectors/<name>/rehearse (same code, app.rehearsal.detector) from
the command line, its alerts printed beside those actually raised."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from app.backtest import UsageError, configured
from app.db import utcnow
from app.errors import ServiceError
from app.rehearsal import detector
from config.errors import ConfigError
from config.loader import describe
from config.schema import Config, DetectorConfig
from detectors.errors import SourceError


def main(args: argparse.Namespace, config: Config) -> int:
    """`vigil backtest --since`: rehearse the detector over its source's real history and print it
    beside the alerts actually raised (text, or JSON with --json). Returns the exit status: 0, or 1
    when the source or the database cannot be read; a bad flag raises UsageError, an invalid
    definition file ConfigError."""
    definition = _definition(args, config)
    try:
        since, until = detector.period(args.since, args.until, utcnow())
    except ServiceError as exc:
        field = next(iter(exc.errors), "since")
        raise UsageError(f"--{field}", exc.errors.get(field, exc.message)) from None
    from app import database_for

    database = database_for(config)
    try:
        with database.read() as session:
            answer = detector.rehearse(session, config, definition, since=since, until=until)
    except SourceError as exc:
        print(f"vigil backtest: source {definition.source!r}: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:  # the statement and its parameters stay out of the message
        reason = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0]
        print(
            f"vigil backtest: cannot read the alerts actually raised ({reason}); "
            "is the database migrated (`vigil db upgrade`)?",
            file=sys.stderr,
        )
        return 1
    finally:
        database.dispose()
    print(
        json.dumps({**answer, "source": definition.source}, indent=2, default=str)
        if args.json
        else render(answer, definition)
    )
    return 0


def _definition(args: argparse.Namespace, config: Config) -> DetectorConfig:
    """--detector from the configuration or the --definition file, on --source when given."""
    if args.detector:
        found = configured(config, args.detector)
    else:
        found = _from_file(args.definition, args.source)
    name = args.source or found.source
    if not any(s.name == name for s in config.sources):
        flag = "--source" if args.source or args.definition else "--detector"
        names = ", ".join(s.name for s in config.sources) or "none"
        raise UsageError(flag, f"no source named {name!r} in {config.source_file} (have: {names})")
    return found.model_copy(update={"source": name})


def _from_file(path: str, source: str | None) -> DetectorConfig:
    try:
        with open(path, encoding="utf-8") as f:
            raw: Any = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError("--definition", f"cannot read {path}: {exc}") from None
    if isinstance(raw, dict) and source:
        raw.setdefault("source", source)
    try:
        return DetectorConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe(path, exc)) from None


def render(answer: dict[str, Any], definition: DetectorConfig) -> str:
    """The comparison as a table: one line per alert, rehearsed beside actual, oldest first."""
    s = answer["summary"]
    lines = [
        f"detector {answer['detector']} on source {definition.source}, "
        f"{_when(answer['since'])} to {_when(answer['until'])}",
        f"rehearsed {s['rehearsed']} alerts, actually raised {s['actual']}: {s['same']} same, "
        f"{s['shifted']} shifted, {s['added']} added, {s['removed']} removed",
        "",
    ]
    rows = [("same", p["rehearsed"], p["actual"], p["shift_s"]) for p in answer["same"]]
    rows += [("shifted", p["rehearsed"], p["actual"], p["shift_s"]) for p in answer["shifted"]]
    rows += [("added", a, None, None) for a in answer["added"]] + [
        ("removed", None, a, None) for a in answer["removed"]
    ]
    rows.sort(key=lambda r: min(x["start"] for x in r[1:3] if x))
    cells = [
        (
            change,
            _span(rehearsed) + (f" ({shift:+.0f} s)" if change == "shifted" else ""),
            (f"#{actual['id']} " if actual else "") + _span(actual),
            _labels((rehearsed or actual or {}).get("labels")),
        )
        for change, rehearsed, actual, shift in rows
    ]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(("change", "rehearsed", "actual"))]
    for cell in [("change", "rehearsed", "actual", "labels"), *cells]:
        lines.append("  ".join(v.ljust(w) for v, w in zip(cell, widths)) + "  " + cell[3])
    if not rows:
        lines.append("(no alerts either way)")
    return "\n".join(lines)


def _span(alert: dict[str, Any] | None) -> str:
    if not alert:
        return "—"
    return f"{_when(alert['start'])} → {_when(alert['end']) if alert['end'] else 'still open'}"


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%MZ")


def _labels(labels: dict[str, str] | None) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "—"
