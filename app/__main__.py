"""`vigil` / `python -m app`: serve, scheduler, check-config, db upgrade, token create, incidents backfill."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable

from config.errors import ConfigError
from config.schema import Config

log = logging.getLogger("vigil")


def main(argv: list[str] | None = None) -> int:
    """Run one `vigil` command; returns its exit status (2 on a configuration error)."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"vigil: configuration error:\n{exc}", file=sys.stderr)
        return 2


def _load(args: argparse.Namespace) -> Config:
    from app import logs
    from config import loader

    config = loader.load(args.config, os.environ)
    logs.configure(fmt=config.settings.log_format, level=config.settings.log_level)
    return config


def _cmd_check_config(args: argparse.Namespace) -> int:
    from config import loader
    from detectors.requirements import warnings

    config = loader.load(args.config, os.environ)
    print(f"{config.source_file}: ok ({len(config.sources)} sources, {len(config.detectors)} detectors)")
    for i, detector in enumerate(config.detectors):
        for warning in warnings(detector):
            print(f"{config.source_file}: detectors[{i}] ({detector.name}): warning: {warning}")
    for line in loader.warnings(config):  # e.g. a binding naming no configured detector
        print(line)
    return 0


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from app import database_for, migrate

    database = database_for(_load(args))
    migrate.upgrade(database)
    print(f"database at revision {migrate.current(database)}")
    return 0


def _cmd_token_create(args: argparse.Namespace) -> int:
    from app import database_for, migrate
    from app.auth import service

    database = database_for(_load(args))
    migrate.upgrade(database)
    with database.write() as session:
        _row, secret = service.create(session, name=args.name, role=args.role, by="cli")
    print(secret)
    return 0


def _cmd_scheduler(args: argparse.Namespace) -> int:
    import signal
    import threading

    from app import database_for, migrate
    from app.scheduler import Scheduler

    config = _load(args)
    database = database_for(config)
    migrate.upgrade(database)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    Scheduler(config, database, environ=os.environ).run_forever(stop)
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from app import database_for, migrate, worker

    config = _load(args)
    migrate.upgrade(database_for(config))
    worker.start(config, os.environ, queues=args.queues.split(","), burst=args.burst, name=args.name)
    return 0


def _cmd_rehearse(args: argparse.Namespace) -> int:
    from app.rehearsal import cli

    return cli.main(args, os.environ)


def _cmd_incidents_backfill(args: argparse.Namespace) -> int:
    from app.incidents import cli

    return cli.main(args, os.environ)


def _cmd_backtest(args: argparse.Namespace) -> int:
    from app import backtest
    from app.rehearsal import backtest_history

    try:
        if backtest.history_mode(args):
            return backtest_history.main(args, backtest.load(args, os.environ))
        return backtest.replay_csv(args, os.environ)
    except backtest.UsageError as exc:
        print(f"vigil backtest: {exc}", file=sys.stderr)
        return 2


def _cmd_serve(args: argparse.Namespace) -> int:
    from config import loader

    config = loader.load(args.config, os.environ)
    if args.host or args.port:
        settings = config.settings.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port)) if v})
        config = config.model_copy(update={"settings": settings})
    from app import server

    # Before anything imports prometheus_client, so every worker writes multiprocess files.
    metrics_dir = server.prepare_metrics_dir(config.settings, os.environ)
    from app import database_for, logs, migrate
    from app.auth import service

    logs.configure(fmt=config.settings.log_format, level=config.settings.log_level)
    database = database_for(config)
    migrate.upgrade(database)
    with database.write() as session:
        generated = service.ensure_bootstrap(session, secret=os.environ.get("VIGIL_ADMIN_TOKEN"))
    database.dispose()  # workers open their own connections after the fork
    server.announce(config, generated)
    server.serve(config, config_path=args.config, with_scheduler=not args.no_scheduler, metrics_dir=metrics_dir)
    return 0


def _cmd_web(args: argparse.Namespace) -> int:
    args.no_scheduler = True
    return _cmd_serve(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigil", description="Vigil monitoring and auto-remediation")
    parser.add_argument("--config", help="YAML file (default: $VIGIL_CONFIG or config/default.yaml)")
    sub = parser.add_subparsers(required=True, dest="command")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("--config", default=argparse.SUPPRESS, help="YAML configuration file")
        p.set_defaults(func=func)
        return p

    serve = add("serve", _cmd_serve, "migrate, then serve the API with Gunicorn (and start the scheduler)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--no-scheduler", action="store_true", help="web only; run `vigil scheduler` elsewhere")
    web = add("web", _cmd_web, "the web role: `serve --no-scheduler` (containers run one role each)")
    web.add_argument("--host")
    web.add_argument("--port", type=int)
    add("scheduler", _cmd_scheduler, "run detector jobs (one active scheduler across all processes)")
    bt = add(
        "backtest",
        _cmd_backtest,
        "replay a detector over a CSV, or over its source's real history (--since) beside the alerts actually raised",
    )
    bt.add_argument("--csv", help="timestamp,value[,series...] file")
    which = bt.add_mutually_exclusive_group(required=True)
    which.add_argument("--detector", help="a detector from the configuration file")
    which.add_argument("--definition", help="a YAML file holding one detector definition")
    bt.add_argument(
        "--since",
        help="instead of --csv: replay the source's history from this ISO-8601 time or "
        "duration before now (3d; at most 90 days)",
    )
    bt.add_argument("--until", help="end of that history: ISO-8601 time or duration before now (default: now)")
    bt.add_argument("--source", help="replay this configured source instead of the detector's own")
    bt.add_argument("--json", action="store_true", help="print the comparison as one JSON document (as the API)")
    rh = add("rehearse", _cmd_rehearse, "replay stored alert history through a binding and print what it would do")
    rh.add_argument("--binding", required=True, help="a YAML file holding one binding (the create schema)")
    rh.add_argument("--since", help="ISO-8601 time or a duration before now (default: 30 days before --until)")
    rh.add_argument("--until", help="ISO-8601 time or a duration before now (default: now)")
    wk = add("worker", _cmd_worker, "run remediation executions from Redis Queue (execution.backend: rq)")
    wk.add_argument("--queues", default="default", help="comma-separated RQ queues to serve")
    wk.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    wk.add_argument("--name", help="worker name (default: RQ's own)")
    add("check-config", _cmd_check_config, "validate a configuration file")
    db = add("db", _cmd_db_upgrade, "database commands")
    db.add_argument("action", choices=["upgrade"])
    token = sub.add_parser("token", help="API tokens").add_subparsers(required=True, dest="token_command")
    create = token.add_parser("create", help="create a token and print its secret once")
    create.add_argument("--config", default=argparse.SUPPRESS)
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=["viewer", "operator", "admin"], default="viewer")
    create.set_defaults(func=_cmd_token_create)
    incidents = sub.add_parser("incidents", help="incidents").add_subparsers(required=True, dest="incidents_command")
    backfill = incidents.add_parser(
        "backfill",
        help="fold alerts that fired before incidents existed (migration "
        "0017) into incidents, oldest first; a second run changes nothing",
    )
    backfill.add_argument("--config", default=argparse.SUPPRESS)
    backfill.add_argument(
        "--since", help="only alerts fired since this ISO-8601 time or duration before now (30d; default: all)"
    )
    backfill.set_defaults(func=_cmd_incidents_backfill)
    return parser


if __name__ == "__main__":
    sys.exit(main())
