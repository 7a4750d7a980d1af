"""HTTP load capacity of Vigil under real Gunicorn, measured with wrk on loopback.

Seeds a database (SQLite, and PostgreSQL with --db postgres) with 100,000 alerts and an admin
token, starts `python -m app web` (2 gthread workers x 4 threads) and measures:

  alerts   GET /api/v1/alerts?limit=50 with a bearer token  (target >= 1,500 req/s, p99 < 100 ms);
           the data does not change, so workers replay the answer from memory (app/alerts/list_cache.py)
  uncached the alerts scenario on a Vigil started with alert_list_cache_mb: 0 (every answer queried)
  pages    the list, each request a random page (cursor): every answer made by a query, deep pages
  hello    a bare WSGI callable under the same Gunicorn settings; alerts/hello (target >= 50%)
  ingest   POST /api/v1/ingest/alertmanager, 10 new alerts per request (target >= 300 req/s),
           then checks that ingest_inbox holds 10 rows per 2xx answer (nothing acknowledged lost)
  soak     with --soak SECONDS: alerts at 750 req/s and ingest at 150 req/s together (wrk paced
           by a Lua delay()), worker RSS sampled every 10 s

Load generator and server share this machine; every figure is printed with the load average.
Run: .venv/bin/python bench/bench_load.py [--db sqlite,postgres] [--duration 20] [--soak 600]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import migrate  # noqa: E402
from app.alerts.models import Alert, listed_json  # noqa: E402
from app.auth import service as auth  # noqa: E402
from app.db import Database  # noqa: E402
from app.ingest.models import InboxItem  # noqa: E402
from detectors import lifecycle  # noqa: E402

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
INGEST_TOKEN = "bench-ingest-token-0123456789abcdef"
TARGET_ALERTS_RPS, TARGET_P99_MS, TARGET_RATIO, TARGET_INGEST_RPS = 1500, 100.0, 0.50, 300

HELLO_WSGI = """
def app(environ, start_response):
    body = b'{"status": "ok"}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
"""

# Shared by every script: print one JSON summary line. No response() callback: with one, wrk
# hands every response (headers and body) to Lua, which cost the shared CPU more than the
# counting is worth. wrk counts answers with status >= 400 itself; Vigil sends no 3xx here.
LUA_COMMON = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "duration_s": %.3f, "ok": %d, "non2xx": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, "p50_ms": %.2f, "p90_ms": %.2f, ' ..
    '"p99_ms": %.2f, "max_ms": %.2f, "mean_ms": %.2f}\n',
    summary.requests, summary.duration / 1e6, summary.requests - e.status, e.status, e.connect, e.read,
    e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000))
end
"""

# Paces each wrk thread at args[1] requests/s (open-loop schedule; LuaJIT's ffi gives a clock).
LUA_PACE = r"""
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } bench_ts; int clock_gettime(int, bench_ts *); ]]
local ts = ffi.new("bench_ts")
local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end
local next_at = nil
function delay()
  if interval_ms == 0 then return 0 end
  local now = now_ms()
  if next_at == nil or next_at < now - 1000 then next_at = now end
  local wait = next_at - now
  next_at = next_at + interval_ms
  if wait > 0 then return wait end
  return 0
end
"""

LUA_GET = r"""
function init(args)
  local rate = tonumber(args[1]) or 0
  interval_ms = rate > 0 and 1000 / rate or 0
  wrk.headers["Authorization"] = args[2] ~= "" and ("Bearer " .. args[2]) or nil
  req = wrk.format("GET", args[3])
end
function request() return req end
"""

# Each request a different page (a random cursor), so no answer is replayed from memory.
LUA_PAGES = r"""
function init(args)
  interval_ms = 0
  math.randomseed(id * 7919)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  top = tonumber(args[2])
end
function request() return wrk.format("GET", "/api/v1/alerts?limit=50&cursor=" .. math.random(51, top)) end
"""

