"""The alert's diagnosis as a file in the run's work dir (VIGIL_DIAGNOSIS_FILE).

A file rather than a variable: the ranked suspects with their series run to a few
hundred KiB, over the 32 KiB a variable may hold. It sits in the work dir because that
is the one place an isolated script sees as its own (the sandbox carries it over onto
the run's fresh tmpfs, sandbox.CARRIED).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

NAME = "diagnosis.json"


def place(workdir: str, diagnosis: Mapping[str, Any] | None) -> dict[str, str]:
    """Write `diagnosis` into `workdir`; the variables to add to the run's environment.

    Args:
        workdir: the run's work dir.
        diagnosis: the diagnosis as the API answers it; None: no file, no variable.

    Returns:
        {"VIGIL_DIAGNOSIS_FILE": path} or {}.
    """
    if diagnosis is None:
        return {}
    path = os.path.join(workdir, NAME)
    with open(path, "w", encoding="utf-8") as file:
        json.dump(diagnosis, file, sort_keys=True, default=str)
    os.chmod(path, 0o444)
    return {"VIGIL_DIAGNOSIS_FILE": path}
