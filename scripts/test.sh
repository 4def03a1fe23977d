#!/usr/bin/env bash
# Runs every test on a fresh machine: installs and starts the Kafka-protocol
# broker (tansu) unless HOTLIST_TEST_BOOTSTRAP names another cluster, checks
# formatting and lints, then runs the unit, doc and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# The API tests drive the server with curl, a real TLS client.
if ! command -v curl >/dev/null 2>&1; then
  echo "installing curl for the API tests" >&2
  apt-get update -qq && apt-get install -y -qq curl
fi

if [ -z "${HOTLIST_TEST_BOOTSTRAP:-}" ]; then
  # Stop the broker afterwards only if this run started it.
  if ! (exec 3<>"/dev/tcp/127.0.0.1/${HOTLIST_BROKER_PORT:-9092}") 2>/dev/null; then
    trap 'scripts/broker.sh stop' EXIT
  fi
  scripts/broker.sh start
  export HOTLIST_TEST_BOOTSTRAP="127.0.0.1:${HOTLIST_BROKER_PORT:-9092}"
fi
echo "tests use the broker at $HOTLIST_TEST_BOOTSTRAP" >&2

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test
