#!/usr/bin/env bash
# Install Vigil into $VENV (default .venv), created with $PYTHON if missing.
#   install.sh run    what running needs (pyproject's dependencies), for `make run`
#   install.sh test   that plus the `test` extra (pytest, mypy, schemathesis, Playwright...)
# `run` installs with uv, itself installed from PyPI into the venv: it resolves and unpacks
# in parallel and compiles no bytecode up front (installing took 19 s of CPU instead of the
# 85 s pip took for everything). The venv gets pip only when something needs it: ensurepip
# alone cost ~7 s of CPU. pip is the fallback wherever uv cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: install.sh run|test}
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
quiet=(--quiet --disable-pip-version-check)

ensure_pip() {
  [ -x "$VENV/bin/pip" ] || "$VENV/bin/python" -m ensurepip --upgrade --default-pip >/dev/null
}

install_uv() {
  [ -x "$VENV/bin/uv" ] && return 0
  # The interpreter's own pip puts uv into the venv (no pip needed inside); else the venv's.
  "$PYTHON" -m pip install "${quiet[@]}" --no-compile --ignore-installed --root-user-action=ignore --prefix "$VENV" \
      'uv>=0.5,<1' 2>/dev/null \
    || { ensure_pip && "$VENV/bin/pip" install "${quiet[@]}" --no-compile 'uv>=0.5,<1'; }
}

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv --without-pip "$VENV"
case "$what" in
  run)
    if ! { install_uv && "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" -e .; }; then
      echo "install.sh: uv could not install Vigil; falling back to pip" >&2
      ensure_pip
      "$VENV/bin/pip" install "${quiet[@]}" --no-compile -e .
    fi ;;
  test)
    ensure_pip
    "$VENV/bin/pip" install "${quiet[@]}" --upgrade pip
    "$VENV/bin/pip" install "${quiet[@]}" -e '.[test]' ;;
  *) echo "usage: install.sh run|test" >&2; exit 2 ;;
esac
