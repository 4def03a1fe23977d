#!/usr/bin/env bash
# The test browser: Debian's Chromium and its chromedriver, for the dispatch
# board's end-to-end tests (tests/integration/webdriver.rs). What this script
# starts lives under <repo>/.browser/ (git-ignored):
#
#   .browser/chromedriver.pid   the pid of the chromedriver started here
#   .browser/chromedriver.port  the port it listens on
#   .browser/chromedriver.log   its log
#
# Subcommands:
#   scripts/browser.sh install           apt-get install chromium and chromium-driver,
#                                        only when either is missing
#   scripts/browser.sh driver-start PORT start chromedriver on 127.0.0.1:PORT in the
#                                        background and wait until GET /status says
#                                        ready; a no-op if ours already runs there
#   scripts/browser.sh driver-stop       stop that chromedriver (SIGTERM, SIGKILL
#                                        after 10 s) and the browsers it started
#   scripts/browser.sh status            show what is installed and what runs
#
# Environment (all optional):
#   HOTLIST_DRIVER_START_TIMEOUT   seconds to wait for chromedriver to be ready (30)
#
# Runs as root (CI) or through sudo when that is available.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
top="$here/.browser"
pid_file="$top/chromedriver.pid"
port_file="$top/chromedriver.port"
log_file="$top/chromedriver.log"
start_timeout="${HOTLIST_DRIVER_START_TIMEOUT:-30}"
stop_timeout=10

chromium_bin=/usr/bin/chromium
driver_bin=/usr/bin/chromedriver

say() { echo "browser: $*" >&2; }
die() { say "$*"; exit 1; }
now_ms() { date +%s%3N; }
took() { # took LABEL START_MS
  local ms=$(($(now_ms) - $2))
  say "$1 took $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# ---------------------------------------------------------------- install

installed() { [ -x "$chromium_bin" ] && [ -x "$driver_bin" ]; }

install() {
  local t0
  t0=$(now_ms)
  if installed; then
    say "chromium and chromedriver are installed ($(versions))"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "chromium or chromedriver is missing and there is no apt-get; install Chromium and its driver"
  say "installing chromium and chromium-driver with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    chromium chromium-driver >/dev/null
  installed || die "apt-get finished but $chromium_bin or $driver_bin is still missing"
  say "installed: $(versions)"
  took install "$t0"
}

versions() {
  local c d
  c=$("$chromium_bin" --version 2>/dev/null | head -n 1) || c="chromium: unknown version"
  d=$("$driver_bin" --version 2>/dev/null | head -n 1) || d="chromedriver: unknown version"
  echo "$c; $d"
}

# ----------------------------------------------------------------- driver

# The pid in the pid file, if that process is alive and is chromedriver.
driver_pid() {
  local pid
  [ -f "$pid_file" ] || return 1
  pid=$(cat "$pid_file")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  grep -aq chromedriver "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# True when GET /status on PORT answers with "ready": true.
ready() { # ready PORT
  curl -fsS --max-time 2 "http://127.0.0.1:$1/status" 2>/dev/null | grep -Eq '"ready"[[:space:]]*:[[:space:]]*true'
}

driver_start() { # driver_start PORT
  local port="${1:-}" t0 pid deadline
  case "$port" in
    '' | *[!0-9]*) die "usage: scripts/browser.sh driver-start PORT" ;;
  esac
  t0=$(now_ms)
  if pid=$(driver_pid); then
    if [ "$(cat "$port_file" 2>/dev/null)" = "$port" ] && ready "$port"; then
      say "chromedriver already runs on 127.0.0.1:$port (pid $pid)"
      return 0
    fi
    say "stopping our chromedriver (pid $pid) that is not ready on port $port"
    driver_stop
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "something else already listens on 127.0.0.1:$port"
  fi
  command -v curl >/dev/null 2>&1 || die "curl is missing (needed to ask chromedriver for /status)"
  install
  mkdir -p "$top"
  # setsid: the driver outlives the shell (and its Ctrl-C) that started it.
  setsid nohup "$driver_bin" --port="$port" --allowed-ips=127.0.0.1 --log-path="$log_file" \
    >>"$top/chromedriver.out" 2>&1 </dev/null &
  echo $! >"$pid_file"
  echo "$port" >"$port_file"
  deadline=$(($(date +%s) + start_timeout))
  until ready "$port"; do
    if ! driver_pid >/dev/null && ! { sleep 0.5 && driver_pid >/dev/null; }; then
      say "chromedriver exited; the end of its output:"
      tail -n 50 "$top/chromedriver.out" "$log_file" >&2 2>/dev/null || true
      rm -f "$pid_file" "$port_file"
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "chromedriver did not say ready on 127.0.0.1:$port within $start_timeout s"
      tail -n 50 "$log_file" >&2 2>/dev/null || true
      driver_stop
      return 1
    fi
    sleep 0.2
  done
  say "chromedriver is ready on http://127.0.0.1:$port (pid $(cat "$pid_file"), log $log_file)"
  took driver-start "$t0"
}

driver_stop() {
  local pid deadline
  if ! pid=$(driver_pid); then
    say "no chromedriver of this script runs"
    rm -f "$pid_file" "$port_file"
    return 0
  fi
  # The driver leads its own session (setsid): signal the group, so the
  # browsers it started go too.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  deadline=$(($(date +%s) + stop_timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "pid $pid ignored SIGTERM for $stop_timeout s; sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "$pid_file" "$port_file"
  say "stopped chromedriver (pid $pid)"
}

status() {
  local pid port
  if installed; then say "installed: $(versions)"; else say "chromium or chromedriver is not installed"; fi
  if pid=$(driver_pid); then
    port=$(cat "$port_file" 2>/dev/null || echo '?')
    if ready "$port"; then
      say "chromedriver: pid $pid, ready on 127.0.0.1:$port"
    else
      say "chromedriver: pid $pid on 127.0.0.1:$port, not ready"
    fi
  else
    say "chromedriver: not running from $top"
  fi
}

# -------------------------------------------------------------------- main

usage() {
  sed -n '/^# Subcommands:/,/^# Environment/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  install) install ;;
  driver-start) driver_start "$@" ;;
  driver-stop) driver_stop ;;
  status) status ;;
  *) usage ;;
esac
