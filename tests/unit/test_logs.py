import json
import logging
import os
import re

from app import create_app, logformat, logs
from config.loader import from_dict


def test_json_logs_carry_one_line_per_request_with_its_id(tmp_path, capsys) -> None:
    logs.configure(fmt="json", level="INFO")
    try:
        app = create_app(from_dict({"settings": {"data_dir": str(tmp_path)}}, {}))
        app.test_client().get("/api/v1/health?token=leaky", headers={"X-Request-ID": "req-42"})
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "vigil.http" in line]
    finally:
        logging.getLogger().handlers.clear()
    [line] = lines
    assert line["request_id"] == "req-42" and line["status"] == 200
    assert "leaky" not in json.dumps(line), "query strings are never logged"


def _record(**extra) -> logging.LogRecord:
    record = logging.LogRecord("vigil.detection", logging.INFO, __file__, 1, "alert event", (), None)
    record.__dict__.update(extra)
    return record


def test_text_lines_carry_fields_after_the_message_and_quote_what_could_forge_a_line() -> None:
    line = logformat.TextFormatter().format(_record(detector="cpu", alert=42, error="a\nFAKE b"))
    assert line.endswith('alert event detector=cpu alert=42 error="a\\nFAKE b"') and "\n" not in line
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 INFO vigil.detection ", line)


def test_a_field_named_like_a_core_key_does_not_replace_it() -> None:
    line = json.loads(logformat.JsonFormatter().format(_record(pid=1, logger="x", alert=7)))
    assert (line["pid"], line["logger"], line["alert"]) == (os.getpid(), "vigil.detection", 7)


def test_apscheduler_per_run_lines_are_kept_below_info_unless_debugging() -> None:
    try:
        logs.configure(fmt="json", level="INFO")
        assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
        assert logging.getLogger("apscheduler.scheduler").isEnabledFor(logging.WARNING)
        logs.configure(fmt="text", level="DEBUG")
        assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.DEBUG)
    finally:
        logging.getLogger().handlers.clear()
        logging.getLogger("apscheduler.executors").setLevel(logging.NOTSET)
