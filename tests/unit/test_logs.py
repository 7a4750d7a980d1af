import json
import logging

from app import create_app, logs
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
