"""Exceptions raised by detectors: they carry data and do nothing when created."""

from __future__ import annotations


class DetectorError(Exception):
    """Base class of every error raised by the detectors package."""


class SourceError(DetectorError):
    """A metric source could not deliver data.

    Attributes:
        message: a one-line, human-readable reason naming the source.
        source: the configured source name.
        permanent: True when retrying will not help (bad query, bad file, 4xx);
            False for transient trouble (timeouts, connection refused, 5xx).
    """

    def __init__(self, message: str, *, source: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.permanent = permanent


class NotEnoughDataError(DetectorError):
    """A series is too short (or too gappy) for the requested analysis.

    Attributes:
        message: what was needed.
        points: how many usable points there were.
        needed: how many points the analysis needs.
    """

    def __init__(self, message: str, *, points: int = 0, needed: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.points = points
        self.needed = needed


class AnalysisError(DetectorError):
    """An analysis was configured or called in a way it cannot honour.

    Attributes:
        message: the reason, naming the offending value.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
