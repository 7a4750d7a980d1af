"""Analyses as plain functions over pandas Series or numpy arrays."""

from detectors.analysis.auto import auto, auto_arrays
from detectors.analysis.batch import evaluate_all
from detectors.analysis.binseg import binseg
from detectors.analysis.changepoint import AUTO_KERNELCPD_MAX_POINTS, change_points, changepoint
from detectors.analysis.evaluate import evaluate
from detectors.analysis.noise import PENALTY_FACTOR, auto_penalty, noise_sigma
from detectors.analysis.threshold import threshold, threshold_matrix
from detectors.analysis.zscore import robust_z, zscore, zscore_matrix

__all__ = [
    "AUTO_KERNELCPD_MAX_POINTS",
    "PENALTY_FACTOR",
    "auto",
    "auto_arrays",
    "auto_penalty",
    "binseg",
    "change_points",
    "changepoint",
    "evaluate",
    "evaluate_all",
    "noise_sigma",
    "robust_z",
    "threshold",
    "threshold_matrix",
    "zscore",
    "zscore_matrix",
]
