"""Diagnosis: speed of the batch change-point ranking and its quality on synthetic incidents.

Speed: 5,000 series x 360 points analysed and ranked (fetch excluded), best of --repeat
runs, wall and CPU time on one core (numpy is kept single-threaded).
Quality: --incidents random incidents from tests/diagnosis_cases.py (2,000 signals: 3
causes stepping 1-20 minutes before the alert, 20 consequences 1-10 minutes after it,
5% unrelated shifts 50-70 minutes before it, all on noise, daily swings, trends, spikes
and random walks); per incident the ranks of the 3 causes in the diagnosis. Reports
recall@3 and recall@5 (share of causes ranked that high), MRR (mean over incidents of
1 / the best cause's rank) and the share of incidents with all 3 causes in the top 5
(target >= 90%). --hard uses 3-8 sigma causes instead of 4-10.

Real Prometheus (--prometheus): the end-to-end test's incident (2,001 series backfilled with
promtool into /usr/bin/prometheus on loopback); the real detector job fires, and the
diagnosis worker's run (fetch through query_range, rank, store) is timed end to end.

Run: OMP_NUM_THREADS=1 .venv/bin/python bench/bench_diagnosis.py [--incidents 100] [--seed 16] [--hard]
     [--prometheus]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.diagnosis import diagnose  # noqa: E402
from tests.diagnosis_cases import incident, ranks  # noqa: E402


def speed(seed: int, repeat: int) -> tuple[float, float]:
    """(best wall s, its CPU s) to rank 5,000 x 360."""
    rng = np.random.default_rng(seed)
    inc = incident(rng, signals=5000, points=360)
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        diagnose(inc.values, inc.t_s, inc.labels, start_s=inc.start_s, direction=1)
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def quality(seed: int, incidents: int, cause_sigmas: tuple[float, float]) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    at3 = at5 = all5 = 0
    mrr = 0.0
    for _ in range(incidents):
        inc = incident(rng, cause_sigmas=cause_sigmas)
        result = diagnose(inc.values, inc.t_s, inc.labels, start_s=inc.start_s, direction=1, top=50)
        found = ranks([s.row for s in result.suspects], inc.causes)
        at3 += sum(1 for r in found if r is not None and r <= 3)
        at5 += sum(1 for r in found if r is not None and r <= 5)
        all5 += all(r is not None and r <= 5 for r in found)
        best = min((r for r in found if r is not None), default=None)
        mrr += 1.0 / best if best else 0.0
    causes = 3 * incidents
    return {"recall@3": at3 / causes, "recall@5": at5 / causes, "mrr": mrr / incidents, "all3_top5": all5 / incidents}


def against_prometheus() -> tuple[float, float, float]:
    """Backfill the end-to-end test's incident, fire its detector, time the worker's run."""
    import subprocess
    import tempfile
    from datetime import timedelta

    from app import database_for, migrate
    from app.detection import job, lease
    from app.diagnostics import service
    from app.diagnostics.worker import DiagnosisWorker
    from detectors.sources import build_source
    from tests.conftest import make_config
    from tests.helpers import free_port
    from tests.integration.diagnostics import test_diagnosis_prometheus as e2e

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "incident.om").write_text(e2e._openmetrics()[0])
        subprocess.run(
            [e2e.PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(home / "incident.om"), str(home / "data")],
            check=True,
            capture_output=True,
            timeout=600,
        )
        (home / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
        url = f"http://127.0.0.1:{free_port()}"
        with open(home / "prometheus.log", "wb") as log:
            process = subprocess.Popen(
                [
                    "/usr/bin/prometheus",
                    f"--config.file={home / 'prometheus.yml'}",
                    f"--storage.tsdb.path={home / 'data'}",
                    f"--web.listen-address={url.removeprefix('http://')}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=home,
            )
            try:
                e2e._wait_until_served(url, process, home)
                config = make_config(
                    home,
                    f"sqlite:///{home / 'vigil.db'}",
                    sources=[{"name": "prom", "type": "prometheus", "url": url, "timeout_s": 30}],
                    detectors=[
                        {
                            "name": "latency",
                            "source": "prom",
                            "query": "vigil_latency",
                            "window": "10m",
                            "interval": "30s",
                            "analysis": {"type": "threshold", "above": 0.7},
                            "diagnose": {"queries": ['{job="api"}'], "lookback": "80m", "after": "9m"},
                        }
                    ],
                )
                database = database_for(config)
                migrate.upgrade(database)
                now = e2e.ALERT_AT + timedelta(seconds=60)
                with database.write() as session:
                    lease.acquire(session, holder="bench", now=now, ttl_s=60)
                job.run(
                    database,
                    config,
                    config.detectors[0],
                    build_source(config.sources[0]),
                    holder="bench",
                    now=now,
                    slot=None,
                )
                worker = DiagnosisWorker(
                    database, config, {}, holder="bench", clock=lambda: e2e.ALERT_AT + timedelta(minutes=10)
                )
                began = time.perf_counter()
                worker.run_pending()
                total = time.perf_counter() - began
                with database.read() as session:
                    row = service.get(session, 1)  # the only alert of a fresh database
                    if row.state != "done":
                        raise SystemExit(f"the diagnosis did not finish: {row.state} {row.error}")
                    fetch_s, analyse_s = row.fetch_s or 0.0, row.analyse_s or 0.0
                database.dispose()
                return fetch_s, analyse_s, total
            finally:
                process.terminate()
                process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hard", action="store_true", help="causes of 3-8 sigmas instead of 4-10")
    parser.add_argument("--prometheus", action="store_true", help="also time a diagnosis against a real Prometheus")
    args = parser.parse_args()
    if args.prometheus:
        fetch_s, analyse_s, total_s = against_prometheus()
        print(
            f"real prometheus, 2001 series: fetch {fetch_s:.2f} s, rank {analyse_s:.2f} s, "
            f"end to end {total_s:.2f} s (target <= 10 s)"
        )
    wall, cpu = speed(args.seed, args.repeat)
    print(f"speed: 5000 series x 360 points ranked in {wall:.3f} s wall, {cpu:.3f} s CPU (target <= 2 s)")
    sigmas = (3.0, 8.0) if args.hard else (4.0, 10.0)
    q = quality(args.seed, args.incidents, sigmas)
    print(
        f"quality over {args.incidents} incidents (causes {sigmas[0]:g}-{sigmas[1]:g} sigma): "
        f"recall@3 {q['recall@3']:.3f}  recall@5 {q['recall@5']:.3f}  MRR {q['mrr']:.3f}  "
        f"all 3 causes in top 5: {q['all3_top5']:.0%} (target >= 90%)"
    )


if __name__ == "__main__":
    main()