LUA_INGEST = r"""
local parts = {}
function init(args)
  counter = 0
  local rate = tonumber(args[1]) or 0
  interval_ms = rate > 0 and 1000 / rate or 0
  nonce = args[2]
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. args[3]
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  for k = 1, 10 do
    parts[k] = string.format('{"status":"firing","labels":{"alertname":"BenchLoad%d","instance":"%s-%d-%d-%d",' ..
      '"job":"bench","severity":"%s"},"annotations":{"summary":"synthetic load alert %d"},' ..
      '"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z",' ..
      '"generatorURL":"http://127.0.0.1:9090/graph","fingerprint":"%08x%04x"}',
      k, nonce, id, counter, k, (k % 3 == 0) and "critical" or "warning", k, counter, id * 16 + k)
  end
  local body = '{"version":"4","status":"firing","receiver":"vigil","groupKey":"{}:{alertname=\\"bench\\"}",' ..
    '"groupLabels":{},"commonLabels":{"job":"bench"},"commonAnnotations":{},"externalURL":"http://127.0.0.1:9093",' ..
    '"alerts":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format(nil, "/api/v1/ingest/alertmanager", nil, body)
end
"""


# ---- database --------------------------------------------------------------------------------

DETECTORS = [
    f"{kind}-{svc}"
    for kind in ("latency-p99", "error-rate", "cpu-high", "disk-full", "queue-depth")
    for svc in ("api", "web", "worker", "db", "cache", "search")
]
TEAMS = ("platform", "payments", "search", "storage")


def seed(database: Database, n_alerts: int) -> str:
    """Migrate, bulk insert n_alerts (Core executemany) and create an admin token; returns its secret."""
    migrate.upgrade(database)
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    series = 5000  # distinct fingerprints; the newest incident of a series may still be open
    table = Alert.__table__
    rows: list[dict[str, Any]] = []
    with database.engine.begin() as conn:
        for i in range(n_alerts):
            s = i % series
            detector = DETECTORS[s % len(DETECTORS)]
            labels = {
                "instance": f"10.0.{s // 250}.{s % 250}:9100",
                "job": detector.split("-")[-1],
                "team": TEAMS[s % len(TEAMS)],
                "region": ("eu-west-1", "us-east-1")[s % 2],
            }
            started = now - timedelta(seconds=(n_alerts - i) * 30)
            last_incident = i >= n_alerts - series
            state = rng.choice(("firing", "firing", "pending")) if last_incident and rng.random() < 0.3 else "resolved"
            value = round(rng.uniform(80, 120), 3)
            rows.append(
                {
                    "fingerprint": lifecycle.fingerprint(detector, labels),
                    "detector": detector,
                    "source": "detector",
                    "labels": labels,
                    "severity": ("info", "warning", "critical")[rng.randrange(3)],
                    "state": state,
                    "kind": "threshold",
                    "message": f"value {value} > 80 for 5m",
                    "value": value,
                    "threshold": 80.0,
                    "evidence": {"evidence": [[started.isoformat(), value]], "change_points": []},
                    "started_at": started,
                    "fired_at": started + timedelta(minutes=5) if state != "pending" else None,
                    "resolved_at": started + timedelta(minutes=20) if state == "resolved" else None,
                    "last_seen_at": started + timedelta(minutes=20),
                    "acked_at": started + timedelta(minutes=7) if i % 10 == 0 else None,
                    "acked_by": "oncall" if i % 10 == 0 else None,
                }
            )
            rows[-1]["listed"] = listed_json(rows[-1])  # what the ORM keeps on every write
            if len(rows) == 10_000:
                conn.execute(table.insert(), rows)
                rows.clear()
        if rows:
            conn.execute(table.insert(), rows)
        # The label rows alerts.service writes for every new alert, in bulk.
        each = "json_each(a.labels)" if conn.dialect.name == "sqlite" else "json_each_text(a.labels::json)"
        conn.execute(
            text(
                f"INSERT INTO alert_labels (alert_id, name, value) SELECT a.id, j.key, j.value FROM alerts a, {each} j"
            )
        )
    with database.write() as session:
        _row, secret = auth.create(session, name="bench-admin", role="admin", by="bench")
    return secret


