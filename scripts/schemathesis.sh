#!/usr/bin/env bash
# Property-based tests of the live HTTPS API with Schemathesis, driven by
# the OpenAPI document the server itself serves (GET /api/openapi.json,
# built from the route table by src/api/openapi.rs).
#
# 1. Installs a pinned Schemathesis into .cache/schemathesis-venv (reused
#    when it already has that version).
# 2. Uses target/debug/hotlist-matcher (built with `cargo build --bin
#    hotlist-matcher` only when it is missing: build it first to test
#    your latest changes).
# 3. Starts `hotlist-matcher demo --serve` against the broker at
#    $HOTLIST_TEST_BOOTSTRAP (default 127.0.0.1:9092; when that variable is
#    unset and nothing answers there, scripts/broker.sh start is run and the
#    broker stopped again at exit). The demo prints its URL, its self-signed
#    CA and the bootstrap custodian's password; the script logs in as that
#    custodian with curl, which may use every route.
# 4. Runs Schemathesis (examples, coverage and fuzzing phases, positive and
#    negative data) against every operation with `Authorization: Bearer
#    <token>`, verifying TLS against the demo's CA, with the checks
#    not_a_server_error (any 5xx fails, a documented 503 too: the broker
#    is local and must keep up),
#    status_code_conformance, content_type_conformance and
#    response_schema_conformance, a bounded number of examples per
#    operation, a per-request timeout (a hang fails the run) and a bound on
#    the whole run.
#
# Left out of the run, on purpose:
#   POST /api/logout        would end the token every other request uses
#   GET  /api/alerts/events an endless server-sent event stream (it would
#                           only ever end by the request timeout)
# Both are covered by the unit tests (src/api/routes_tests.rs).
#
# The demo process is always stopped at exit (SIGINT, then SIGKILL). Exits
# non-zero when Schemathesis reports a failure or an error, or the run
# exceeds its time bound. Reports (JUnit XML, a VCR cassette of every request
# and response, the document and the demo's log) are left in
# .cache/schemathesis-report/.
#
# Environment (all optional):
#   HOTLIST_TEST_BOOTSTRAP        the broker (127.0.0.1:9092)
#   SCHEMATHESIS_MAX_EXAMPLES     test cases per operation and phase (50)
#   SCHEMATHESIS_REQUEST_TIMEOUT  seconds one request may take (20)
#   SCHEMATHESIS_TIME_LIMIT       seconds the whole Schemathesis run may take (600)
#   SCHEMATHESIS_SEED             seed, to repeat a run (random)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

version=4.32.5
venv=.cache/schemathesis-venv
reports=.cache/schemathesis-report
bin=target/debug/hotlist-matcher
bootstrap="${HOTLIST_TEST_BOOTSTRAP:-127.0.0.1:9092}"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-50}"
request_timeout="${SCHEMATHESIS_REQUEST_TIMEOUT:-20}"
time_limit="${SCHEMATHESIS_TIME_LIMIT:-600}"

