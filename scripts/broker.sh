#!/usr/bin/env bash
# The test broker: Apache Kafka 4.4.0 in KRaft mode, run straight from its
# Maven Central jars (no tarball, no ZooKeeper). Everything it creates lives
# under <repo>/.kafka/ (git-ignored):
#
#   .kafka/libs/     the jars (scripts/kafka/pom.xml), plus .pom.sha256
#   .kafka/tls/      test CA, broker certificate, client settings
#   .kafka/single/   the single-node broker: server.properties, data/, broker.log, pid
#   .kafka/cluster/  the three-node cluster: nodeN/{server.properties,data/,broker.log,pid}
#
# Subcommands:
#   scripts/broker.sh install        download the jars with Maven (only when
#                                    .kafka/libs is missing or the pom changed)
#   scripts/broker.sh start          start one combined broker+controller on a fresh
#                                    state dir and wait until it answers; a no-op if
#                                    something already answers on 127.0.0.1:9092
#                                      PLAINTEXT  127.0.0.1:9092
#                                      CONTROLLER 127.0.0.1:9093
#                                      SASL_SSL   127.0.0.1:9094 (SCRAM-SHA-512, user
#                                                 "hotlist", CA in .kafka/tls/ca.pem)
#   scripts/broker.sh stop           stop that broker (SIGTERM, SIGKILL after 30 s)
#   scripts/broker.sh status         show what runs and what answers
#   scripts/broker.sh client-props   print the librdkafka settings for the SASL_SSL
#                                    listener; also writes .kafka/tls/client.properties
#                                    (librdkafka) and client-java.properties (Java tools)
#   scripts/broker.sh perf [BOOTSTRAP]
#                                    Kafka's ProducerPerformance then ConsumerPerformance
#                                    (1,000,000 records of 300 bytes, acks=1, no
#                                    throttle) on a fresh 6-partition topic against
#                                    BOOTSTRAP (default 127.0.0.1:9092); the topic is
#                                    deleted afterwards
#   scripts/broker.sh cluster-start  start three combined KRaft nodes on fresh state:
#                                    node N has PLAINTEXT 127.0.0.1:N9092 and
#                                    CONTROLLER 127.0.0.1:N9093 (N = 1, 2, 3)
#   scripts/broker.sh cluster-stop   stop all three nodes
#   scripts/broker.sh kill N         kill -9 node N of the cluster
#   scripts/broker.sh restart N      start node N again on its existing data
#   scripts/broker.sh run CLASS [ARG...]
#                                    run any Kafka class with these jars, e.g.
#                                    org.apache.kafka.tools.TopicCommand
#   scripts/broker.sh topics [ARG...]   shorthand for run org.apache.kafka.tools.TopicCommand
#   scripts/broker.sh configs [ARG...]  shorthand for run org.apache.kafka.tools.ConfigCommand
#
# Environment (all optional):
#   HOTLIST_BROKER_PORT            single node PLAINTEXT port (9092)
#   HOTLIST_BROKER_CONTROLLER_PORT single node CONTROLLER port (9093)
#   HOTLIST_BROKER_SASL_PORT       single node SASL_SSL port (9094)
#   HOTLIST_TEST_SCRAM_PASSWORD    the SCRAM password of user "hotlist"
#                                  (hotlist-test-secret)
#   HOTLIST_BROKER_START_TIMEOUT   seconds to wait for a broker to answer (90)
#   HOTLIST_PERF_RECORDS, HOTLIST_PERF_RECORD_SIZE, HOTLIST_PERF_ACKS,
#   HOTLIST_PERF_REPLICATION       perf's record count, size, acks, replication factor
#
# Needs Java 17+, Maven (install only) and openssl (TLS files, made once);
# missing ones are installed with apt-get when it is available.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
top="$here/.kafka"
libs="$top/libs"
tls_dir="$top/tls"
single="$top/single"
cluster="$top/cluster"
pom="$here/scripts/kafka/pom.xml"
log_config="$here/scripts/kafka/log4j2.properties"

plain_port="${HOTLIST_BROKER_PORT:-9092}"
controller_port="${HOTLIST_BROKER_CONTROLLER_PORT:-9093}"
sasl_port="${HOTLIST_BROKER_SASL_PORT:-9094}"
scram_user="hotlist"
scram_password="${HOTLIST_TEST_SCRAM_PASSWORD:-hotlist-test-secret}"
start_timeout="${HOTLIST_BROKER_START_TIMEOUT:-90}"
stop_timeout=30

