"""A running execution's output since what a watcher has already seen.

The runner stores the output so far on the row about once a second (results.record_output),
always a prefix of the final output; when the run ends the final output is sent whole once
(reset), since it may carry vigil's notes or, after truncation, the kept tail.
"""

from __future__ import annotations

from typing import Any

from app.automation.models import ACTIVE_STATES, Execution


def since(execution: Execution, offset: int) -> dict[str, Any]:
    """What is new after `offset` characters; reset=true means "replace what you have"."""
    text = execution.output or ""
    done = execution.state not in ACTIVE_STATES
    reset = done or offset > len(text)
    return {
        "execution_id": execution.id,
        "state": execution.state,
        "done": done,
        "reset": reset,
        "offset": len(text),
        "text": text if reset else text[offset:],
        "exit_code": execution.exit_code,
    }
