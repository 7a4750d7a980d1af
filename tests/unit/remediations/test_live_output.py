"""A running script's output is handed over while it runs, always as a prefix of the final output."""

from __future__ import annotations

from pathlib import Path

from remediation_helpers import request

from remediations.process.capture import BoundedOutput
from remediations.runner import run


def test_the_output_so_far_arrives_before_the_script_ends(script, tmp_path: Path) -> None:
    go = tmp_path / "go"
    # The script prints, then waits for the test to have seen that line: no sleeps to tune.
    path = script(f"#!/bin/sh\necho first\nwhile [ ! -e {go} ]; do sleep 0.02; done\necho second\n")
    seen: list[str] = []

    def watch(text: str) -> None:
        seen.append(text)
        if "first" in text:
            go.touch()

    result = run(request(path, timeout_s=30), on_output=watch)

    assert result.status == "succeeded" and result.output == "first\nsecond\n"
    assert seen[0] == "first\n"
    assert all(result.output.startswith(text) for text in seen)


def test_the_live_text_waits_for_a_cut_character_and_stops_at_the_head_once_truncated() -> None:
    output = BoundedOutput(16)
    output.feed("é".encode()[:1])
    assert output.live_text() == ""
    output.feed("é".encode()[1:] + b"ok\x00")
    assert output.live_text() == "éok\ufffd"
    output.feed(b"x" * 40)
    assert output.truncated and output.text().startswith(output.live_text())
    assert output.live_text() == "éok\ufffd" + "x" * 3
