#!/usr/bin/env bash
# Runs every test on a fresh machine, in two phases:
#
# 1. The test broker, Apache Kafka 4.4 in KRaft mode (scripts/broker.sh
#    start: one node on 127.0.0.1:9092, downloaded from Maven Central the
#    first time), unless HOTLIST_TEST_BOOTSTRAP names another cluster; then
#    cargo fmt --check, clippy -D warnings, and the unit, doc and integration
#    tests against it, the board's in headless Chromium (scripts/browser.sh),
#    the metrics tests with Debian's promtool and Prometheus
#    (scripts/prometheus.sh install), after `promtool check rules` and
#    `promtool test rules` on the chart's alert rules and a check that the
#    committed Grafana dashboard is what scripts/dashboard.py generates.
#    Then Schemathesis against the live API over TLS (scripts/schemathesis.sh:
#    the OpenAPI document the server serves, a custodian's token, no 5xx, no
#    response outside the schema, no hang), the Helm chart linted, rendered
#    and validated (scripts/helm.sh), and every parser fuzzed for
#    HOTLIST_FUZZ_SECONDS (60) each (scripts/fuzz.sh, cargo-fuzz on stable).
#    The broker is stopped afterwards if this run started it.
# 2. The failover tests (the integration tests marked #[ignore]): the
#    three-node cluster (scripts/broker.sh cluster-start, 127.0.0.1:19092,
#    29092, 39092) is started, the tests kill and restart its nodes one test
#    at a time, and the cluster is always stopped afterwards, pass or fail.
#
# Environment (all optional):
#   HOTLIST_TEST_BOOTSTRAP   host:port of a broker for phase 1; none is started
#   HOTLIST_BROKER_PORT      the single node's port when this script starts it (9092)
#   HOTLIST_TEST_WEBDRIVER   URL of a running chromedriver; none is started
#   HOTLIST_WEBDRIVER_PORT   chromedriver's port when this script starts it (9515)
#   HOTLIST_SKIP_CLUSTER=1   skip phase 2 (a quicker inner loop)
#   HOTLIST_FUZZ_SECONDS     seconds per fuzz target (60)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# Run at exit, last added first: stop what this run started.
cleanup=()
on_exit() {
  local i
  for ((i = ${#cleanup[@]} - 1; i >= 0; i--)); do ${cleanup[i]} || true; done
}
trap on_exit EXIT

# The API tests drive the server with curl, a real TLS client.
if ! command -v curl >/dev/null 2>&1; then
  echo "installing curl for the API tests" >&2
  apt-get update -qq && apt-get install -y -qq curl
fi

if [ -z "${HOTLIST_TEST_BOOTSTRAP:-}" ]; then
  # Stop the broker afterwards only if this run started it.
  if ! (exec 3<>"/dev/tcp/127.0.0.1/${HOTLIST_BROKER_PORT:-9092}") 2>/dev/null; then
    cleanup+=("scripts/broker.sh stop")
  fi
  scripts/broker.sh start
  export HOTLIST_TEST_BOOTSTRAP="127.0.0.1:${HOTLIST_BROKER_PORT:-9092}"
fi
echo "tests use the broker at $HOTLIST_TEST_BOOTSTRAP" >&2

# The dispatch board's end-to-end test drives Debian's Chromium through
# chromedriver (installed the first time; about a minute).
scripts/browser.sh install
if [ -z "${HOTLIST_TEST_WEBDRIVER:-}" ]; then
  cleanup+=("scripts/browser.sh driver-stop")
  scripts/browser.sh driver-start "${HOTLIST_WEBDRIVER_PORT:-9515}"
  export HOTLIST_TEST_WEBDRIVER="http://127.0.0.1:${HOTLIST_WEBDRIVER_PORT:-9515}"
fi

# The alert rules and the dashboard, then promtool and Prometheus on PATH
# for the metrics integration tests.
scripts/prometheus.sh install
promtool check rules helm/hotlist-matcher/files/alert-rules.yaml
promtool test rules helm/hotlist-matcher/files/alert-rules.test.yaml
scripts/dashboard.sh check

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test

# The live API against its own OpenAPI document, then the parsers fuzzed.
cargo build --bin hotlist-matcher
scripts/schemathesis.sh
# The Helm chart: lint and render it with real Helm (Helm v4's Go SDK from
# PyPI), validate every manifest against Kubernetes' schemas and the
# prometheus-operator CRDs, and check that bad values are refused.
scripts/helm.sh
scripts/fuzz.sh

if [ "${HOTLIST_SKIP_CLUSTER:-}" = 1 ]; then
  echo "HOTLIST_SKIP_CLUSTER=1: the failover tests on the three-node cluster are skipped" >&2
  exit 0
fi

started=$(date +%s)
cleanup+=("scripts/broker.sh cluster-stop")
scripts/broker.sh cluster-start
export HOTLIST_TEST_CLUSTER="127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092"
echo "failover tests use the cluster at $HOTLIST_TEST_CLUSTER" >&2
cargo test --test integration -- --ignored --test-threads=1
scripts/broker.sh cluster-stop
echo "cluster phase (start, failover tests, stop) took $(($(date +%s) - started)) s" >&2
