"""`vigil backtest` arguments: a bad period, detector, source or flag mix is exit status 2 with a
message naming the flag, before any source or database is touched; the CSV mode still works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from app.__main__ import main


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "settings": {"data_dir": str(tmp_path / "data"), "database_url": f"sqlite:///{tmp_path}/none.db"},
                "sources": [{"type": "prometheus", "name": "prom", "url": "http://127.0.0.1:9"}],  # never asked
                "detectors": [
                    {
                        "name": "cpu",
                        "source": "prom",
                        "query": "cpu",
                        "interval": "1m",
                        "window": "5m",
                        "analysis": {"type": "threshold", "above": 90},
                    }
                ],
            }
        )
    )
    return str(path)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--detector", "nope", "--since", "3d"], "--detector: no detector named 'nope'"),
        (["--detector", "cpu", "--since", "3d", "--source", "nope"], "--source: no source named 'nope'"),
        (["--detector", "cpu", "--since", "soon"], "--since: "),
        (["--detector", "cpu", "--since", "99999999999d"], "--since: too far in the past"),
        (["--detector", "cpu", "--until", "yesterday"], "--until: "),
        (["--detector", "cpu", "--since", "1d", "--until", "2d"], "--since: must be before until"),
        (["--detector", "cpu", "--since", "91d"], "--since: at most 90 days before until"),
        (["--detector", "cpu"], "--csv: give --csv FILE, or --since PERIOD"),
        (["--detector", "cpu", "--csv", "x.csv", "--since", "1d"], "--csv: replays a file"),
        (["--detector", "cpu", "--csv", "x.csv", "--json"], "--json: only with --since"),
        (["--detector", "nope", "--csv", "x.csv"], "--detector: no detector named 'nope'"),
        (["--definition", "/nonexistent.yaml", "--since", "1d"], "--definition: cannot read /nonexistent.yaml"),
    ],
)
def test_a_bad_argument_is_exit_2_naming_the_flag(
    config: str, args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config, "backtest", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vigil backtest: ") and expected in err and "Traceback" not in err


def test_a_csv_is_still_replayed_as_json_lines(tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "cpu.csv"
    rows = [f"2026-11-01T12:{m:02d}:00Z,{95 if 20 <= m < 40 else 50}" for m in range(60)]
    csv.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    assert main(["--config", config, "backtest", "--detector", "cpu", "--csv", str(csv)]) == 0
    out = capsys.readouterr()
    [alert] = [json.loads(line) for line in out.out.splitlines()]
    assert alert["start"].startswith("2026-11-01T12:2") and alert["end"].startswith("2026-11-01T12:4")
    assert json.loads(out.err)["summary"] == {"detector": "cpu", "alerts": 1, "open_at_end": 0}