single_heap="-Xmx512m -Xms256m"
cluster_heap="-Xmx384m -Xms128m"
tool_heap="-Xmx512m"
# What kafka-run-class.sh passes to a broker.
jvm_opts=(-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=file:$log_config")

# Three-node cluster: node N listens on N9092 (PLAINTEXT) and N9093 (CONTROLLER).
cluster_nodes=(1 2 3)
cluster_bootstrap="127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092"
cluster_controllers="127.0.0.1:19093,127.0.0.1:29093,127.0.0.1:39093"

storage_tool="kafka.tools.StorageTool"
topic_command="org.apache.kafka.tools.TopicCommand"
config_command="org.apache.kafka.tools.ConfigCommand"
producer_perf="org.apache.kafka.tools.ProducerPerformance"
consumer_perf="org.apache.kafka.tools.ConsumerPerformance"

say() { echo "broker: $*" >&2; }
die() { say "$*"; exit 1; }
now_ms() { date +%s%3N; }
took() { # took LABEL START_MS
  local ms=$(($(now_ms) - $2))
  say "$1 took $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
}
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Installs a Debian package when COMMAND is missing (fresh CI machines).
need() { # need COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "$1 is missing; install $2"
  say "installing $2 for $1"
  apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
}

# ---------------------------------------------------------------- install

install() {
  local t0 want have=""
  t0=$(now_ms)
  need java openjdk-17-jre-headless
  want=$(sha256sum "$pom" | cut -d' ' -f1)
  [ -f "$libs/.pom.sha256" ] && have=$(cat "$libs/.pom.sha256")
  if [ -d "$libs" ] && [ "$have" = "$want" ]; then
    say "jars are up to date in $libs"
  else
    need mvn maven
    say "downloading Kafka's jars from Maven Central into $libs"
    rm -rf "$libs" "$libs.tmp"
    mkdir -p "$top"
    # -q still prints bare ANSI resets (and any errors): strip them, to stderr.
    mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$libs.tmp" 2>&1 |
      sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2
    echo "$want" >"$libs.tmp/.pom.sha256"
    mv "$libs.tmp" "$libs"
  fi
  took install "$t0"
}

# -------------------------------------------------------------------- TLS

# Made once: a test CA, a broker certificate for IP:127.0.0.1 and
# DNS:localhost signed by it (server.pem = PKCS#8 key + chain, the layout of
# Kafka's PEM keystore), and an unrelated CA for clients that must not trust
# the broker.
tls() {
  [ -f "$tls_dir/ca.pem" ] && [ -f "$tls_dir/server.pem" ] && [ -f "$tls_dir/other-ca.pem" ] && return 0
  need openssl openssl
  say "generating the test CA and broker certificate in $tls_dir"
  local tmp="$tls_dir.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  (
    cd "$tmp"
    umask 077
    for ca in ca other-ca; do
      openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -subj "/CN=hotlist-matcher test $ca" -keyout "$ca.key" -out "$ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    done
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout server.key.raw -out server.csr 2>/dev/null
    openssl pkcs8 -topk8 -nocrypt -in server.key.raw -out server.key
    cat >server.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EOF
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
      -days 825 -sha256 -extfile server.ext -out server.crt 2>/dev/null
    openssl verify -CAfile ca.pem server.crt >/dev/null
    cat server.key server.crt ca.pem >server.pem
    rm -f server.key.raw server.csr server.ext
    chmod 644 ca.pem other-ca.pem server.crt
  )
  rm -rf "$tls_dir" && mv "$tmp" "$tls_dir"
}

# Writes the client settings for the SASL_SSL listener: client.properties
# (librdkafka) and client-java.properties (Kafka's Java tools).
write_client_props() {
  case "$scram_password" in
    *[!A-Za-z0-9._~@%+-]*) die "HOTLIST_TEST_SCRAM_PASSWORD may hold only A-Z a-z 0-9 . _ ~ @ % + -" ;;
  esac
  cat >"$tls_dir/client.properties" <<EOF
