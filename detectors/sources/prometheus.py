"""A thin client for the Prometheus HTTP API (query_range and query).

Built on one requests.Session with urllib3 Retry for connection errors and 502/503
only: a 4xx (bad query) or a read timeout is reported at once instead of retried,
because retrying them only multiplies the load on an already slow Prometheus.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from config.schema import PrometheusSource
from detectors.errors import SourceError
from detectors.series import LabelledSeries
from detectors.sources.promjson import RawSeries, build_series, decode_raw, error_text, merge_chunks

MAX_POINTS_PER_REQUEST = 11_000
"""Prometheus refuses query_range answers over 11,000 points per series."""

_PERMANENT_STATUS = frozenset({400, 401, 403, 404, 405, 406, 413, 414, 422})


class PrometheusClient:
    """Fetch series from one configured Prometheus server.

    Args:
        cfg: the source configuration.
        session: a session to use (tests, connection sharing); one is made if None.
    """

    def __init__(self, cfg: PrometheusSource, *, session: requests.Session | None = None) -> None:
        self.name = cfg.name
        self._cfg = cfg
        self._base = str(cfg.url).rstrip("/")
        self._session = session or _session(cfg)

    def fetch(self, query: str, *, start: datetime, end: datetime, step_s: float) -> list[LabelledSeries]:
        """Evaluate `query` over [start, end] every `step_s` seconds (query_range).

        Ranges longer than 11,000 steps are split into several requests and joined.

        Args:
            query: a PromQL expression.
            start: first evaluation time (UTC-aware).
            end: last evaluation time.
            step_s: seconds between evaluations (> 0).

        Returns:
            One series per label set.

        Raises:
            SourceError: HTTP, connection, timeout or Prometheus error, too many series.
        """
        if step_s <= 0:
            raise SourceError(
                f'prometheus source "{self.name}": step must be > 0, got {step_s}', source=self.name, permanent=True
            )
        # Prometheus works in milliseconds; rounding end up would return a point after
        # `end`, which the analysis then drops as "in the future".
        end_s = math.floor(end.timestamp() * 1000) / 1000
        start_s = min(math.ceil(start.timestamp() * 1000) / 1000, end_s)
        chunks = [self._range_chunk(query, a, b, step_s) for a, b in chunk_range(start_s, end_s, step_s)]
        merged = merge_chunks(chunks) if chunks else []
        if len(merged) > self._cfg.max_series:
            raise SourceError(
                f'prometheus source "{self.name}": query_range returned {len(merged)} series, '
                f"more than max_series {self._cfg.max_series}",
                source=self.name,
                permanent=True,
            )
        return build_series(merged)

    def query(self, query: str, *, at: datetime) -> list[LabelledSeries]:
        """Evaluate `query` at one instant (/api/v1/query).

        Returns:
            One single-point series per label set.

        Raises:
            SourceError: as for `fetch`.
        """
        body = self._post("query", {"query": query, "time": f"{math.floor(at.timestamp() * 1000) / 1000:.3f}"})
        return build_series(decode_raw(body, source=self.name, endpoint="query", max_series=self._cfg.max_series))

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def _range_chunk(self, query: str, start_s: float, end_s: float, step_s: float) -> list[RawSeries]:
        form = {"query": query, "start": f"{start_s:.3f}", "end": f"{end_s:.3f}", "step": f"{step_s:g}"}
        body = self._post("query_range", form)
        return decode_raw(body, source=self.name, endpoint="query_range", max_series=self._cfg.max_series)

    def _post(self, endpoint: str, form: dict[str, str]) -> bytes:
        # POST keeps long PromQL out of the URL (Prometheus accepts form bodies on both endpoints).
        url = f"{self._base}/api/v1/{endpoint}"
        where = f'prometheus source "{self.name}": {endpoint}'
        try:
            response = self._session.post(url, data=form, timeout=self._cfg.timeout_s)
        except requests.ConnectionError as exc:
            # urllib3 reports an exhausted read-timeout retry as a connection error.
            if isinstance(exc, requests.Timeout) or "timed out" in str(exc):
                raise SourceError(f"{where} timed out after {self._cfg.timeout_s:g}s", source=self.name) from exc
            raise SourceError(f"{where} cannot connect to {self._base} ({_reason(exc)})", source=self.name) from exc
        except requests.Timeout as exc:
            raise SourceError(f"{where} timed out after {self._cfg.timeout_s:g}s", source=self.name) from exc
        except requests.RequestException as exc:
            raise SourceError(f"{where} failed: {exc}", source=self.name) from exc
        if response.status_code != 200:
            raise _http_error(where, response, self.name)
        return response.content


def chunk_range(
    start_s: float, end_s: float, step_s: float, max_points: int = MAX_POINTS_PER_REQUEST
) -> list[tuple[float, float]]:
    """Split [start_s, end_s] into aligned ranges of at most `max_points` steps each.

    Each next chunk starts one step after the previous end, so no point repeats and
    every evaluation time stays on the grid start_s + k * step_s.
    """
    if end_s < start_s:
        return []
    span = (max_points - 1) * step_s
    out = []
    a = start_s
    while a <= end_s:
        b = min(a + span, end_s)
        out.append((a, b))
        a = b + step_s
    return out


def _session(cfg: PrometheusSource) -> requests.Session:
    session = requests.Session()
    retry = Retry(
        total=2,
        connect=2,
        read=0,
        status=2,
        other=0,
        backoff_factor=0.2,
        status_forcelist=(502, 503),
        allowed_methods=frozenset({"GET", "POST"}),
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.verify = cfg.verify_tls
    session.headers["Accept"] = "application/json"
    if cfg.bearer_token is not None:
        session.headers["Authorization"] = f"Bearer {cfg.bearer_token.get_secret_value()}"
    elif cfg.basic_auth is not None:
        session.auth = (cfg.basic_auth.username, cfg.basic_auth.password.get_secret_value())
    return session


def _http_error(where: str, response: requests.Response, source: str) -> SourceError:
    detail = error_text(response.content)
    if detail is None:
        text = response.text.strip().replace("\n", " ")[:200]
        detail = f"{response.reason}: {text}" if text else str(response.reason)
    return SourceError(
        f"{where} returned HTTP {response.status_code} ({detail})",
        source=source,
        permanent=response.status_code in _PERMANENT_STATUS,
    )


def _reason(exc: Exception) -> str:
    text = str(exc)
    for needle, short in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host"),
        ("Temporary failure in name resolution", "DNS failure"),
    ):
        if needle in text:
            return short
    cause: Any = exc.__context__ or exc
    return type(cause).__name__
