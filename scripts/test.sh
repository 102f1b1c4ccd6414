#!/usr/bin/env bash
# Runs every test: the Rust suites (on SQLite, and on PostgreSQL too when
# FERRY_TEST_DATABASE_URL is set), then the published Node SDKs and the Python Notion client
# against the `ferry` binary those suites built. Installs the pinned Node and Python packages
# first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node packages, pinned by tests/node/package-lock.json: installed before the long part, so a
# missing one fails in seconds, not after the Rust suites.
if [ ! -d tests/node/node_modules ] || [ tests/node/package-lock.json -nt tests/node/node_modules/.package-lock.json ]; then
  echo "--- installing the pinned Node packages (npm ci in tests/node)"
  (cd tests/node && npm ci --no-audit --no-fund)
fi

# Python packages, pinned with hashes by tests/python/requirements.txt, in their own venv.
venv=tests/python/.venv
if [ ! -x "$venv/bin/python" ] || [ tests/python/requirements.txt -nt "$venv/.installed" ]; then
  echo "--- installing the pinned Python packages (pip --require-hashes in $venv)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r tests/python/requirements.txt
  touch "$venv/.installed"
fi

if [ -n "${FERRY_TEST_DATABASE_URL:-}" ]; then
  echo "--- backends: SQLite and PostgreSQL (FERRY_TEST_DATABASE_URL; each test makes and drops its own database)"
else
  echo "--- backends: SQLite only (set FERRY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres to run every test on PostgreSQL too)"
fi

echo "--- Rust tests"
cargo test --workspace --locked

# The binary the Rust tests built (same profile and features): no second build.
echo "--- Node tests: @nangohq/node and @notionhq/client against target/debug/ferry"
(cd tests/node && npm test)

echo "--- Python tests: notion-client against the emulator in target/debug/ferry"
"$venv/bin/python" -m unittest discover -s tests/python -v