def fresh_postgres() -> tuple[str, Any]:
    """A new database on the local PostgreSQL; returns its URL and a function that drops it."""
    name = f"vigil_bench_{os.getpid()}"
    admin = create_engine(Database(PG_ADMIN_URL).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, drop


def inbox_count(database: Database) -> int:
    with database.read() as session:
        return int(session.scalar(select(func.count()).select_from(InboxItem)) or 0)


# ---- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url} within {timeout_s:.0f}s:\n{log.read_text()[-3000:]}")


def wait_workers_booted(server: "Server", workers: int, timeout_s: float = 90) -> None:
    """Until every worker has started and gone quiet: the first to boot would otherwise accept
    every keep-alive connection wrk opens, and keep them, leaving the others idle."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        procs = server.workers()
        for proc in procs:
            proc.cpu_percent(None)
        time.sleep(0.5)
        try:
            if len(procs) == workers and all(proc.cpu_percent(None) < 10 for proc in procs):
                return
        except psutil.NoSuchProcess:
            pass
    raise RuntimeError(f"{workers} workers did not settle within {timeout_s:.0f}s")


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def log_problems(self) -> int:
        text_ = self.log.read_text(errors="replace")
        return text_.count("Traceback") + text_.count(" ERROR ") + text_.count("[CRITICAL]")


def start_vigil(tmp: Path, database_url: str | None, args: argparse.Namespace, *, list_cache_mb: int = 16) -> Server:
    port = free_port()
    config = tmp / f"vigil-{port}.yaml"
    config.write_text(
        json.dumps(
            {  # JSON is YAML
                "settings": {
                    "host": "127.0.0.1",
                    "workers": args.workers,
                    "log_level": args.log_level,
                    "data_dir": str(tmp / "data"),
                    "scheduler": {"enabled": False},
                    "alert_list_cache_mb": list_cache_mb,
                },
                "ingest": {"alertmanager": {"token": INGEST_TOKEN}},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VIGIL_ADMIN_TOKEN", "VIGIL_CONFIG")}
    env.update(VIGIL_CONFIG=str(config), VIGIL_DATA_DIR=str(tmp / "data"))
    if database_url:
        env["DATABASE_URL"] = database_url
    log = tmp / f"vigil-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "web", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(proc, port, log)
    wait_http(f"{server.base}/api/v1/health", proc, log)
    wait_workers_booted(server, args.workers)
    return server


def start_hello(tmp: Path, args: argparse.Namespace) -> Server:
    """A bare WSGI callable under Gunicorn with Vigil's settings (app/gunicorn_conf.py)."""
    (tmp / "bench_hello.py").write_text(HELLO_WSGI)
    port = free_port()
    log = tmp / f"hello-{port}.log"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:app.gunicorn_conf",
                "--workers",
                str(args.workers),
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{port}",
                "--pythonpath",
                str(tmp),
                "bench_hello:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(proc, port, log)
    wait_http(f"{server.base}/", proc, log)
    wait_workers_booted(server, args.workers)
    return server


# ---- wrk -------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    db: str
    rps: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    notes: list[str] = field(default_factory=list)
    ok: bool | None = None


def cpu_s(server: Server) -> float:
    """CPU seconds used so far by the server: the master, its live workers and the workers it
    has reaped (recycled after max_requests), whose time the kernel adds to the master's."""
    master = psutil.Process(server.proc.pid)
    t = master.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for worker in master.children():
        try:
            w = worker.cpu_times()
            total += w.user + w.system
        except psutil.NoSuchProcess:
            pass
    return total


def wrk(
    tmp: Path,
    script: str,
    server: Server,
    script_args: list[str],
    *,
    threads: int,
    connections: int,
    duration_s: int,
    profile: Path | None = None,
) -> dict[str, Any]:
    url = server.base
    path = tmp / f"bench-{abs(hash(script))}.lua"
    path.write_text(script)
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{duration_s}s",
        "--timeout",
        "10s",
        "-s",
        str(path),
        url,
        "--",
        *script_args,
    ]
    spies = []
    workers = server.workers()
    if profile:
        out = profile
        for worker in workers:
            spies.append(
                subprocess.Popen(
                    [
                        shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--nonblocking",
                        "--gil",
                        "--format",
                        "raw",
                        "-r",
                        "200",
                        "-d",
                        str(duration_s - 2),
                        "-o",
                        f"{out}-{worker.pid}.txt",
                        "--pid",
                        str(worker.pid),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
    cpu_before = cpu_s(server)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60)
    cpu_after = cpu_s(server)
    for spy in spies:
        spy.wait(timeout=60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            stats: dict[str, Any] = json.loads(line[6:])
            stats["rps"] = stats["requests"] / stats["duration_s"] if stats["duration_s"] else 0.0
            stats["ok_rps"] = stats["ok"] / stats["duration_s"] if stats["duration_s"] else 0.0
            stats["errors"] = stats["non2xx"] + stats["connect"] + stats["read"] + stats["write"] + stats["timeout"]
            # Server CPU per request: steadier than req/s on a machine shared with other work.
            stats["cpu_ms_per_req"] = (cpu_after - cpu_before) * 1000 / max(1, stats["requests"])
            return stats
    raise RuntimeError(f"wrk gave no summary (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def profile_for(args: argparse.Namespace, name: str) -> Path | None:
    if not args.profile_dir:
        return None
    Path(args.profile_dir).mkdir(parents=True, exist_ok=True)
    return Path(args.profile_dir) / name


def run_get(tmp: Path, server: Server, token: str, path: str, args: argparse.Namespace, name: str, db: str) -> Result:
    wrk(
        tmp,
        LUA_COMMON + LUA_GET,
        server,
        ["0", token, path],
        threads=args.threads,
        connections=args.connections,
        duration_s=3,
    )  # warm-up: connections, caches, JIT of nothing
    stats = wrk(
        tmp,
        LUA_COMMON + LUA_GET,
        server,
        ["0", token, path],
        threads=args.threads,
        connections=args.connections,
        duration_s=args.duration,
        profile=profile_for(args, name),
    )
    return Result(name, db, stats["ok_rps"], stats, os.getloadavg())


def run_uncached(tmp: Path, url: str | None, token: str, args: argparse.Namespace, db: str) -> Result:
    """The alerts scenario on a Vigil that never replays an answer (alert_list_cache_mb: 0)."""
    server = start_vigil(tmp, url, args, list_cache_mb=0)
    try:
        r = run_get(tmp, server, token, "/api/v1/alerts?limit=50", args, "uncached", db)
    finally:
        server.stop()
    r.ok = r.rps >= TARGET_ALERTS_RPS and r.stats["p99_ms"] < TARGET_P99_MS and r.stats["errors"] == 0
    print(f"[{db}] {line(r)}", flush=True)
    return r


def run_pages(tmp: Path, server: Server, token: str, args: argparse.Namespace, db: str) -> Result:
    stats = wrk(
        tmp,
        LUA_COMMON + LUA_PAGES,
        server,
        [token, str(args.alerts)],
        threads=args.threads,
        connections=args.connections,
        duration_s=args.duration,
        profile=profile_for(args, "pages"),
    )
    return Result("pages", db, stats["ok_rps"], stats, os.getloadavg())


def run_ingest(tmp: Path, server: Server, database: Database, args: argparse.Namespace, db: str) -> Result:
    before = inbox_count(database)
    stats = wrk(
        tmp,
        LUA_COMMON + LUA_INGEST,
        server,
        ["0", f"n{time.time_ns()}", INGEST_TOKEN],
        threads=args.threads,
        connections=args.ingest_connections,
        duration_s=args.duration,
        profile=profile_for(args, "ingest"),
    )
    result = Result("ingest", db, stats["ok_rps"], stats, os.getloadavg())
    time.sleep(1.0)  # requests wrk abandoned at its deadline finish on the server
    stored = inbox_count(database) - before
    expected = 10 * stats["ok"]
    # wrk stops with up to one request per connection in flight: those are stored but uncounted.
    in_flight = stored - expected
    result.stats.update(stored=stored, expected=expected, lost=max(0, -in_flight))
    result.notes.append(
        f"rows {stored} = 10 x {stats['ok']} 2xx + {in_flight} "
        f"(stored after wrk's deadline; at most 10 x {args.ingest_connections} connections)"
    )
    result.ok = in_flight >= 0 and in_flight <= 10 * args.ingest_connections and in_flight % 10 == 0
    return result


def soak(tmp: Path, server: Server, token: str, database: Database, args: argparse.Namespace, db: str) -> Result:
    """Half the target load for args.soak seconds; worker RSS every 10 s."""
    seconds = args.soak
    out: dict[str, dict[str, Any]] = {}
    get_rate = TARGET_ALERTS_RPS / 2 / args.threads
    ingest_rate = TARGET_INGEST_RPS / 2 / args.threads

    def go(key: str, script: str, script_args: list[str], connections: int) -> None:
        out[key] = wrk(
            tmp, script, server, script_args, threads=args.threads, connections=connections, duration_s=seconds
        )

    before = inbox_count(database)
    runners = [
        threading.Thread(
            target=go,
            args=("alerts", LUA_COMMON + LUA_PACE + LUA_GET, [str(get_rate), token, "/api/v1/alerts?limit=50"], 16),
        ),
        threading.Thread(
            target=go,
            args=(
                "ingest",
                LUA_COMMON + LUA_PACE + LUA_INGEST,
                [str(ingest_rate), f"s{time.time_ns()}", INGEST_TOKEN],
                8,
            ),
        ),
    ]
    for runner in runners:
        runner.start()
    samples: list[tuple[float, dict[int, int]]] = []
    started = time.monotonic()

    def sample() -> None:
        rss = {}
        for worker in server.workers():
            try:
                rss[worker.pid] = worker.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        samples.append((time.monotonic() - started, rss))
        print(
            f"  soak t={samples[-1][0]:4.0f}s rss_mb="
            + " ".join(f"{p}:{v / 2**20:.1f}" for p, v in rss.items())
            + f" load={os.getloadavg()[0]:.2f}",
            flush=True,
        )

    while any(r.is_alive() for r in runners):
        sample()
        next_at = started + 10 * len(samples)
        while time.monotonic() < next_at and any(r.is_alive() for r in runners):
            time.sleep(0.5)
    sample()  # at the end of the load
    time.sleep(1.0)
    stored = inbox_count(database) - before
    a, i = out["alerts"], out["ingest"]
    first = sum(samples[1][1].values()) if len(samples) > 1 else sum(samples[0][1].values())
    last = sum(samples[-1][1].values())
    pids = {p for _t, rss in samples for p in rss}
    growth = (last - first) / first * 100 if first else 0.0
    per_pid = []
    for pid in pids:  # growth within each worker's life (workers are recycled after max_requests)
        seen = [rss[pid] for _t, rss in samples[1:] if pid in rss]
        if len(seen) >= 2:
            per_pid.append((seen[-1] - seen[0]) / seen[0] * 100)
    result = Result(
        "soak",
        db,
        a["ok_rps"] + i["ok_rps"],
        {
            "alerts_rps": a["ok_rps"],
            "ingest_rps": i["ok_rps"],
            "alerts_p99_ms": a["p99_ms"],
            "ingest_p99_ms": i["p99_ms"],
            "errors": a["errors"] + i["errors"],
            "rss_first_mb": first / 2**20,
            "rss_last_mb": last / 2**20,
            "rss_growth_pct": growth,
            "workers_seen": len(pids),
            "max_growth_in_a_worker_pct": max(per_pid, default=0.0),
            "stored": stored,
            "expected": 10 * i["ok"],
        },
        os.getloadavg(),
    )
    result.notes.append(
        f"alerts {a['ok_rps']:.0f} req/s p99 {a['p99_ms']:.1f} ms, ingest {i['ok_rps']:.0f} req/s "
        f"p99 {i['p99_ms']:.1f} ms; errors {a['errors'] + i['errors']} ({_kinds(a)} / {_kinds(i)}); RSS sum "
        f"{first / 2**20:.1f} -> {last / 2**20:.1f} MB ({growth:+.1f}%), {len(pids)} worker pids "
        f"(recycled {len(pids) - args.workers}x), max growth within one worker "
        f"{max(per_pid, default=0.0):+.1f}%; inbox rows {stored} vs 10 x {i['ok']} 2xx"
    )
    result.ok = a["errors"] + i["errors"] == 0 and stored >= 10 * i["ok"]
    return result


# ---- main ------------------------------------------------------------------------------------


def _kinds(stats: dict[str, Any]) -> str:
    """Which errors wrk saw, e.g. 'read 3, non2xx 1'."""
    kinds = ("non2xx", "connect", "read", "write", "timeout")
    return ", ".join(f"{k} {stats[k]}" for k in kinds if stats[k]) or "none"


def bench_db(db: str, args: argparse.Namespace, results: list[Result]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"vigil-load-{db}-"))
    drop = None
    try:
        url = None
        if db == "postgres":
            url, drop = fresh_postgres()
            database = Database(url)
        else:
            (tmp / "data").mkdir()
            database = Database(f"sqlite:///{tmp / 'data' / 'vigil.db'}")
        t0 = time.perf_counter()
        cache = Path(args.seed_cache) / f"seed-{args.alerts}" if args.seed_cache and db == "sqlite" else None
        if cache and (cache / "token").exists():
            database.dispose()
            shutil.copy(cache / "vigil.db", tmp / "data" / "vigil.db")
            token = (cache / "token").read_text()
        else:
            token = seed(database, args.alerts)
            if cache:
                database.dispose()
                cache.mkdir(parents=True, exist_ok=True)
                with sqlite3.connect(tmp / "data" / "vigil.db") as src, sqlite3.connect(cache / "vigil.db") as dst:
                    src.backup(dst)  # the WAL's pages too
                (cache / "token").write_text(token)
        print(f"[{db}] seeded {args.alerts} alerts in {time.perf_counter() - t0:.1f}s", flush=True)
        server = start_vigil(tmp, url, args)
        try:
            print(f"[{db}] vigil on {server.base} workers={[w.pid for w in server.workers()]}", flush=True)
            if "alerts" in args.only:
                r = run_get(tmp, server, token, "/api/v1/alerts?limit=50", args, "alerts", db)
                r.ok = r.rps >= TARGET_ALERTS_RPS and r.stats["p99_ms"] < TARGET_P99_MS and r.stats["errors"] == 0
                results.append(r)
                print(f"[{db}] {line(r)}", flush=True)
            if "pages" in args.only:
                r = run_pages(tmp, server, token, args, db)
                results.append(r)
                print(f"[{db}] {line(r)}", flush=True)
            if "health" in args.only:
                r = run_get(tmp, server, "", "/api/v1/health", args, "health", db)
                results.append(r)
                print(f"[{db}] {line(r)}", flush=True)
            if "ingest" in args.only:
                r = run_ingest(tmp, server, database, args, db)
                r.ok = bool(r.ok) and r.rps >= TARGET_INGEST_RPS and r.stats["errors"] == 0
                results.append(r)
                print(f"[{db}] {line(r)}", flush=True)
            if args.soak:
                r = soak(tmp, server, token, database, args, db)
                results.append(r)
                print(f"[{db}] {line(r)}", flush=True)
            problems = server.log_problems()
            if problems:
                print(f"[{db}] server log has {problems} error lines: {server.log}", flush=True)
        finally:
            server.stop()
        if "uncached" in args.only:
            results.append(run_uncached(tmp, url, token, args, db))
        database.dispose()
    finally:
        if drop:
            drop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def bench_hello(args: argparse.Namespace, results: list[Result]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="vigil-load-hello-"))
    try:
        server = start_hello(tmp, args)
        try:
            r = run_get(tmp, server, "", "/", args, "hello", "-")
            results.append(r)
            print(f"[-] {line(r)}", flush=True)
        finally:
            server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def line(r: Result) -> str:
    s = r.stats
    verdict = "" if r.ok is None else ("  PASS" if r.ok else "  MISS")
    if r.name == "soak":
        return f"soak: {r.notes[0]}  load {r.load[0]:.2f}{verdict}"
    extra = f"  {r.notes[0]}" if r.notes else ""
    return (
        f"{r.name}: {r.rps:,.0f} req/s (2xx), p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, "
        f"errors {s['errors']} (non2xx {s['non2xx']} connect {s['connect']} read {s['read']} "
        f"timeout {s['timeout']}), server CPU {s['cpu_ms_per_req']:.2f} ms/req, load {r.load[0]:.2f}{verdict}{extra}"
    )


def table(results: list[Result], args: argparse.Namespace) -> None:
    hello = next((r.rps for r in results if r.name == "hello"), None)
    print(
        f"\nworkers={args.workers} x gthread 4 threads, wrk -t{args.threads} -c{args.connections} "
        f"(ingest -c{args.ingest_connections}) -d{args.duration}s, log level {args.log_level}, "
        f"{args.alerts:,} alerts, {os.cpu_count()} CPUs shared with the load generator"
    )
    print(
        f"{'db':9} {'scenario':8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'cpu ms':>6} {'load1':>5}  target"
    )
    for r in results:
        s = r.stats
        if r.name == "soak":
            print(
                f"{r.db:9} {'soak':8} {r.rps:8,.0f} {'':>7} {'':>7} {s['errors']:6d} {'':>6} {r.load[0]:5.2f}  "
                f"RSS {s['rss_growth_pct']:+.1f}% ({'ok' if r.ok else 'MISS'})"
            )
            continue
        target = ""
        if r.name in ("alerts", "uncached"):
            ratio = (
                (
                    f", {r.rps / hello:.0%} of hello (>= {TARGET_RATIO:.0%}: "
                    f"{'PASS' if r.rps / hello >= TARGET_RATIO else 'MISS'}) and"
                )
                if hello
                else ""
            )
            target = f">= {TARGET_ALERTS_RPS}/s p99 < {TARGET_P99_MS:.0f} ms{ratio}"
        elif r.name == "ingest":
            target = f">= {TARGET_INGEST_RPS}/s, lost {s['lost']} alerts"
        verdict = "" if r.ok is None else (" PASS" if r.ok else " MISS")
        print(
            f"{r.db:9} {r.name:8} {r.rps:8,.0f} {s['p50_ms']:7.1f} {s['p99_ms']:7.1f} {s['errors']:6d} "
            f"{s['cpu_ms_per_req']:6.2f} {r.load[0]:5.2f}  {target}{verdict}"
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", default="sqlite", help="comma list of sqlite, postgres")
    p.add_argument(
        "--only",
        default="hello,alerts,uncached,pages,ingest",
        help="comma list of hello, alerts, uncached, pages, health, ingest",
    )
    p.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--connections", type=int, default=16, help="wrk connections for GET runs")
    p.add_argument("--ingest-connections", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--alerts", type=int, default=100_000)
    p.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    p.add_argument("--soak", type=int, default=0, help="seconds of half-target mixed load (0: off)")
    p.add_argument("--profile-dir", help="py-spy raw profiles of each worker per run go here (slows the server)")
    p.add_argument("--seed-cache", help="reuse a seeded SQLite file kept in this directory (for iteration)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (server logs)")
    args = p.parse_args()
    args.only = set(args.only.split(","))
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results: list[Result] = []
    if "hello" in args.only:
        bench_hello(args, results)
    for db in args.db.split(","):
        bench_db(db, args, results)
    table(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