bootstrap.servers=127.0.0.1:$sasl_port
security.protocol=SASL_SSL
sasl.mechanisms=SCRAM-SHA-512
sasl.username=$scram_user
sasl.password=$scram_password
ssl.ca.location=$tls_dir/ca.pem
EOF
  cat >"$tls_dir/client-java.properties" <<EOF
bootstrap.servers=127.0.0.1:$sasl_port
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$scram_user" password="$scram_password";
ssl.truststore.type=PEM
ssl.truststore.location=$tls_dir/ca.pem
EOF
}

client_props() {
  tls
  write_client_props
  cat "$tls_dir/client.properties"
  say "written to $tls_dir/client.properties (Java tools: $tls_dir/client-java.properties)"
}

# --------------------------------------------------------------- processes

# Runs a Kafka class with the jars; tools log at WARN to stderr.
run() {
  [ -d "$libs" ] || install
  # shellcheck disable=SC2086
  java $tool_heap -Dhotlist.kafka.log.level=WARN "-Dlog4j2.configurationFile=file:$log_config" \
    -cp "$libs/*" "$@"
}

format() { # format DIR CLUSTER_ID FORMAT_ARGS...
  local dir=$1 cid=$2
  shift 2
  run "$storage_tool" format -t "$cid" -c "$dir/server.properties" "$@" >"$dir/format.log" 2>&1 ||
    { cat "$dir/format.log" >&2; die "formatting $dir failed"; }
}

# Starts the broker whose server.properties is in DIR, detached, appending to
# DIR/broker.log; its pid goes to DIR/pid.
launch() { # launch DIR HEAP
  local dir=$1 heap=$2
  # setsid: the broker outlives the shell (and its Ctrl-C) that started it.
  # shellcheck disable=SC2086
  setsid nohup java $heap "${jvm_opts[@]}" -cp "$libs/*" kafka.Kafka "$dir/server.properties" \
    >>"$dir/broker.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
}

