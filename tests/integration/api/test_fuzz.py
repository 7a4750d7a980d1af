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
from schemathesis.specs.openapi.checks import positive_data_acceptance

EXAMPLES = int(os.environ.get("VIGIL_FUZZ_EXAMPLES", "15"))


@pytest.fixture
def fuzz_schema(app: Any, tokens: dict[str, str]) -> Any:
    app.config["FUZZ_TOKEN"] = tokens["admin"]
    return schemathesis.openapi.from_wsgi("/api/v1/swagger.json", app)


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES == 15, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_the_api_holds_its_documented_contract(case: Any, app: Any) -> None:
    # Everything but "positive data acceptance": Swagger 2.0 cannot express every rule (say,
    # "script or builtin"), so a schema-valid body may still be rightly refused with a 400.
    case.call_and_validate(headers={"Authorization": f"Bearer {app.config['FUZZ_TOKEN']}"},
                           excluded_checks=[positive_data_acceptance])
