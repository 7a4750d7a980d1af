#!/usr/bin/env bash
# The whole test suite: static checks, every test on SQLite, then the storage-backed
# tests again on PostgreSQL. pytest's exit code 5 ("no tests collected") is a failure too.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
bash scripts/services.sh

run_pytest() {
  local rc=0
  "$VENV/bin/pytest" -q -p no:cacheprovider "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: that is a failure" >&2; fi
  return "$rc"
}

echo "== static checks (ruff lint and format, mypy; hadolint runs as a test)"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy" --config-file mypy.ini

echo "== tests on SQLite"
run_pytest "$@"

echo "== storage tests on PostgreSQL"
VIGIL_TEST_DATABASE_URL=${VIGIL_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres} \
  run_pytest -m db "$@"
