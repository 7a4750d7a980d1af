"""Metric sources -> pandas series -> analyses -> findings. No Flask, no database."""

from detectors.errors import AnalysisError, DetectorError, NotEnoughDataError, SourceError
from detectors.findings import Finding
from detectors.series import LabelledSeries

__all__ = ["AnalysisError", "DetectorError", "Finding", "LabelledSeries", "NotEnoughDataError", "SourceError"]
