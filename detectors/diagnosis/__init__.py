"""Diagnosis: which of many signals changed with an alert, likely causes first (no Flask, no DB)."""

from __future__ import annotations

from detectors.diagnosis.rank import Diagnosis, Params, Suspect, diagnose, diagnose_series
from detectors.diagnosis.scan import Steps, jump_scan

__all__ = ["Diagnosis", "Params", "Steps", "Suspect", "diagnose", "diagnose_series", "jump_scan"]
