#!/usr/bin/env bash
# Runs every test: the Rust suites, then the real-client Node suites against the built binary.
# Needs `npm ci` to have been run in tests/node (`.ci/run` does it).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
cargo build --locked -p ferry
(cd tests/node && npm test)
