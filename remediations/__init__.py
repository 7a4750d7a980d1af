"""Remediations: manifests, parameter templating, policy decisions and the safe script runner.

A plain library (no Flask, no database, no global config) so the scheduler, an RQ worker,
tests and benchmarks call it directly.
"""

from remediations.errors import ManifestError, ParamsError, RunnerError
from remediations.lifecycle import Action, ExecutionState, IllegalTransition, step
from remediations.manifest import (
    Manifest,
    content_hash,
    parse_manifest,
    validate_params,
    validate_schema,
    validate_script,
)
from remediations.policy import BindingPolicy, Decision, admit, breaker_should_open, decide
from remediations.runner import RunRequest, RunResult, run
from remediations.templating import render_params

__all__ = [
    "Action",
    "BindingPolicy",
    "Decision",
    "ExecutionState",
    "IllegalTransition",
    "Manifest",
    "ManifestError",
    "ParamsError",
    "RunRequest",
    "RunResult",
    "RunnerError",
    "admit",
    "breaker_should_open",
    "content_hash",
    "decide",
    "parse_manifest",
    "render_params",
    "run",
    "step",
    "validate_params",
    "validate_schema",
    "validate_script",
]
