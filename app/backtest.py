"""`vigil backtest`: replay a CSV through one detector exactly as the live job would run it."""
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
from config.schema import CsvSource, DetectorConfig
from detectors import lifecycle
from detectors.errors import SourceError
from detectors.sources import build_source


def main(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    definition = _definition(args, environ)
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


def _definition(args: argparse.Namespace, environ: Mapping[str, str]) -> DetectorConfig:
    if args.detector:
        config = loader.load(getattr(args, "config", None), environ)
        found = config.detector(args.detector)
        if found is None:
            names = ", ".join(d.name for d in config.detectors) or "none"
            raise ConfigError(f"{config.source_file}: no detector named {args.detector!r} (have: {names})")
        return found
    path = Path(args.definition)
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read detector definition: {exc}") from None
    if isinstance(raw, dict):
        raw.setdefault("source", "backtest-csv")
        raw.setdefault("query", "value")
    try:
        return DetectorConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(loader.describe(str(path), exc)) from None


def _summary(definition: DetectorConfig, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"detector": definition.name, "alerts": len(alerts),
            "open_at_end": sum(1 for a in alerts if a.get("end") is None)}
