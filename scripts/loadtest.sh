#!/usr/bin/env bash
# The API load test: `hotlist-matcher bench api-load` against the test
# broker (scripts/broker.sh start), with Debian's wrk as the second process
# sending logins, searches and uploads over TLS (installed here the first
# time). Prints a markdown table for docs/BENCHMARKS.md.
#
# Usage: scripts/loadtest.sh [--reads N] [--requests M]
# Environment: HOTLIST_TEST_BOOTSTRAP (default 127.0.0.1:9092).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk for the load test" >&2
  apt-get update -qq && apt-get install -y -qq wrk
fi
if [ -z "${HOTLIST_TEST_BOOTSTRAP:-}" ]; then
  scripts/broker.sh start
fi
# The dev profile is optimised (Cargo.toml), and shares the tests' build.
cargo build --bin hotlist-matcher
HOTLIST_BOOTSTRAP_SERVERS="${HOTLIST_TEST_BOOTSTRAP:-127.0.0.1:9092}" HOTLIST_LOG=error \
  target/debug/hotlist-matcher bench api-load "$@"
