"""The environment and stdin a script receives: minimal, explicit, nothing from the parent.

Variables (later entries win):
    PATH=/usr/local/bin:/usr/bin:/bin, LANG=C.UTF-8, HOME and TMPDIR = the run's work dir;
    the allowed variables the caller passes (it filters them by the manifest's allowed_env);
    VIGIL_EXECUTION_ID; VIGIL_ALERT_{ID,FINGERPRINT,DETECTOR,SEVERITY,STATE,VALUE} and
    VIGIL_ALERT_LABELS (labels as JSON); VIGIL_PARAM_<NAME> for each scalar parameter
    (NAME upper-cased, other characters than A-Z, 0-9 and _ become _; booleans are
    "true"/"false", null is ""). Lists and objects are only on stdin.
A variable whose value holds a NUL byte or exceeds 32 KiB is left out (exec would refuse
it); stdin always carries the full data: {"params": ..., "alert": ..., "execution_id": ...}.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
MAX_ENV_VALUE_BYTES = 32 * 1024
ALERT_FIELDS = ("id", "fingerprint", "detector", "severity", "state", "value")
_NOT_NAME_CHAR = re.compile(r"[^A-Z0-9_]")


def build_env(
    *,
    workdir: str,
    allowed: Mapping[str, str],
    execution_id: int | str,
    alert: Mapping[str, Any] | None,
    params: Mapping[str, Any],
) -> dict[str, str]:
    """Return the complete environment of a run.

    Args:
        workdir: the run's temporary directory (HOME, TMPDIR).
        allowed: variables the manifest allows, already looked up by the caller; VIGIL_*
            names are ignored because the runner owns them.
        execution_id: the execution's id.
        alert: the alert that triggered the run, None for a manual run.
        params: the validated parameters.
    """
    env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir}
    env.update({k: v for k, v in allowed.items() if not k.startswith("VIGIL_")})
    env["VIGIL_EXECUTION_ID"] = str(execution_id)
    for key in ALERT_FIELDS:
        if alert and alert.get(key) is not None:
            env[f"VIGIL_ALERT_{key.upper()}"] = _text(alert[key])
    if alert:
        env["VIGIL_ALERT_LABELS"] = json.dumps(alert.get("labels") or {}, sort_keys=True)
    for key, value in params.items():
        if value is None or isinstance(value, (str, int, float, bool)):
            env["VIGIL_PARAM_" + _NOT_NAME_CHAR.sub("_", str(key).upper())] = _text(value)
    return {k: v for k, v in env.items() if _exec_safe(k, v)}


def stdin_payload(*, execution_id: int | str, alert: Mapping[str, Any] | None, params: Mapping[str, Any]) -> bytes:
    """The JSON document written to the script's stdin, newline-terminated."""
    doc = {"params": dict(params), "alert": dict(alert) if alert is not None else None, "execution_id": execution_id}
    # default=str: an alert may carry datetimes; the script gets their ISO-ish text.
    return json.dumps(doc, sort_keys=True, default=str).encode("utf-8") + b"\n"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _exec_safe(key: str, value: str) -> bool:
    # execve rejects NUL and "=" in names; the kernel caps one string at 128 KiB.
    return (
        "\x00" not in key + value
        and "=" not in key
        and key != ""
        and len(value.encode("utf-8", "surrogateescape")) <= MAX_ENV_VALUE_BYTES
    )
