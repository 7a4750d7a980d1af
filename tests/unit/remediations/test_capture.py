"""BoundedOutput keeps the head and the tail of a flood and says how much it dropped."""

from __future__ import annotations

from remediations.process.capture import BoundedOutput


def test_output_under_the_limit_is_kept_whole_across_chunks():
    output = BoundedOutput(10)
    for chunk in (b"abc", b"defg", b"hij"):
        output.feed(chunk)

    assert (output.text(), output.truncated, output.dropped) == ("abcdefghij", False, 0)


def test_a_flood_keeps_the_first_and_last_halves_with_a_marker_between():
    output = BoundedOutput(8)
    output.feed(b"HEAD" + b"x" * 1000)
    output.feed(b"y" * 500 + b"TAIL")

    assert output.truncated and output.dropped == 1508 - 8
    assert output.text() == "HEAD\n[... output truncated by vigil: 1500 bytes dropped ...]\nTAIL"


def test_a_zero_limit_keeps_nothing_but_counts_everything():
    output = BoundedOutput(0)
    output.feed(b"abc")

    assert output.text() == "[... output truncated by vigil: 3 bytes dropped ...]\n"


def test_a_character_cut_at_the_boundary_becomes_a_replacement_character():
    output = BoundedOutput(4)
    output.feed("é".encode() * 10)  # 2 bytes each: the head keeps one, the tail one

    assert output.text().startswith("é\n[...") and output.text().endswith("\né")


def test_nul_bytes_become_replacement_characters_so_postgresql_can_store_the_output():
    whole, cut = BoundedOutput(100), BoundedOutput(4)
    whole.feed(b"A=1\x00B=2\x00")
    cut.feed(b"\x00" * 10)

    assert whole.text() == "A=1\ufffdB=2\ufffd"
    assert "\x00" not in cut.text()
