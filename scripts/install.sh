#!/usr/bin/env bash
# Install Vigil into $VENV (default .venv), created with $PYTHON if missing.
#   install.sh run    what running needs (pyproject's dependencies), for `make run`
#   install.sh test   that plus the `test` extra (pytest, mypy, schemathesis, Playwright...)
# `run` installs with uv, itself installed from PyPI into the venv: it resolves and unpacks
# in parallel and compiles no bytecode up front, which took a first start from ~100 s to
# ~20 s of installing here. pip (as `test` uses) is the fallback if uv cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: install.sh run|test}
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
pip=("$VENV/bin/pip" install --quiet --disable-pip-version-check)

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
case "$what" in
  run)
    if ! { "${pip[@]}" --no-compile 'uv>=0.5,<1' \
        && "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" -e .; }; then
      echo "install.sh: uv could not install Vigil; falling back to pip" >&2
      "${pip[@]}" --no-compile -e .
    fi ;;
  test)
    "${pip[@]}" --upgrade pip
    "${pip[@]}" -e '.[test]' ;;
  *) echo "usage: install.sh run|test" >&2; exit 2 ;;
esac
