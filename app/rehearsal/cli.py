"""`vigil rehearse --binding FILE.yaml [--since 30d] [--until ...]`: prints the rehearsal as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping

import yaml

from app.db import utcnow
from app.errors import ServiceError
from app.rehearsal import service, spec


def main(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """`vigil rehearse`: print, as JSON, what the binding in the given YAML file would have done over
    the period. Returns the exit status: 0, or 2 when the file cannot be read or is refused."""
    from app import database_for
    from config import loader

    config = loader.load(getattr(args, "config", None), environ)
    try:
        with open(args.binding, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
        now = utcnow()
        since, until = spec.moment(args.since, "since", now), spec.moment(args.until, "until", now)
        binding = spec.binding_spec(raw.get("binding", raw) if isinstance(raw, dict) else raw)
        since, until = service.period(since, until, now)
    except OSError as exc:
        print(f"vigil rehearse: cannot read {args.binding}: {exc.strerror}", file=sys.stderr)
        return 2
    except (yaml.YAMLError, ServiceError) as exc:
        detail = f"{exc.message} {json.dumps(exc.errors)}" if isinstance(exc, ServiceError) else str(exc)
        print(f"vigil rehearse: {args.binding}: {detail}", file=sys.stderr)
        return 2
    database = database_for(config)
    try:
        with database.read() as session:
            print(json.dumps(service.rehearse(session, binding, since=since, until=until), indent=2))
    finally:
        database.dispose()
    return 0