# The pid in DIR/pid, if that process is alive and is the broker of DIR.
pid_of() { # pid_of DIR
  local pid
  [ -f "$1/pid" ] || return 1
  pid=$(cat "$1/pid")
  kill -0 "$pid" 2>/dev/null && grep -aqF "$1/server.properties" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# Waits until the broker of DIR answers on every PORT and has logged, after
# line SKIP of its log, that it started. On failure prints the log's end and
# stops the broker.
wait_ready() { # wait_ready DIR SKIP PORT...
  local dir=$1 skip=$2 deadline port ok
  shift 2
  deadline=$(($(date +%s) + start_timeout))
  while :; do
    # Checked twice: while the process execs (setsid, nohup, java) its
    # /proc cmdline can read empty for a moment.
    if ! pid_of "$dir" >/dev/null && ! { sleep 0.5 && pid_of "$dir" >/dev/null; }; then
      say "the broker of $dir exited; the end of $dir/broker.log:"
      tail -n 150 "$dir/broker.log" >&2
      return 1
    fi
    ok=1
    for port in "$@"; do answers "$port" || ok=0; done
    if [ $ok = 1 ] && awk -v n="$skip" 'NR > n && /Kafka Server started/ { f = 1; exit } END { exit !f }' "$dir/broker.log"; then
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "the broker of $dir did not answer on $* within $start_timeout s; the end of $dir/broker.log:"
      tail -n 150 "$dir/broker.log" >&2
      stop_dirs "$dir"
      return 1
    fi
    sleep 0.25
  done
}

# SIGTERM to the brokers of every DIR, then SIGKILL to those still alive
# after $stop_timeout s.
stop_dirs() { # stop_dirs DIR...
  local dir pid pids=() deadline
  for dir in "$@"; do
    if pid=$(pid_of "$dir"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$dir/pid"
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  deadline=$(($(date +%s) + stop_timeout))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$(date +%s)" -ge "$deadline" ]; then
        say "pid $pid ignored SIGTERM for $stop_timeout s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2
    done
  done
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    say "stopped pid $pid"
  done
}

# A Kafka Uuid, as StorageTool random-uuid prints it (16 random bytes in
# unpadded base64url, never starting with "-"), without a JVM start.
kafka_uuid() {
  local id="-"
  while [ "${id#-}" != "$id" ]; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  echo "$id"
}

log_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# ------------------------------------------------------------ single node

single_properties() {
  cat <<EOF
# Written by scripts/broker.sh start; the state dir is recreated on each start.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$plain_port,CONTROLLER://127.0.0.1:$controller_port,SASL_SSL://127.0.0.1:$sasl_port
advertised.listeners=PLAINTEXT://127.0.0.1:$plain_port,CONTROLLER://127.0.0.1:$controller_port,SASL_SSL://127.0.0.1:$sasl_port
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$single/data

# SASL_SSL: SCRAM-SHA-512 over TLS; the credential is added by the format.
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$tls_dir/server.pem

# Only what one node needs (internal topics cannot have 3 replicas) and no
# delay before a new group's first rebalance. Everything else is Kafka's default.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Check retention every 2 s instead of every 5 minutes, so a test can watch a
# topic with a short retention.ms really delete (timing only; what is deleted
# is decided by the topic's own configs, as in production).
log.retention.check.interval.ms=2000
EOF
}

start() {
  local t0 cid pid
  t0=$(now_ms)
  if answers "$plain_port"; then
    say "something already answers on 127.0.0.1:$plain_port; using it"
    return 0
  fi
  install
  tls
  write_client_props
  stop_dirs "$single" # a broker of ours that no longer answers
  rm -rf "$single" && mkdir -p "$single"
  single_properties >"$single/server.properties"
  cid=$(kafka_uuid)
  format "$single" "$cid" --standalone \
    --add-scram "SCRAM-SHA-512=[name=$scram_user,password=$scram_password]"
  launch "$single" "$single_heap"
  wait_ready "$single" 0 "$plain_port" "$sasl_port"
  pid=$(pid_of "$single")
  say "Kafka 4.4.0 answers on PLAINTEXT 127.0.0.1:$plain_port and SASL_SSL 127.0.0.1:$sasl_port (pid $pid, log $single/broker.log)"
  took start "$t0"
}

stop() {
  if pid_of "$single" >/dev/null; then
    stop_dirs "$single"
  else
    say "no broker of this script runs in $single"
    rm -f "$single/pid"
  fi
}

status() {
  local pid dir n port
  if pid=$(pid_of "$single"); then
    say "single node: pid $pid (log $single/broker.log)"
  else
    say "single node: not running from $single"
  fi
  for port in "$plain_port" "$controller_port" "$sasl_port"; do
    if answers "$port"; then say "  127.0.0.1:$port answers"; else say "  127.0.0.1:$port does not answer"; fi
  done
  for n in "${cluster_nodes[@]}"; do
    dir="$cluster/node$n"
    if pid=$(pid_of "$dir"); then
      say "cluster node $n: pid $pid, 127.0.0.1:${n}9092 $(answers "${n}9092" && echo answers || echo 'does not answer')"
    else
      say "cluster node $n: not running"
    fi
  done
}

# ----------------------------------------------------------------- cluster

node_properties() { # node_properties N
  local n=$1
  cat <<EOF
# Written by scripts/broker.sh cluster-start (node $n of 3).
process.roles=broker,controller
node.id=$n
controller.quorum.bootstrap.servers=$cluster_controllers
listeners=PLAINTEXT://127.0.0.1:${n}9092,CONTROLLER://127.0.0.1:${n}9093
advertised.listeners=PLAINTEXT://127.0.0.1:${n}9092,CONTROLLER://127.0.0.1:${n}9093
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$cluster/node$n/data

# Internal topics: 3 replicas, and transactions need 2 in sync (these are
# Kafka's defaults, spelled out). No delay before a group's first rebalance.
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
group.initial.rebalance.delay.ms=0
EOF
}

node_dir() { # node_dir N: checks N
  case "${1:-}" in 1 | 2 | 3) echo "$cluster/node$1" ;; *) die "the node must be 1, 2 or 3, not '${1:-}'" ;; esac
}

