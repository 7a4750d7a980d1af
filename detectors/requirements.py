"""What an analysis needs from its window, checked against what the window holds.

`vigil check-config` prints these warnings and the detectors API shows them, so a
window too short for its analysis is seen before it silently never alerts.
"""

from __future__ import annotations

from config.schema import AutoAnalysis, ChangePointAnalysis, DetectorConfig, ZScoreAnalysis
from config.units import format_duration
from detectors.analysis.auto import SCALES
from detectors.pipeline import default_step_s


def window_points(definition: DetectorConfig) -> int:
    """How many points one window holds at the detector's step (window / step)."""
    return int(definition.window // default_step_s(definition))


def warnings(definition: DetectorConfig) -> list[str]:
    """Plain sentences, one per need the window cannot meet (empty when all are met).

    Args:
        definition: the detector.

    Returns:
        Warnings naming the option, what it needs and what the window holds.
    """
    a = definition.analysis
    held = window_points(definition)
    at = (
        f"the window ({format_duration(definition.window)} at a {format_duration(default_step_s(definition))} "
        f"step) holds {held} points"
    )
    out: list[str] = []
    if isinstance(a, AutoAnalysis):
        history = held - max(1, int(a.hold * held))
        if a.min_history > held:
            out.append(f"analysis.min_history needs {a.min_history} points but {at}: it never leaves warm-up")
        if a.slow_points >= 2 and a.slow_points > history:
            out.append(
                f"analysis.slow_points needs {a.slow_points} points of history but {at}: "
                "the slow-baseline signal never fires"
            )
        usable = sum(1 for s in SCALES if s == 1 or s * 4 <= history) + (a.direction == "both")
        usable += a.slow_points >= 2 and a.slow_points <= history
        if a.agree > usable:
            out.append(f"analysis.agree asks {a.agree} signals to agree but {at}, enough for {usable}: it never fires")
    elif isinstance(a, ZScoreAnalysis) and a.min_history > held:
        out.append(f"analysis.min_history needs {a.min_history} points but {at}: it never leaves warm-up")
    elif isinstance(a, ChangePointAnalysis) and 2 * a.min_size > held:
        out.append(f"analysis.min_size {a.min_size} needs {2 * a.min_size} points but {at}: it never fires")
    return out
