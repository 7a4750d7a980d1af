"""check-config finds every problem in one pass: fields, unset variables and names that
refer to nothing (a binding's detector, a channel's event), each with its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.__main__ import main
from config.errors import ConfigError
from config.loader import from_dict, load, warnings
from config.schema import BindingConfig, Config, DetectorConfig, HostSource

BROKEN = """
sources:
  - {name: host, type: host}
detectors:
  - {name: cpu, source: host, query: cpu_percent, analysis: {type: threshold, abvoe: 90}}
  - {name: mem, source: hots, query: memory_percent, interval: often, analysis: {type: threshold, above: 90}}
bindings:
  - {name: fix-cpu, remediation: restart, detector: cpux}
  - {name: fix-cpu, remediation: restart, detector: cpu}
channels:
  - {type: generic, name: hook, url: "${HOOK_URL}", secret: "0123456789abcdef0123", events: [alert.fired]}
  - {type: generic, name: other, url: "http://127.0.0.1:9/x", secret: "0123456789abcdef0123", events: [alert.fired]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(text)
    return path


def test_it_reports_every_error_of_every_layer_in_one_pass(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    with pytest.raises(ConfigError) as err:
        load(path, {})
    lines = str(err.value).splitlines()
    expected = [
        "detectors[0].analysis.abvoe: unknown key",
        "detectors[1].interval: expected a duration",
        "detectors[1].source: unknown source 'hots' (known: host)",
        "bindings[0].detector: unknown detector 'cpux' (known: cpu, mem)",
        "bindings[1].name: duplicate name 'fix-cpu' (also bindings[0])",
        "channels[0].url: environment variable HOOK_URL is not set",
        "channels[1].events[0]: Input should be",
    ]
    for fragment in expected:
        assert any(line.startswith(f"{path}: {fragment}") for line in lines), (fragment, lines)
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_an_unknown_event_name_is_shown_since_it_is_no_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, BROKEN), {"HOOK_URL": "http://127.0.0.1:9/hook-s3cr3t"})
    assert "channels[1].events[0]: Input should be" in str(err.value) and "got 'alert.fired'" in str(err.value)
    assert "s3cr3t" not in str(err.value)


def test_an_unset_variable_is_reported_once_not_again_as_a_bad_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, BROKEN), {})
    assert [line for line in str(err.value).splitlines() if "channels[0].url" in line] == [
        f"{tmp_path / 'vigil.yaml'}: channels[0].url: environment variable HOOK_URL is not set"
    ]


GOOD = """
sources:
  - {name: host, type: host}
detectors:
  - {name: cpu, source: host, query: cpu_percent, analysis: {type: threshold, above: 90}}
bindings:
  - {name: fix-latency, remediation: restart, detector: HighLatency}
"""


def test_a_binding_for_received_alerts_is_a_warning_when_ingest_is_configured(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "ingest:\n  alertmanager: {token: '${AM_TOKEN}'}\n")
    config = load(path, {"AM_TOKEN": "t" * 20})
    assert warnings(config) == [
        f"{path}: bindings[0].detector: warning: no configured detector is named "
        "'HighLatency': the binding matches only received alerts of that name"
    ]


def test_a_binding_naming_no_detector_is_an_error_when_no_alert_can_be_received(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bindings\[0\]\.detector: unknown detector 'HighLatency' \(known: cpu\)"):
        load(write(tmp_path, GOOD), {})


def test_check_config_prints_reference_and_window_warnings_and_succeeds(tmp_path: Path, capsys) -> None:
    auto = (
        "  - {name: auto, source: host, query: cpu_percent, window: 10m, interval: 1m, "
        "analysis: {type: auto, min_history: 500}}\n"
    )
    path = write(tmp_path, GOOD.replace("bindings:", auto + "bindings:") + "ingest:\n  generic: {token: x}\n")
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "bindings[0].detector: warning: no configured detector is named 'HighLatency'" in out
    assert "detectors[1] (auto): warning: analysis.min_history needs 500 points" in out


def test_check_config_lists_all_errors_and_exits_2(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, BROKEN)
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "detectors[0].analysis.abvoe" in err and "bindings[0].detector" in err and "HOOK_URL" in err


def test_a_config_built_in_code_still_rejects_unknown_names() -> None:
    host = HostSource(type="host", name="host")
    detector = DetectorConfig.model_validate(
        {"name": "cpu", "source": "nope", "query": "cpu_percent", "analysis": {"type": "threshold", "above": 1}}
    )
    with pytest.raises(ValueError, match=r"detectors\[0\]\.source: unknown source 'nope'"):
        Config(sources=[host], detectors=[detector])
    with pytest.raises(ValueError, match=r"bindings\[0\]\.detector: unknown detector 'gone'"):
        Config(sources=[host], bindings=[BindingConfig(name="b", remediation="r", detector="gone")])
    assert from_dict({"sources": [{"name": "host", "type": "host"}]}, {}).sources[0].name == "host"
