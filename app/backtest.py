"""`vigil backtest`: replay a detector as if time were passing, over a CSV or over the real
history of its source (`--since`), which is then compared with the alerts actually raised."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from config import loader
from config.errors import ConfigError
from config.schema import Config, CsvSource, DetectorConfig
from detectors import lifecycle
from detectors.errors import SourceError
from detectors.sources import build_source


class UsageError(Exception):
    """A bad flag: printed as `vigil backtest: --flag: message`, exit status 2."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")


def replay_csv(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """`vigil backtest --csv FILE`: the alerts as JSON lines on stdout, a summary on stderr."""
    return _csv(args, _definition(args, environ))


def history_mode(args: argparse.Namespace) -> bool:
    """Whether the flags ask for the source's real history (--since/--until/--source), not a CSV."""
    history = any(getattr(args, flag, None) is not None for flag in ("since", "until", "source"))
    if args.csv and history:
        raise UsageError(
            "--csv", "replays a file; --since/--until/--source replay the source's history: use one or the other"
        )
    if not args.csv and not history:
        raise UsageError("--csv", "give --csv FILE, or --since PERIOD (e.g. 3d) to replay the source's history")
    if getattr(args, "json", False) and not history:
        raise UsageError("--json", "only with --since (a CSV replay prints JSON lines already)")
    return history


def _csv(args: argparse.Namespace, definition: DetectorConfig) -> int:
    # The detector's own source is replaced by the CSV; everything else is as configured.
    definition = definition.model_copy(update={"source": "backtest-csv"})
    source = build_source(CsvSource(type="csv", name="backtest-csv", path=args.csv))
    try:
        span = source.time_range()  # type: ignore[attr-defined]
        if span is None:
            print(f"vigil backtest: {args.csv}: no data points", file=sys.stderr)
            return 1
        alerts = lifecycle.replay(definition, source, start=span[0], end=span[1])
    except SourceError as exc:
        print(f"vigil backtest: {exc}", file=sys.stderr)
        return 1
    for alert in alerts:
        print(json.dumps(alert, default=str))
    print(json.dumps({"summary": _summary(definition, alerts)}), file=sys.stderr)
    return 0


def load(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    """The configuration --config names (else the default one)."""
    return loader.load(getattr(args, "config", None), environ)


def _definition(
    args: argparse.Namespace, environ: Mapping[str, str], *, default_source: str | None = "backtest-csv"
) -> DetectorConfig:
    """The --detector from the configuration, or the --definition file (a full definition)."""
    if args.detector:
        config = load(args, environ)
        return configured(config, args.detector)
    path = Path(args.definition)
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read detector definition: {exc}") from None
    if isinstance(raw, dict) and default_source:
        raw.setdefault("source", default_source)
        raw.setdefault("query", "value")
    try:
        return DetectorConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(loader.describe(str(path), exc)) from None


def configured(config: Config, name: str) -> DetectorConfig:
    """The configured detector `name`; a UsageError naming the ones there are otherwise."""
    found = config.detector(name)
    if found is None:
        names = ", ".join(d.name for d in config.detectors) or "none"
        raise UsageError("--detector", f"no detector named {name!r} in {config.source_file} (have: {names})")
    return found


def _summary(definition: DetectorConfig, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "detector": definition.name,
        "alerts": len(alerts),
        "open_at_end": sum(1 for a in alerts if a.get("end") is None),
    }
