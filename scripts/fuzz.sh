#!/usr/bin/env bash
# Fuzzes the parsers with cargo-fuzz (libFuzzer) for a bounded time each.
#
# Usage: scripts/fuzz.sh [TARGET...]      (default: every target below)
#
# Targets (fuzz/fuzz_targets/*.rs; each file says what it asserts): read,
# normalize, hotlist_csv, hotlist_fixed, hotlist_ncic, hotlist_jsonl, config,
# audit_record, day_keys. Steps:
#
# 1. Installs cargo-fuzz $CARGO_FUZZ_VERSION (cargo install --locked, into
#    $CARGO_HOME/bin, normally ~/.cargo/bin) if that version is missing.
# 2. Builds every target once into fuzz/target (its own target dir; the
#    first build also compiles the library's dependencies, bundled
#    librdkafka included: about 5 minutes on 2 cores; later builds reuse it).
#    It builds on the stable toolchain as it is, no nightly and no
#    RUSTC_BOOTSTRAP: with --sanitizer none every flag cargo-fuzz passes
#    (-Cpasses=sancov-module, -Cllvm-args=..., --cfg fuzzing,
#    -Cdebug-assertions) is a stable one. No AddressSanitizer: the library and
#    the targets are safe Rust, so ASan would add build and run time and find
#    nothing that a panic does not already report. Debug assertions and
#    overflow checks stay on.
# 3. Runs each target for HOTLIST_FUZZ_SECONDS (default 60) seconds on its
#    committed seeds fuzz/corpus/<target>/ (only read) with its dictionary
#    fuzz/dict/<target>.dict. New inputs go to a scratch corpus under
#    fuzz/target/fuzz-run/, emptied at the start of each run, so a run never
#    dirties the checkout. Crash inputs go to fuzz/artifacts/<target>/.
# 4. Prints a table: each target's result, executions, seconds and the number
#    of new inputs, and exits 1 if any target crashed (a panic, an
#    out-of-memory past -rss_limit_mb, or a single input running past
#    -timeout), after printing the crashing input's path, base64 and hex.
#
# Environment (all optional):
#   HOTLIST_FUZZ_SECONDS=N   seconds per target (60)
#   HOTLIST_FUZZ_MERGE=1     after the runs, copy the new inputs that add the
#                            most coverage (libFuzzer -merge=1) into the
#                            committed fuzz/corpus/<target>, at most
#                            HOTLIST_FUZZ_MERGE_MAX (50) per target of at most
#                            HOTLIST_FUZZ_MERGE_BYTES (8192) bytes each; review
#                            them before committing
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

CARGO_FUZZ_VERSION=0.13.2
seconds=${HOTLIST_FUZZ_SECONDS:-60}
all_targets=(read normalize hotlist_csv hotlist_fixed hotlist_ncic hotlist_jsonl config audit_record day_keys)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

# Longest input libFuzzer makes, per target: records are small, files larger.
max_len() {
  case "$1" in
    read) echo 4096 ;;
    normalize) echo 256 ;;
    hotlist_*) echo 65536 ;;
    config) echo 16384 ;;
    audit_record) echo 8192 ;;
    day_keys) echo 1024 ;;
    *) echo "unknown fuzz target $1 (known: ${all_targets[*]})" >&2; return 1 ;;
  esac
}
for t in "${targets[@]}"; do max_len "$t" >/dev/null; done

if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
  echo "installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
  nice -n 10 cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

# The same flags for every build, so cargo never rebuilds between targets.
build_flags=(--sanitizer none)
started=$(date +%s)
if [ "$*" = "" ]; then
  nice -n 10 cargo fuzz build "${build_flags[@]}"
else
  for t in "${targets[@]}"; do nice -n 10 cargo fuzz build "${build_flags[@]}" "$t"; done
fi
build_secs=$(($(date +%s) - started))
echo "fuzz build took ${build_secs} s" >&2

bin_dir=fuzz/target/x86_64-unknown-linux-gnu/release
work=fuzz/target/fuzz-run
rm -rf "$work"
mkdir -p "$work"