cluster_start() {
  local t0 cid n up=0 voters="" dir_id pid pids=()
  t0=$(now_ms)
  for n in "${cluster_nodes[@]}"; do answers "${n}9092" && up=$((up + 1)); done
  if [ $up = 3 ]; then
    say "the cluster already answers on $cluster_bootstrap"
    return 0
  fi
  [ $up = 0 ] || die "only $up of 3 nodes answer; use restart N, or cluster-stop then cluster-start"
  install
  stop_dirs "$cluster"/node*
  rm -rf "$cluster" && mkdir -p "$cluster"
  cid=$(kafka_uuid)
  echo "$cid" >"$cluster/cluster-id"
  # Every node is formatted with the same cluster id and initial voter set,
  # in which each controller names the directory id of its metadata log dir.
  for n in "${cluster_nodes[@]}"; do
    dir_id=$(kafka_uuid)
    voters="${voters:+$voters,}$n@127.0.0.1:${n}9093:$dir_id"
  done
  for n in "${cluster_nodes[@]}"; do
    mkdir -p "$cluster/node$n"
    node_properties "$n" >"$cluster/node$n/server.properties"
    format "$cluster/node$n" "$cid" --initial-controllers "$voters" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  for n in "${cluster_nodes[@]}"; do launch "$cluster/node$n" "$cluster_heap"; done
  for n in "${cluster_nodes[@]}"; do wait_ready "$cluster/node$n" 0 "${n}9092"; done
  say "the cluster answers on $cluster_bootstrap (cluster id $cid)"
  took cluster-start "$t0"
}

cluster_stop() {
  stop_dirs "$cluster"/node*
}

kill_node() { # kill_node N
  local dir pid
  dir=$(node_dir "${1:-}")
  pid=$(pid_of "$dir") || die "node $1 is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$dir/pid"
  say "killed node $1 (pid $pid) with SIGKILL"
}

restart_node() { # restart_node N
  local t0 dir skip
  t0=$(now_ms)
  dir=$(node_dir "${1:-}")
  [ -f "$dir/server.properties" ] || die "node $1 has no state; run cluster-start"
  if pid_of "$dir" >/dev/null; then
    say "node $1 is already running (pid $(pid_of "$dir"))"
    return 0
  fi
  answers "${1}9092" && die "something else answers on 127.0.0.1:${1}9092"
  skip=$(log_lines "$dir/broker.log")
  echo "---- restart $(date -u +%FT%TZ) ----" >>"$dir/broker.log"
  launch "$dir" "$cluster_heap"
  wait_ready "$dir" "$skip" "${1}9092"
  say "node $1 answers on 127.0.0.1:${1}9092 again (pid $(pid_of "$dir"))"
  took restart "$t0"
}

# -------------------------------------------------------------------- perf

perf() {
  local bootstrap="${1:-127.0.0.1:$plain_port}" topic out
  local records="${HOTLIST_PERF_RECORDS:-1000000}" size="${HOTLIST_PERF_RECORD_SIZE:-300}"
  local acks="${HOTLIST_PERF_ACKS:-1}" rf=()
  [ -n "${HOTLIST_PERF_REPLICATION:-}" ] && rf=(--replication-factor "$HOTLIST_PERF_REPLICATION")
  [ -d "$libs" ] || install
  topic="perf-$(date +%s)"
  out="$top/perf.out"
  mkdir -p "$top"
  run "$topic_command" --bootstrap-server "$bootstrap" --create --topic "$topic" --partitions 6 "${rf[@]}" >/dev/null
  say "perf: $records records of $size bytes, acks=$acks, 6 partitions, topic $topic on $bootstrap"
  run "$producer_perf" --bootstrap-server "$bootstrap" --topic "$topic" --num-records "$records" \
    --record-size "$size" --throughput -1 --command-property "acks=$acks" >"$out"
  echo "producer: $(tail -n 1 "$out")"
  run "$consumer_perf" --bootstrap-server "$bootstrap" --topic "$topic" --num-records "$records" >"$out"
  echo "consumer: $(head -n 1 "$out")"
  echo "consumer: $(tail -n 1 "$out")"
  run "$topic_command" --bootstrap-server "$bootstrap" --delete --topic "$topic" >/dev/null
  rm -f "$out"
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
  start) start ;;
  stop) stop ;;
  status) status ;;
  client-props) client_props ;;
  perf) perf "$@" ;;
  cluster-start) cluster_start ;;
  cluster-stop) cluster_stop ;;
  kill) kill_node "$@" ;;
  restart) restart_node "$@" ;;
  run) [ $# -gt 0 ] || usage; run "$@" ;;
  topics) run "$topic_command" "$@" ;;
  configs) run "$config_command" "$@" ;;
  *) usage ;;
esac
