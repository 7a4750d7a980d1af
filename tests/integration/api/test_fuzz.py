"""schemathesis against Vigil's own swagger.json: every operation, an admin token, bounded
examples. No 5xx, responses match the documented schemas, status codes are documented.
It uses the database, so `make test` runs it on SQLite and again on PostgreSQL (marker db).
VIGIL_FUZZ_EXAMPLES=200 digs deeper than the suite's 15 examples per operation. Its caches
go to a temporary directory (conftest.py), not the working tree."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

EXAMPLES = int(os.environ.get("VIGIL_FUZZ_EXAMPLES", "15"))
# Everything but "positive data acceptance": Swagger 2.0 cannot express every rule (say,
# "script or builtin"), so a schema-valid body may still be rightly refused with a 400.
# "Negative data rejection" is skipped too: some negative cases are negative only for a
# missing Authorization header, which this test adds to every call (which cases come up
# shifts with any change to the document, even at the suite's fixed 15 examples). Bad input
# is checked by tests/integration/api/test_hostile_input.py, with the real tokens.
EXCLUDED = [positive_data_acceptance, negative_data_rejection]


@pytest.fixture
def fuzz_schema(app: Any, tokens: dict[str, str]) -> Any:
    app.config["FUZZ_TOKEN"] = tokens["admin"]
    return schemathesis.openapi.from_wsgi("/api/v1/swagger.json", app)


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES == 15,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_the_api_holds_its_documented_contract(case: Any, app: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {app.config['FUZZ_TOKEN']}"}, excluded_checks=EXCLUDED)


def test_a_listed_silence_matches_its_documented_schema(fuzz_schema: Any, client: Any) -> None:
    # The fuzzer rarely creates a silence before listing them, so it never saw `matchers`
    # (documented as an object, answered as a list) until this test.
    silence = {"matchers": [{"name": "job", "value": "api"}], "duration": "1h", "comment": "deploy"}
    assert client.post("/api/v1/silences", json=silence).status_code == 201
    listed = client.get("/api/v1/silences")
    assert listed.json["items"][0]["matchers"] == [{"name": "job", "op": "=", "value": "api"}]
    fuzz_schema["/silences"]["GET"].validate_response(listed)


def test_a_previews_findings_are_documented_as_a_list(fuzz_schema: Any) -> None:
    preview = fuzz_schema["/detectors/{name}/preview"]["GET"].definition.raw["responses"]["200"]["schema"]
    assert (
        fuzz_schema.raw_schema["definitions"][preview["$ref"].rsplit("/", 1)[1]]["properties"]["findings"]["type"]
        == "array"
    )
