"""Every duration in the configuration takes '10m'-style strings and seconds alike, through the
one shared `config.units.Duration` type; the fields are found by walking the models, so a new
one is covered (or this test says which example config to extend)."""

from __future__ import annotations

import copy
import typing
from typing import Any

import pytest
from pydantic import BaseModel, BeforeValidator

from config.errors import ConfigError
from config.loader import from_dict
from config.schema import Config
from config.units import parse_duration

FILE = "config/vigil.yaml"
# One of every model that has a duration field (a slack channel stands for every channel type).
EXAMPLE: dict[str, Any] = {
    "settings": {"automation": {}, "scheduler": {}, "silences": {}, "incidents": {}},
    "sources": [
        {"type": "prometheus", "name": "prom", "url": "http://127.0.0.1:9090"},
        {"type": "scrape", "name": "self", "url": "http://127.0.0.1:8000/metrics"},
        {"type": "host", "name": "host"},
    ],
    "detectors": [
        {
            "name": "cpu",
            "source": "host",
            "query": "cpu_percent",
            "interval": 60,
            "window": 3600,
            "step": 60,
            "analysis": {"type": "threshold", "above": 90, "for": 0, "clear_after": 0},
            "on_error": {"for": 300},
            "diagnose": {"source": "host"},
        },
    ],
    "bindings": [{"name": "restart", "remediation": "restart_service", "detector": "cpu"}],
    "channels": [{"type": "slack", "name": "ops", "url": "https://hooks.example.test/x"}],
}


def _is_duration(annotation: Any) -> bool:
    """Whether a type is (or optionally is) config.units.Duration."""
    if any(
        isinstance(m, BeforeValidator) and m.func is parse_duration for m in getattr(annotation, "__metadata__", ())
    ):
        return True
    return any(_is_duration(arg) for arg in typing.get_args(annotation))


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _declaring(model: type[BaseModel], field: str) -> type[BaseModel]:
    return next(c for c in reversed(model.__mro__) if field in getattr(c, "__annotations__", {}))


def _duration_fields() -> set[tuple[type[BaseModel], str]]:
    """(declaring model, field name) of every Duration reachable from Config."""
    found: set[tuple[type[BaseModel], str]] = set()
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [Config]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            if _is_duration(info.annotation) or any(
                isinstance(m, BeforeValidator) and m.func is parse_duration for m in info.metadata
            ):
                found.add((_declaring(model, name), name))
            todo += _models(info.annotation)
    return found


def _secondsish(model: type[BaseModel], name: str, info: Any) -> bool:
    """A number field whose name says it is a time span."""
    annotation = info.annotation
    numeric = annotation in (float, int) or set(typing.get_args(annotation)) <= {float, int, type(None)}
    return numeric and (name.endswith("_s") or name in ("timeout", "interval", "window", "cooldown"))


def _paths(value: Any, path: str = "") -> typing.Iterator[tuple[str, BaseModel]]:
    """(key path, model instance) of every model inside a validated Config."""
    if isinstance(value, BaseModel):
        yield path, value
        for name, info in type(value).model_fields.items():
            key = info.alias or name
            yield from _paths(getattr(value, name), f"{path}.{key}" if path else key)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _paths(item, f"{path}[{i}]")


def _set(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw)
    node: Any = data
    keys = [k for part in path.replace("[", ".[").split(".") for k in [part] if k]
    for key in keys[:-1]:
        node = node[int(key[1:-1])] if key.startswith("[") else node.setdefault(key, {})
    node[keys[-1]] = value
    return data


def _cases() -> list[tuple[str, type[BaseModel], str]]:
    config = from_dict(EXAMPLE, {}, FILE)
    cases, covered = [], set()
    for path, instance in _paths(config):
        for name, info in type(instance).model_fields.items():
            owner = _declaring(type(instance), name)
            if (owner, name) in _duration_fields() and (owner, name) not in covered:
                covered.add((owner, name))
                cases.append((f"{path}.{info.alias or name}" if path else name, owner, name))
    missing = _duration_fields() - covered
    assert not missing, f"extend EXAMPLE with a model holding: {sorted(f'{m.__name__}.{f}' for m, f in missing)}"
    return cases


CASES = _cases()


def test_the_example_reaches_every_duration_field() -> None:
    names = {f"{m.__name__}.{f}" for _, m, f in CASES}
    assert {
        "AutomationSettings.verify_window_s",
        "SchedulerSettings.lease_ttl_s",
        "PrometheusSource.timeout_s",
        "_Channel.repeat_interval_s",
        "BindingConfig.cooldown",
        "ThresholdAnalysis.for_",
    } <= names


def test_no_number_field_named_like_a_time_span_escapes_the_duration_type() -> None:
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [Config]
    plain = []
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            if _secondsish(model, name, info) and (_declaring(model, name), name) not in _duration_fields():
                plain.append(f"{model.__name__}.{name}")
            todo += _models(info.annotation)
    assert not plain, f"use config.units.Duration for: {plain}"


@pytest.mark.parametrize(("path", "model", "field"), CASES, ids=[c[0] for c in CASES])
def test_each_duration_accepts_a_string_with_a_unit_and_plain_seconds(path: str, model: type, field: str) -> None:
    upper = next((m.le for m in model.model_fields[field].metadata if getattr(m, "le", None) is not None), None)
    text, seconds = ("10m", 600.0) if upper is None or upper >= 600 else ("1m", 60.0)
    for given in (text, seconds, int(seconds)):
        config = from_dict(_set(EXAMPLE, path, given), {}, FILE)
        instance = dict(_paths(config))[path.rsplit(".", 1)[0]] if "." in path else config
        assert getattr(instance, field) == seconds, (path, given)


@pytest.mark.parametrize(("path", "model", "field"), CASES, ids=[c[0] for c in CASES])
def test_each_duration_refuses_words_naming_file_and_key(path: str, model: type, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        from_dict(_set(EXAMPLE, path, "ten minutes"), {}, FILE)
    assert f"{FILE}: {path}: expected a duration like '30s', got 'ten minutes'" in str(err.value)