results=()
failed=0
for t in "${targets[@]}"; do
  scratch="$work/corpus/$t"
  artifacts="fuzz/artifacts/$t"
  log="$work/$t.log"
  mkdir -p "$scratch" "$artifacts"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=fuzz/dict/$t.dict")
  echo "fuzzing $t for ${seconds} s (log: $log)" >&2
  t0=$(date +%s)
  rc=0
  # The first corpus dir receives new inputs; the committed one is only read.
  nice -n 10 "$bin_dir/$t" \
    -max_total_time="$seconds" \
    -rss_limit_mb=2048 \
    -max_len="$(max_len "$t")" \
    -timeout=30 \
    -print_final_stats=1 \
    -artifact_prefix="$artifacts/" \
    "${dict[@]}" \
    "$scratch" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  secs=$(($(date +%s) - t0))
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs in.*/\1/p' "$log" | tail -n 1)
  [ -n "$execs" ] || execs="?"
  new=$(find "$scratch" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    status=ok
  else
    status="CRASH(rc=$rc)"
    failed=1
    echo "=== $t crashed (exit $rc); the panic, then the end of its log ($log):" >&2
    grep -a -A 3 "panicked at" "$log" >&2 || true
    echo "..." >&2
    tail -n 15 "$log" >&2
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    if [ -n "$artifact" ] && [ -f "$artifact" ]; then
      echo "crash input: $artifact ($(wc -c <"$artifact") bytes)" >&2
      echo "base64: $(base64 -w0 "$artifact")" >&2
      echo "hex: $(od -An -v -tx1 "$artifact" | tr -d ' \n')" >&2
      echo "reproduce: $bin_dir/$t $artifact" >&2
    else
      echo "no crash input was written (see the log)" >&2
    fi
  fi
  results+=("$(printf '%-14s %-12s %12s %8s %8s' "$t" "$status" "$execs" "$secs" "$new")")
done

if [ "${HOTLIST_FUZZ_MERGE:-}" = 1 ] && [ "$failed" -eq 0 ]; then
  # libFuzzer's merge runs the committed seeds first, then the new inputs
  # smallest first, and writes to its control file the coverage edges each
  # input adds to those before it. Keep the new inputs that add the most
  # edges, at most HOTLIST_FUZZ_MERGE_MAX (50) per target and only small
  # ones (HOTLIST_FUZZ_MERGE_BYTES, 8192), named by their SHA-1.
  for t in "${targets[@]}"; do
    m="$work/merge/$t"
    mkdir -p "$m/into"
    cp "fuzz/corpus/$t"/* "$m/into/"
    nice -n 10 "$bin_dir/$t" -merge=1 -merge_control_file="$m/control" \
      -max_len="$(max_len "$t")" -rss_limit_mb=2048 -timeout=30 \
      "$m/into" "$work/corpus/$t" >"$work/$t.merge.log" 2>&1
    kept=0
    while read -r path; do
      cp "$path" "fuzz/corpus/$t/"
      kept=$((kept + 1))
    done < <(awk -v max_bytes="${HOTLIST_FUZZ_MERGE_BYTES:-8192}" '
      NR == 1 { n = $1; next }
      NR == 2 { first = $1; next }
      NR <= n + 2 { path[NR - 3] = $0; next }
      $1 == "STARTED" { size[$2] = $3 }
      $1 == "COV" && $2 >= first && NF > 2 && size[$2] <= max_bytes { print NF - 2, path[$2] }
    ' "$m/control" | sort -k1,1nr -k2,2 | head -n "${HOTLIST_FUZZ_MERGE_MAX:-50}" | cut -d' ' -f2-)
    echo "merged $kept new inputs into fuzz/corpus/$t" >&2
  done
fi

echo
echo "fuzz summary (build ${build_secs} s, ${seconds} s per target)"
printf '%-14s %-12s %12s %8s %8s\n' target result executions seconds new
for row in "${results[@]}"; do echo "$row"; done
if [ "$failed" -ne 0 ]; then
  echo "fuzzing found a crash: see above" >&2
  exit 1
fi