# Run at exit, last added first: stop what this run started.
cleanup=()
# shellcheck disable=SC2317 # called by the trap
on_exit() {
  local i
  for ((i = ${#cleanup[@]} - 1; i >= 0; i--)); do eval "${cleanup[i]}" || true; done
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# 1. Schemathesis, pinned.
if ! "$venv/bin/st" --version 2>/dev/null | grep -qx "st, version $version"; then
  echo "installing schemathesis $version into $venv" >&2
  if ! python3 -m venv "$venv" 2>/dev/null; then
    echo "installing python3-venv" >&2
    rm -rf "$venv"
    apt-get update -qq && apt-get install -y -qq python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

# 2. The server.
if [ ! -x "$bin" ]; then
  nice -n 10 cargo build --bin hotlist-matcher
fi

# 3. A broker, then the demo.
port_open() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
if [ -z "${HOTLIST_TEST_BOOTSTRAP:-}" ] && ! port_open "$bootstrap"; then
  cleanup+=("scripts/broker.sh stop")
  scripts/broker.sh start
fi

mkdir -p "$reports"
log="$reports/demo.log"
"$bin" demo --serve --bootstrap-servers "$bootstrap" >"$log" 2>&1 &
demo=$!
# shellcheck disable=SC2317 # called by on_exit
stop_demo() {
  kill -INT "$demo" 2>/dev/null || return 0
  for _ in $(seq 1 30); do
    kill -0 "$demo" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -KILL "$demo" 2>/dev/null || true
}
cleanup+=("stop_demo")

# The demo streams its reads, prints the summary, then says the API stays up.
for _ in $(seq 1 360); do
  grep -q "stay up at" "$log" && break
  if ! kill -0 "$demo" 2>/dev/null; then
    echo "the demo exited before serving:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.5
done
if ! grep -q "stay up at" "$log"; then
  echo "the demo did not come up within 180 s:" >&2
  cat "$log" >&2
  exit 1
fi
# API: https://127.0.0.1:PORT (self-signed certificate: /tmp/...pem)
url=$(sed -n 's/^API: \(https:[^ ]*\) .*/\1/p' "$log" | head -1)
ca=$(sed -n 's/^API: .*(self-signed certificate: \(.*\))$/\1/p' "$log" | head -1)
# bootstrap custodian: demo.manager / PASSWORD
read -r user password < <(sed -n 's|^bootstrap custodian: \([^ ]*\) / \([^ ]*\)$|\1 \2|p' "$log" | head -1)
if [ -z "$url" ] || [ ! -s "$ca" ] || [ -z "${password:-}" ]; then
  echo "cannot read the URL, CA or password from the demo's output:" >&2
  cat "$log" >&2
  exit 1
fi
echo "demo API at $url (CA $ca), custodian $user" >&2

login=$(python3 -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' \
  "$user" "$password")
token=$(curl -sS --fail-with-body --max-time 30 --cacert "$ca" -H 'Content-Type: application/json' -d "$login" "$url/api/login" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
schema="$reports/openapi.json"
curl -sS --fail-with-body --max-time 30 --cacert "$ca" -H "Authorization: Bearer $token" "$url/api/openapi.json" -o "$schema"
operations=$(python3 -c 'import json, sys; print(sum(len(v) for v in json.load(open(sys.argv[1]))["paths"].values()))' "$schema")
echo "the document has $operations operations; 2 are left out (logout, the event stream)" >&2

# 4. Schemathesis. Changing or disabling a user ends their sessions, and
# Schemathesis reuses the usernames GET /api/users returns: a hook points
# PUT and DELETE /api/users/{username} away from the custodian whose token
# the run uses (to a user that does not exist).
hooks="$reports/hooks"
mkdir -p "$hooks"
cat >"$hooks/hotlist_hooks.py" <<'PY'
import os

import schemathesis

PROTECTED = os.environ["HOTLIST_FUZZ_USER"]


@schemathesis.hook
def before_call(context, case, kwargs):
    parameters = case.path_parameters or {}
    if parameters.get("username") == PROTECTED:
        parameters["username"] = "not.the.fuzzing.custodian"
PY
export HOTLIST_FUZZ_USER="$user" SCHEMATHESIS_HOOKS=hotlist_hooks PYTHONPATH="$hooks${PYTHONPATH:+:$PYTHONPATH}"
seed=()
[ -n "${SCHEMATHESIS_SEED:-}" ] && seed=(--seed "$SCHEMATHESIS_SEED")
started=$(date +%s)
# In the background, so a signal to this script stops it at once.
timeout --kill-after=10 "$time_limit" "$venv/bin/st" run "$schema" \
  --url "$url" \
  --header "Authorization: Bearer $token" \
  --tls-verify "$ca" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "$max_examples" \
  --request-timeout "$request_timeout" \
  --exclude-path /api/logout \
  --exclude-path /api/alerts/events \
  --workers 1 \
  --generation-database none \
  --report junit,vcr --report-dir "$reports" \
  --no-color \
  "${seed[@]}" &
fuzzer=$!
cleanup+=("kill -TERM $fuzzer 2>/dev/null")
status=0
wait "$fuzzer" || status=$?
echo "schemathesis took $(($(date +%s) - started)) s (exit $status); reports in $reports" >&2
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  echo "schemathesis did not finish within $time_limit s" >&2
fi
# The server must still answer after the run.
if ! curl -sS --fail --max-time 10 --cacert "$ca" -H "Authorization: Bearer $token" "$url/api/session" >/dev/null; then
  echo "the server no longer answers GET /api/session with the custodian's token" >&2
  status=1
fi
exit "$status"
