"""Change-point alerts against a real Prometheus: the square wave of issue 14 gives one alert per up-shift.

The wave (10 <-> 80, 2% noise, 15 s samples) is backfilled with promtool into a fresh
Prometheus' storage, then the detector is replayed over it through the Prometheus client
(query_range over HTTP on loopback), `pipeline.run` and `lifecycle.step`, as the live
job would have run it every 30 s; only the clock is simulated.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
import requests

from config.schema import DetectorConfig, PrometheusSource
from detectors.lifecycle import replay
from detectors.sources import build_source
from tests.changepoint_cases import STEP_S, square_wave
from tests.helpers import free_port, stop

pytestmark = pytest.mark.slow

PROMTOOL = "/usr/bin/promtool"
# In the recent past (inside the default 15-day retention), on whole minutes.
END = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=2)


@pytest.fixture(scope="module")
def wave() -> tuple[datetime, list[tuple[int, int]], int]:
    values, phases = square_wave(seed=1)
    return END - timedelta(seconds=STEP_S * (values.size - 1)), phases, values.size


@pytest.fixture(scope="module")
def backfilled_url(prometheus_binary: str, wave, tmp_path_factory) -> Iterator[str]:
    if not os.path.exists(PROMTOOL):
        pytest.skip("promtool is not installed")
    start, _, size = wave
    values, _ = square_wave(seed=1)
    home = tmp_path_factory.mktemp("prometheus-wave")
    text = ["# HELP vigil_wave A square wave.", "# TYPE vigil_wave gauge"]
    text += [f"vigil_wave {float(v)!r} {start.timestamp() + STEP_S * i:.0f}" for i, v in enumerate(values)]
    (home / "wave.om").write_text("\n".join(text) + "\n# EOF\n")
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(home / "wave.om"), str(home / "data")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (home / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
    port = free_port()
    log = open(home / "prometheus.log", "wb")
    process = subprocess.Popen(
        [
            prometheus_binary,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=home,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_the_wave(url, process, start, home)
        yield url
    finally:
        stop(process)
        log.close()


def _wait_for_the_wave(url: str, process: subprocess.Popen, start: datetime, home) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {(home / 'prometheus.log').read_text()[-2000:]}")
        try:
            answer = requests.get(
                f"{url}/api/v1/query", timeout=2, params={"query": "vigil_wave", "time": start.timestamp() + 60}
            ).json()
            if answer["data"]["result"]:
                return
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"prometheus did not serve the backfilled wave: {(home / 'prometheus.log').read_text()[-2000:]}")


def test_the_square_wave_raises_exactly_one_alert_per_up_shift_resolved_after_its_return(backfilled_url, wave):
    start, phases, size = wave
    source = build_source(PrometheusSource(type="prometheus", name="prom", url=backfilled_url))
    definition = DetectorConfig.model_validate(
        {
            "name": "wave",
            "source": "prom",
            "query": "vigil_wave",
            "window": "1h",
            "interval": "30s",
            "analysis": {"type": "changepoint", "direction": "up", "min_shift_sigma": 3},
        }
    )
    alerts = replay(definition, source, start=start, end=END)
    assert len(alerts) == 3, [(a["start"], a["end"], a["message"]) for a in alerts]
    for alert, (up, down) in zip(alerts, phases):
        rose, fell = start + timedelta(seconds=STEP_S * up), start + timedelta(seconds=STEP_S * down)
        began, ended = datetime.fromisoformat(alert["start"]), datetime.fromisoformat(alert["end"])
        assert rose <= began <= rose + timedelta(minutes=3)
        assert fell <= ended <= fell + timedelta(minutes=3)
        before, after = (float(x) for x in re.match(r"vigil_wave shifted (\S+) → (\S+) ", alert["message"]).groups())
        assert before == pytest.approx(10, rel=0.05) and after == pytest.approx(80, rel=0.05)
