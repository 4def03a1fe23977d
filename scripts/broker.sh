#!/usr/bin/env bash
# Installs (if missing), starts, waits for and stops the test broker: tansu,
# a Kafka-protocol broker written in Rust, on SQLite storage at 127.0.0.1:9092.
#
#   scripts/broker.sh install   # cargo install tansu 0.6.0 (about 20 min the first time)
#   scripts/broker.sh start     # start in the background, wait until it answers
#   scripts/broker.sh stop      # stop the broker this script started
#
# HOTLIST_BROKER_PORT changes the port (default 9092).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
port="${HOTLIST_BROKER_PORT:-9092}"
state="$here/.tansu"
tansu_version="0.6.0"
export PATH="$HOME/.cargo/bin:$PATH"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

install() {
  if command -v tansu >/dev/null 2>&1 && tansu --version 2>/dev/null | grep -q "$tansu_version"; then
    return 0
  fi
  echo "broker: installing tansu $tansu_version (cargo install, about 20 minutes on 2 cores)..." >&2
  cargo install tansu --version "$tansu_version" --locked --no-default-features --features libsql
}

start() {
  if answers; then
    echo "broker: something already answers on 127.0.0.1:$port; using it" >&2
    return 0
  fi
  install
  rm -rf "$state" && mkdir -p "$state"
  (
    cd "$state"
    nohup tansu broker --silent \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine "sqlite://tansu.db?maintenance_interval=1m" \
      >"$state/broker.log" 2>&1 &
    echo $! >"$state/pid"
  )
  for _ in $(seq 1 150); do
    if answers; then
      echo "broker: tansu answers on 127.0.0.1:$port (pid $(cat "$state/pid"))" >&2
      return 0
    fi
    if ! kill -0 "$(cat "$state/pid")" 2>/dev/null; then
      echo "broker: tansu exited; its log:" >&2
      cat "$state/broker.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "broker: tansu did not answer within 30 s; its log:" >&2
  cat "$state/broker.log" >&2
  return 1
}

stop() {
  if [ -f "$state/pid" ]; then
    kill "$(cat "$state/pid")" 2>/dev/null || true
    rm -f "$state/pid"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
