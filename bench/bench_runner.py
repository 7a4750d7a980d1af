"""Benchmark: executions per second of a trivial script through remediations.runner.

Compares, for the same executable:
    raw                  subprocess.run([script]) with the runner's PATH: the floor, one
                         fork/exec and nothing else
    run, no limits       runner.run: own session, minimal env, stdin JSON, bounded output,
                         temp work dir, session sweep (default launcher: spawn server)
    run, prlimit         + cpu/memory/open-files/file-size limits via util-linux prlimit
                         (one more exec; the fallback launcher)
    run, spawner         the same limits applied by a spawn server (remediations.process.spawner,
                         the default launcher)
    ..., shm             the same with the work dir on tmpfs (/dev/shm) instead of the
                         system temp dir (ext4 here: mkdir+rmdir ~0.4 ms); InlineBackend's
                         default when /dev/shm is roomy
each sequentially and through InlineBackend(max_workers=4) (raw: 4 threads). Every
configuration is measured `--rounds` times, interleaved, and the best round is reported,
since the machine is shared and noisy; the load average is printed before and after.

Then the latency from InlineBackend.submit() to on_start (the script runs) for the default
backend with limits: one submission at a time, and bursts of 32 at once (max_workers 4,
the scheduler's default, and 32), p50/p99.

Usage: python bench/bench_runner.py [--seconds 1] [--rounds 3] [--script PATH] [--workers 4]
                                     [--no-rates] [--no-latency]
"""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from remediations.backends import InlineBackend  # noqa: E402
from remediations.process.launch import Launcher, PrlimitLauncher  # noqa: E402
from remediations.process.spawner import Spawner  # noqa: E402
from remediations.runner import RunRequest, run  # noqa: E402

LIMITS: dict[str, Any] = {
    "cpu_s": 10,
    "memory_bytes": 512 * 1024 * 1024,
    "max_open_files": 256,
    "max_file_bytes": 64 * 1024 * 1024,
}
# The runner's PATH for raw runs too: the parent's PATH may start with slow shims (pyenv).
RAW_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
NO_LIMITS: dict[str, Any] = {"cpu_s": None, "memory_bytes": None, "max_open_files": None, "max_file_bytes": None}


def rate(seconds: float, one: Callable[[], object]) -> float:
    """Calls per second of `one` over about `seconds` (after two warm-up calls)."""
    one(), one()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        one()
        count += 1
    return count / (time.perf_counter() - started)


def parallel_rate(seconds: float, workers: int, submit: Callable[[], object]) -> float:
    """Completions per second with `workers` callers each looping on `submit` (blocking)."""
    stop_at = time.perf_counter() + seconds
    counts = [0] * workers

    def loop(i: int) -> None:
        while time.perf_counter() < stop_at:
            submit()
            counts[i] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(loop, range(workers)))
    return sum(counts) / (time.perf_counter() - started)


def make_request(script: str, settings: dict[str, Any]) -> RunRequest:
    return RunRequest(
        execution_id=1, script_path=script, params={"unit": "x"}, alert=None, env={}, timeout_s=30, **settings
    )


def bench_backend(seconds: float, workers: int, req: RunRequest, launcher: Launcher) -> float:
    # workdir_root=None: the request's own setting is what is being measured.
    backend = InlineBackend(max_workers=workers, launcher=launcher, workdir_root=None)
    try:
        # Keep the pool full: each of `workers` feeders waits for its own run.
        return parallel_rate(seconds, workers, lambda: backend.submit(req).result())
    finally:
        backend.shutdown()


def noop_script(name: str, text: str) -> str:
    path = Path(tempfile.mkdtemp(prefix="vigil-bench-")) / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def configurations(spawner: Spawner) -> dict[str, tuple[Launcher, dict[str, Any]]]:
    """(launcher, run settings) by label; None values mean "no limit"."""
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    prlimit = PrlimitLauncher()
    return {
        "run, no limits": (spawner, {**NO_LIMITS}),
        "run, prlimit": (prlimit, {**LIMITS}),
        "run, spawner": (spawner, {**LIMITS}),
        "run, no limits, shm": (spawner, {**NO_LIMITS, "workdir_root": shm}),
        "run, prlimit, shm": (prlimit, {**LIMITS, "workdir_root": shm}),
        "run, spawner, shm": (spawner, {**LIMITS, "workdir_root": shm}),
    }


