"""Fixtures for notification unit tests; builders live in notify_builders.py beside this file."""

from __future__ import annotations

import random

import pytest


@pytest.fixture
def rng() -> random.Random:
    """A seeded random source, so jitter is repeatable."""
    return random.Random(1234)
