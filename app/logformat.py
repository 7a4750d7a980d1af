"""Log line formats (JSON or text) and the root logger's setup; no Flask, no metrics, so that
Gunicorn's configuration can import it before prometheus-client is set up.

Log calls keep their message short and pass ids as fields (`extra={"detector": ..., "alert": ...}`):
in JSON each field is a key of the line, in text it follows the message as `key=value`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def iso_time(created: float) -> str:
    """ISO-8601 in UTC with milliseconds and the zone: 2026-12-03T16:05:56.052+00:00."""
    return datetime.fromtimestamp(created, tz=timezone.utc).isoformat(timespec="milliseconds")


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, pid, message, then the record's fields
    (and exc_info as one string with the traceback)."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(process)d %(message)s",
            rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
            json_default=str,
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["time"] = iso_time(record.created)
        super().add_fields(log_data, record, message_dict)
        # A field named like a core key (say extra={"pid": child}) must not pass for it.
        log_data.update(time=iso_time(record.created), level=record.levelname, logger=record.name, pid=record.process)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message key=value ...`; a value with spaces, quotes or a newline is
    JSON-quoted so one event stays one line that nobody can forge a second line into."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso_time(record.created)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = " ".join(f"{key}={_text(value)}" for key, value in extra_fields(record).items())
        return f"{line} {fields}" if fields else line


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a log call passed through `extra=`: everything on the record but the standard attributes."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


def _text(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if not text or any(c in text for c in ' "=\n\r\t') else text


def formatter(fmt: str) -> logging.Formatter:
    """The JSON formatter for "json", the text one for anything else."""
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure(*, fmt: str, level: str) -> None:
    """Send every log line to stderr in `fmt` ("json" or "text") from `level` up, replacing other
    handlers; also routes warnings through logging and quiets apprise and APScheduler's per-run lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a log line too, not raw stderr text
    # apprise logs full target URLs (secrets) at DEBUG; keep it quieter than that.
    logging.getLogger("apprise").setLevel(max(logging.INFO, logging.getLevelName(level)))
    # APScheduler says "Running job" and "executed successfully" at INFO on every run of every
    # detector; Vigil records each run itself. Its warnings (missed runs) still show.
    logging.getLogger("apscheduler.executors").setLevel(
        logging.WARNING if logging.getLevelName(level) > logging.DEBUG else logging.DEBUG
    )
