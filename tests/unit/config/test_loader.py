from pathlib import Path

import pytest

from app.__main__ import main
from config.errors import ConfigError
from config.loader import from_dict, load

GOOD = """
settings:
  port: 9000
sources:
  - name: host
    type: host
detectors:
  - name: cpu
    source: host
    query: cpu_percent
    interval: 30s
    window: 10m
    analysis: {type: threshold, above: 90, for: 2m}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(text)
    return path


def test_it_reads_durations_and_nested_models(tmp_path: Path) -> None:
    config = load(write(tmp_path, GOOD), {})
    detector = config.detectors[0]
    assert (detector.interval, detector.window, detector.analysis.for_) == (30, 600, 120)
    assert config.settings.port == 9000


def test_a_bad_duration_names_file_key_path_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("interval: 30s", "interval: often"))
    with pytest.raises(ConfigError) as err:
        load(path, {})
    assert str(err.value) == f"{path}: detectors[0].interval: expected a duration like '30s', got 'often'"


def test_an_unknown_key_is_rejected_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("above: 90", "abvoe: 90"))
    with pytest.raises(ConfigError, match=r"detectors\[0\]\.analysis\.abvoe: unknown key"):
        load(path, {})


def test_a_detector_naming_a_missing_source_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown source 'nope'"):
        load(write(tmp_path, GOOD.replace("source: host", "source: nope")), {})


def test_env_references_expand_and_secrets_stay_masked(tmp_path: Path) -> None:
    text = GOOD + "  - {name: p, source: prom, query: up, analysis: {type: threshold, above: 1}}\n"
    text = text.replace(
        "sources:\n",
        "sources:\n  - {name: prom, type: prometheus, url: 'http://127.0.0.1:9090', bearer_token: '${PROM_TOKEN}'}\n",
    )
    config = load(write(tmp_path, text), {"PROM_TOKEN": "s3cr3t-value"})
    source = config.source("prom")
    assert source.bearer_token.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(config) and "s3cr3t-value" not in str(config.model_dump())


def test_a_missing_env_reference_names_the_variable_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "settings:\n  public_url: ${PUBLIC}\n")
    with pytest.raises(ConfigError, match=r"settings\.public_url: environment variable PUBLIC is not set"):
        load(path, {})


def test_environment_overrides_settings() -> None:
    config = from_dict({}, {"VIGIL_PORT": "8123", "VIGIL_DATA_DIR": "/tmp/x"})
    assert (config.settings.port, config.settings.data_dir) == (8123, "/tmp/x")


def test_invalid_yaml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(write(tmp_path, "settings: [unclosed"), {})
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "absent.yaml", {})


def test_check_config_exits_non_zero_with_the_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(write(tmp_path, GOOD))]) == 0
    bad = write(tmp_path, GOOD.replace("window: 10m", "window: 10 minutes"))
    assert main(["check-config", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "detectors[0].window: expected a duration like '30s', got '10 minutes'" in err
    assert "Traceback" not in err


def test_the_shipped_default_config_is_valid() -> None:
    config = load(None, {})
    assert config.settings.port == 8000


def test_the_default_config_watches_this_host_out_of_the_box() -> None:
    from datetime import datetime, timezone

    from detectors import pipeline
    from detectors.sources import build_source

    config = load(None, {})
    host = [d for d in config.detectors if d.source == "host"]
    assert {d.query for d in host} >= {"cpu_percent", "memory_percent", "disk_percent"}
    source = build_source(config.source("host"))
    for definition in host:
        result = pipeline.run(definition, source, now=datetime.now(timezone.utc))
        assert result.error is None and result.points >= 1, definition.name
    assert any(s.type == "scrape" and s.url.path == "/metrics" for s in config.sources), "Vigil watches itself"


def test_check_config_warns_when_a_window_is_too_short_for_its_analysis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = GOOD.replace(
        "analysis: {type: threshold, above: 90, for: 2m}", "analysis: {type: zscore, min_history: 500}"
    )
    assert main(["check-config", "--config", str(write(tmp_path, short))]) == 0  # a warning, not an error
    out = capsys.readouterr().out
    assert "detectors[0] (cpu): warning: analysis.min_history needs 500 points" in out
    assert "never leaves warm-up" in out


def test_the_shipped_default_config_has_no_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 0
    assert "warning" not in capsys.readouterr().out


def test_api_field_errors_name_the_key_as_the_config_error_does_and_never_echo_a_secret() -> None:
    from pydantic import ValidationError

    from config.loader import describe, field_errors
    from config.schema import Config

    raw = {
        "settings": {"port": "high", "database_url": 31337424242},
        "detectors": [
            {"name": "cpu", "source": "host", "query": "q", "analysis": {"type": "threshold"}, "colour": "red"}
        ],
    }
    with pytest.raises(ValidationError) as caught:
        Config.model_validate(raw)
    errors = field_errors(caught.value)
    assert errors["settings.port"].startswith("Input should be a valid integer")
    assert errors["detectors[0].colour"] == "unknown key"
    # The same key paths and messages as a config file's error lines.
    lines = describe("vigil.yaml", caught.value).splitlines()
    assert sorted(lines) == sorted(f"vigil.yaml: {k}: {v}" for k, v in errors.items())
    assert "settings.database_url" in errors
    assert "31337424242" not in str(errors)
    with pytest.raises(ValidationError) as whole:
        Config.model_validate([1])
    assert list(field_errors(whole.value, "definition")) == ["definition"]