def measure(script: str, seconds: float, rounds: int, workers: int, spawner: Spawner) -> dict[str, list[float]]:
    """Best (sequential, parallel) executions/s per configuration over interleaved rounds."""
    configs = {
        label: (launcher, make_request(script, settings))
        for label, (launcher, settings) in configurations(spawner).items()
    }
    for launcher, req in configs.values():
        result = run(req, launcher=launcher)
        assert result.status == "succeeded", result.output  # the bench measures working runs
    best: dict[str, list[float]] = {"raw": [0.0, 0.0], **{k: [0.0, 0.0] for k in configs}}
    for _ in range(rounds):
        raw = (
            rate(seconds, lambda: subprocess.run([script], check=True, env=RAW_ENV)),
            parallel_rate(seconds, workers, lambda: subprocess.run([script], check=True, env=RAW_ENV)),
        )
        best["raw"] = [max(b, r) for b, r in zip(best["raw"], raw)]
        for label, (launcher, req) in configs.items():
            got = (rate(seconds, lambda: run(req, launcher=launcher)), bench_backend(seconds, workers, req, launcher))
            best[label] = [max(b, g) for b, g in zip(best[label], got)]
    return best


def start_latencies(backend: InlineBackend, req: RunRequest, *, burst: int, repeats: int) -> list[float]:
    """Seconds from submit() to on_start for `repeats` bursts of `burst` submissions."""
    latencies: list[float] = []
    lock = threading.Lock()
    for _ in range(repeats):
        futures = []
        for _ in range(burst):
            submitted = time.perf_counter()

            def started(pid: int, submitted: float = submitted) -> None:
                with lock:
                    latencies.append(time.perf_counter() - submitted)

            futures.append(backend.submit(req, on_start=started))
        for future in futures:
            assert future.result().status == "succeeded"
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report_latency(script: str, launcher: Launcher, label: str) -> None:
    req = make_request(script, LIMITS)
    for workers, burst, repeats in ((4, 1, 300), (4, 32, 10), (32, 32, 10)):
        backend = InlineBackend(max_workers=workers, max_pending=256, launcher=launcher)
        try:
            start_latencies(backend, req, burst=4, repeats=2)  # warm-up: servers, threads
            got = start_latencies(backend, req, burst=burst, repeats=repeats)
        finally:
            backend.shutdown()
        print(
            f"  {label:8s} workers={workers:2d} burst={burst:2d}: submit->on_start "
            f"p50 {percentile(got, 0.5) * 1e3:6.2f} ms  p99 {percentile(got, 0.99) * 1e3:6.2f} ms"
            f"  (n={len(got)})"
        )


def load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--no-rates", action="store_true", help="skip executions/s")
    parser.add_argument("--no-latency", action="store_true", help="skip submit->on_start")
    parser.add_argument(
        "--script",
        action="append",
        help="executable to run (default: /bin/true, and no-op scripts in "
        "sh and python3, the usual remediation language)",
    )
    args = parser.parse_args()
    scripts = args.script or [
        "/bin/true",
        noop_script("noop.sh", "#!/bin/sh\nexit 0\n"),
        noop_script("noop.py", "#!/usr/bin/env python3\n"),
    ]
    spawner = Spawner()
    print(f"cpus={os.cpu_count()} seconds={args.seconds} rounds={args.rounds} workers={args.workers}; {load()}")
    try:
        if not args.no_rates:
            print("best round, executions/s (share of raw)")
            for script in scripts:
                best = measure(script, args.seconds, args.rounds, args.workers, spawner)
                raw_seq, raw_par = best["raw"]
                print(f"\n{script}")
                for label, (seq, par) in best.items():
                    print(
                        f"  {label:22s} seq {seq:7.0f}/s ({seq / raw_seq:4.0%})   "
                        f"x{args.workers} {par:7.0f}/s ({par / raw_par:4.0%})"
                    )
            print(load())
        if not args.no_latency:
            print(
                f"\nlatency, {scripts[1] if len(scripts) > 1 else scripts[0]} with limits, "
                "InlineBackend defaults (tmpfs work dir when roomy)"
            )
            for label, launcher in (("spawner", spawner), ("prlimit", PrlimitLauncher())):
                report_latency(scripts[1] if len(scripts) > 1 else scripts[0], launcher, label)
            print(load())
    finally:
        spawner.close()


if __name__ == "__main__":
    main()
