"""Metric sources: where series come from. `build_source` makes one from its config."""

from __future__ import annotations

from config.schema import CsvSource, HostSource, PrometheusSource, ScrapeSource, SourceConfig
from detectors.sources.base import RollingWindow, Source
from detectors.sources.csvfile import CsvReplay
from detectors.sources.host import HostSampler
from detectors.sources.prometheus import PrometheusClient
from detectors.sources.scrape import ScrapeClient, ScrapeHistory


def build_source(cfg: SourceConfig, *, history: ScrapeHistory | None = None) -> Source:
    """The Source for a source configuration.

    Args:
        cfg: a PrometheusSource, ScrapeSource, HostSource or CsvSource.
        history: for a scrape source, the ring that keeps every series it reads (diagnoses).

    Returns:
        A ready Source (no I/O happens until its first fetch).

    Raises:
        TypeError: an unknown configuration type.
    """
    if isinstance(cfg, PrometheusSource):
        return PrometheusClient(cfg)
    if isinstance(cfg, ScrapeSource):
        return ScrapeClient(cfg, history=history)
    if isinstance(cfg, HostSource):
        return HostSampler(cfg)
    if isinstance(cfg, CsvSource):
        return CsvReplay(cfg)
    raise TypeError(f"unknown source configuration {type(cfg).__name__}")


__all__ = [
    "CsvReplay",
    "HostSampler",
    "PrometheusClient",
    "RollingWindow",
    "ScrapeClient",
    "ScrapeHistory",
    "Source",
    "build_source",
]
