"""The alert page's small multiples: the diagnosis' top suspects, each with its change marked."""

from __future__ import annotations

from typing import Any

TOP = 10


def label_line(labels: dict[str, str]) -> str:
    """`name{a="1", b="2"}` as Prometheus shows a series."""
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{labels.get('__name__', '')}{{{rest}}}"


def suspect_charts(diagnosis: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Chart data (as charts.js/diagnosis.js draw it) of the top suspects, best first."""
    if not diagnosis:
        return []
    return [
        {
            "rank": i + 1,
            "title": label_line(s["labels"]),
            "t": s["series"]["t"],
            "v": s["series"]["v"],
            "change_points": [s["change_at_s"]],
            "before": s["before"],
            "after": s["after"],
            "lead_s": s["lead_s"],
            "effect_sigma": s["effect_sigma"],
            "score": s["score"],
            "direction": s["direction"],
        }
        for i, s in enumerate(diagnosis.get("suspects", [])[:TOP])
    ]
