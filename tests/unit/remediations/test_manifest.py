"""Manifest validation names the field and the reason; content_hash is stable and sensitive."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from remediations.errors import ManifestError, ParamsError
from remediations.manifest import content_hash, parse_manifest, validate_params, validate_script

SCRIPT = "#!/bin/sh\necho hi\n"


def manifest_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "restart-api",
        "description": "restart the api",
        "script": SCRIPT,
        "params_schema": {"type": "object", "properties": {"unit": {"type": "string"}}, "required": ["unit"]},
        "timeout_s": 30,
        "max_concurrency": 2,
        "allowed_env": ["API_TOKEN"],
    }
    fields.update(overrides)
    return fields


def test_a_valid_manifest_parses_with_normalised_fields():
    manifest = parse_manifest(manifest_fields())

    assert manifest.name == "restart-api"
    assert manifest.timeout_s == 30.0 and isinstance(manifest.timeout_s, float)
    assert manifest.allowed_env == ("API_TOKEN",)
    assert manifest.builtin is None


@pytest.mark.parametrize(
    "script, reason",
    [
        ("echo hi\n", 'must start with a "#!" line'),
        ("#!sh\necho hi\n", "absolute interpreter path, got 'sh'"),
        ("#!/bin/sh\r\necho hi\r\n", "Windows line endings"),
        ("#!/bin/sh\necho \x00\n", "NUL byte at offset 15"),
        ("#!/bin/sh\n" + "#" * 300_000, "more than the 262144 allowed"),
        ("#!/" + "x" * 300 + "\n", "more than the 255 the kernel reads"),
    ],
    ids=["no-shebang", "relative-interpreter", "crlf", "nul", "too-large", "long-shebang"],
)
def test_a_bad_script_is_rejected_naming_the_script_field(script, reason):
    with pytest.raises(ManifestError, match=reason) as caught:
        parse_manifest(manifest_fields(script=script))

    assert caught.value.field == "script"


def test_script_bytes_must_be_utf8():
    with pytest.raises(ManifestError, match="not valid UTF-8") as caught:
        validate_script(b"#!/bin/sh\necho \xff\n")

    assert caught.value.field == "script"


def test_the_script_size_limit_is_configurable():
    with pytest.raises(ManifestError, match="more than the 16 allowed"):
        validate_script(SCRIPT + "echo more\n", max_bytes=16)
    assert validate_script(b"#!/bin/sh\n", max_bytes=16) == "#!/bin/sh\n"


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("name", "Restart API", "name must be 1-63 characters"),
        ("name", "-leading-dash", "name must be"),
        ("name", "x" * 64, "name must be"),
        ("timeout_s", 0, "timeout_s must be a number between 1 and 3600, got 0"),
        ("timeout_s", 3601, "between 1 and 3600"),
        ("timeout_s", True, "got True"),
        ("timeout_s", "30", "got '30'"),
        ("max_concurrency", 0, "max_concurrency must be an integer between 1 and 64"),
        ("max_concurrency", 65, "between 1 and 64"),
        ("max_concurrency", 1.5, "an integer"),
        ("params_schema", {"type": "strnig"}, "not a valid JSON Schema at type"),
        ("params_schema", {"properties": {"x": {"minimum": "5"}}}, "at properties/x/minimum"),
        ("params_schema", [], "params_schema must be an object"),
        ("allowed_env", "TOKEN", "list of variable names"),
        ("allowed_env", ["LD_PRELOAD"], "LD_PRELOAD is reserved"),
        ("allowed_env", ["PATH"], "PATH is reserved"),
        ("allowed_env", ["VIGIL_EXECUTION_ID"], "reserved"),
        ("allowed_env", ["A-B"], "not a variable name"),
        ("description", 5, "description must be a string"),
        ("unexpected", 1, "unknown manifest field 'unexpected'"),
    ],
)
def test_a_bad_field_is_rejected_naming_the_field(field, value, reason):
    with pytest.raises(ManifestError, match=reason) as caught:
        parse_manifest(manifest_fields(**{field: value}))

    assert caught.value.field == field


def test_content_hash_is_stable_for_identical_content():
    first = parse_manifest(manifest_fields())
    # Same content, different key order, int vs float timeout, env names reordered.
    second = parse_manifest(
        manifest_fields(
            params_schema={"required": ["unit"], "properties": {"unit": {"type": "string"}}, "type": "object"},
            timeout_s=30.0,
            allowed_env=["API_TOKEN", "API_TOKEN"],
        )
    )

    assert content_hash(first) == content_hash(second)
    assert len(content_hash(first)) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"script": SCRIPT + "\n"},
        {"description": "restart the API"},
        {"timeout_s": 31},
        {"max_concurrency": 3},
        {"allowed_env": ["API_TOKEN", "OTHER"]},
        {"name": "restart-api2"},
        {"params_schema": {"type": "object"}},
        {"builtin": "echo"},
    ],
)
def test_content_hash_changes_with_any_field(change):
    base = parse_manifest(manifest_fields())

    assert content_hash(parse_manifest(manifest_fields(**change))) != content_hash(base)


def test_a_manifest_is_immutable():
    manifest = parse_manifest(manifest_fields())

    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.name = "other"  # type: ignore[misc]


def test_valid_params_are_returned():
    schema = manifest_fields()["params_schema"]

    assert validate_params(schema, {"unit": "nginx"}) == {"unit": "nginx"}


def test_invalid_params_report_each_json_path_and_reason():
    schema = {
        "type": "object",
        "required": ["unit", "host"],
        "properties": {"unit": {"type": "string"}, "ports": {"type": "array", "items": {"type": "integer"}}},
    }

    with pytest.raises(ParamsError) as caught:
        validate_params(schema, {"unit": 5, "ports": [80, "x"]})

    assert caught.value.errors == {
        "$.host": "is required",
        "$.unit": "5 is not of type 'string'",
        "$.ports[1]": "'x' is not of type 'integer'",
    }
    assert "$.host: is required" in str(caught.value)


def test_params_must_be_an_object():
    with pytest.raises(ParamsError) as caught:
        validate_params({"type": "object"}, ["unit"])

    assert caught.value.errors == {"$": "expected an object"}
