"""No container engine runs here, so the deployment files are validated against Vigil itself:
every command parses with Vigil's CLI, every probe path is a real route, references resolve."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from app import create_app
from app.__main__ import _parser
from config.loader import from_dict

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="module")
def routes(tmp_path_factory) -> set[str]:
    app = create_app(from_dict({"settings": {"data_dir": str(tmp_path_factory.mktemp("d"))}}, {}))
    return {r.rule for r in app.url_map.iter_rules()}


def parses(args: list[str]) -> str:
    return _parser().parse_args(args).command


def test_compose_runs_each_role_twice_with_valid_commands_and_healthchecks(routes) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    roles = {name: parses(s["command"]) for name, s in services.items() if s.get("image", "").startswith("vigil")}
    assert roles == {"web": "web", "scheduler": "scheduler", "worker": "worker"}
    for name in roles:
        assert services[name]["deploy"]["replicas"] == 2
        assert set(services[name]["depends_on"]) <= set(services), f"{name} depends on an unknown service"
        env = services[name]["environment"]
        assert {"DATABASE_URL", "REDIS_URL", "VIGIL_EXECUTION_BACKEND"} <= set(env)
    probe = " ".join(services["web"]["healthcheck"]["test"])
    assert re.search(r"http://127\.0\.0\.1:8000(/\S+)", probe).group(1) in routes
    assert {"postgres", "redis"} <= set(services)
    assert compose["volumes"].keys() >= {"pgdata", "redisdata"}


def k8s_documents() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_kustomization_lists_existing_files_and_deployments_are_consistent(routes) -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (DEPLOY / "k8s" / resource).is_file(), resource
    for generator in kustomization["configMapGenerator"]:
        for entry in generator["files"]:
            assert (DEPLOY / "k8s" / entry.split("=", 1)[1]).resolve().is_file()
    deployments = [d for d in k8s_documents() if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"vigil-web", "vigil-scheduler", "vigil-worker"}
    for d in deployments:
        spec = d["spec"]
        assert d["apiVersion"] == "apps/v1" and spec["replicas"] == 2
        assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        [container] = pod["containers"]
        assert parses(container["args"]) == d["metadata"]["labels"]["role"]
        for probe in ("livenessProbe", "readinessProbe"):
            if probe in container:
                assert container[probe]["httpGet"]["path"] in routes
    web = next(d for d in deployments if d["metadata"]["name"] == "vigil-web")
    assert "readinessProbe" in web["spec"]["template"]["spec"]["containers"][0]


def test_the_default_config_shipped_to_containers_is_valid() -> None:
    from config.loader import load

    assert load(ROOT / "config" / "default.yaml", {}).detectors
    json.dumps(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))  # plain data, no YAML-only types
