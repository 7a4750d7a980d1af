"""`vigil incidents backfill [--since 30d]`: fold alerts stored before incidents existed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from app.db import utcnow
from app.errors import ServiceError


def main(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Run `vigil incidents backfill`; returns the exit status (2 on a bad --since)."""
    from app import database_for, migrate
    from app.events import Event, publish
    from app.incidents import backfill
    from app.rehearsal import spec
    from config import loader

    config = loader.load(getattr(args, "config", None), environ)
    try:
        since = spec.moment(args.since, "since", utcnow())
    except ServiceError as exc:
        print(f"vigil incidents backfill: {exc.message}", file=sys.stderr)
        return 2
    database = database_for(config)
    try:
        migrate.upgrade(database)
        done = backfill.backfill(database, settings=config.settings.incidents, since=since)
        if done.alerts:
            with database.write() as session:
                publish(
                    session,
                    [
                        Event(
                            "incidents.backfill",
                            utcnow(),
                            actor="cli",
                            target="incidents",
                            details={
                                "alerts": done.alerts,
                                "incidents": len(done.touched),
                                "new": done.opened,
                                "since": since.isoformat() if since else None,
                            },
                        )
                    ],
                )
    finally:
        database.dispose()
    joined = len(done.touched) - done.opened
    print(
        f"folded {done.alerts} alert{'s' if done.alerts != 1 else ''} into {len(done.touched)} "
        f"incident{'s' if len(done.touched) != 1 else ''} ({done.opened} new, {joined} existing)"
    )
    return 0
