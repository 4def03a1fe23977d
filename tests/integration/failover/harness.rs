//! The pieces of the failover tests: the cluster's nodes (ready, leaders,
//! kill and restart through `scripts/broker.sh`), the `serve` process, and
//! the scenario that streams reads and watches alerts and dead letters.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hotlist_matcher::config::Config;
use hotlist_matcher::hotlist::LiveMatcher;
use hotlist_matcher::kafka::day_keys::Keyring;
use hotlist_matcher::kafka::{client_config, topics};
use hotlist_matcher::sample::{self, Rng};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use uuid::Uuid;

use crate::common;

use super::{BATCH, CHUNK, HITS, PAUSE, VALID};

/// Elapsed time since the test began, for the timings printed on the way.
pub(super) struct Clock(Instant, &'static str);

impl Clock {
    pub(super) fn note(&self, what: impl std::fmt::Display) {
        eprintln!("[{} {:>6.1} s] {what}", self.1, self.0.elapsed().as_secs_f64());
    }
}

/// Fails unless the cluster answers with its three nodes (ids 1, 2, 3), then
/// waits until every partition on it has all its replicas in sync (a node
/// restarted by an earlier test may still be catching up).
pub(super) fn cluster_ready(clock: &Clock) {
    let bootstrap = common::cluster_bootstrap();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("metadata client");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let metadata = consumer
            .fetch_metadata(None, Duration::from_secs(10))
            .unwrap_or_else(|e| {
                panic!(
                    "the three-broker cluster at {bootstrap} does not answer ({e}); start it with \
                 `scripts/broker.sh cluster-start` (scripts/test.sh does) or set HOTLIST_TEST_CLUSTER"
                )
            });
        let mut ids: Vec<i32> = metadata.brokers().iter().map(|b| b.id()).collect();
        ids.sort_unstable();
        let behind: Vec<String> = metadata
            .topics()
            .iter()
            .flat_map(|t| {
                t.partitions()
                    .iter()
                    .filter(|p| p.isr().len() < p.replicas().len())
                    .map(move |p| format!("{}/{} isr {:?}", t.name(), p.id(), p.isr()))
            })
            .collect();
        if ids == [1, 2, 3] && behind.is_empty() {
            clock.note(format_args!(
                "cluster {bootstrap}: nodes {ids:?}, every replica in sync"
            ));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the cluster at {bootstrap} is not whole after 120 s: nodes {ids:?} (want [1, 2, 3]), \
             partitions with replicas out of sync: {behind:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `(partition, leader node)` of every partition of `topic`.
pub(super) fn leaders(config: &Config, topic: &str) -> Vec<(i32, i32)> {
    let consumer: BaseConsumer = client_config(&config.kafka).create().expect("metadata client");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| (p.id(), p.leader()))
        .collect()
}

pub(super) fn broker_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/broker.sh")
}

/// Runs `scripts/broker.sh ARGS`, failing after `limit`; echoes its report
/// when it succeeds, returns it when it fails.
pub(super) async fn try_broker_sh(args: &[&str], limit: Duration) -> Result<(), String> {
    let line = args.join(" ");
    let mut command = Command::new(broker_script());
    command.args(args).stdin(Stdio::null());
    let run = tokio::task::spawn_blocking(move || command.output());
    let output = tokio::time::timeout(limit, run)
        .await
        .unwrap_or_else(|_| panic!("`scripts/broker.sh {line}` took over {limit:?}"))
        .expect("joined")
        .expect("scripts/broker.sh runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        eprint!("{stderr}");
        Ok(())
    } else {
        Err(format!(
            "`scripts/broker.sh {line}` failed ({}):\n{stderr}",
            output.status
        ))
    }
}

/// [`try_broker_sh`], failing on an error.
pub(super) async fn broker_sh(args: &[&str], limit: Duration) {
    if let Err(report) = try_broker_sh(args, limit).await {
        panic!("{report}");
    }
}

/// Waits (90 s at most) until the cluster's metadata lists `node` again.
/// Waits until node `node`'s listener accepts connections, and a second
/// more: a client's connection refused a moment before is logged up to a
/// few milliseconds later, and is not a complaint about the node once back.
/// (A node is listed in the metadata slightly before it accepts.)
async fn accepting(node: i32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let address = format!("127.0.0.1:{node}9092");
    while tokio::net::TcpStream::connect(&address).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "node {node} listed but not accepting after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
}

pub(super) async fn node_listed(node: i32) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", common::cluster_bootstrap())
        .create()
        .expect("metadata client");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(metadata) = consumer.fetch_metadata(None, Duration::from_secs(5)) {
            if metadata.brokers().iter().any(|b| b.id() == node) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "node {node} not back in the cluster's metadata after 90 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A cluster node killed by the test; restarted when dropped if the test
/// did not (a failed test leaves the cluster whole for the next).
pub(super) struct Down(Option<i32>);

impl Down {
    pub(super) async fn kill(node: i32) -> Down {
        broker_sh(&["kill", &node.to_string()], Duration::from_secs(30)).await;
        Down(Some(node))
    }

    /// Restarts the node and waits until the cluster lists it again.
    pub(super) async fn restart(&mut self) {
        let node = self.0.expect("a node is down");
        let limit = Duration::from_secs(150);
        if let Err(report) = try_broker_sh(&["restart", &node.to_string()], limit).await {
            // broker.sh has been seen to take the JVM it just launched for
            // one that exited (its pid check raced the exec); a second
            // restart finds the node running, or starts it.
            let first = report.lines().take(2).collect::<Vec<_>>().join("\n");
            eprintln!("{first}\n... trying `scripts/broker.sh restart {node}` once more");
            broker_sh(&["restart", &node.to_string()], limit).await;
        }
        node_listed(node).await;
        accepting(node).await;
        self.0 = None;
    }
}

impl Drop for Down {
    fn drop(&mut self) {
        if let Some(node) = self.0.take() {
            eprintln!("restarting node {node}, which the test left down");
            let _ = Command::new(broker_script())
                .args(["restart", &node.to_string()])
                .status();
        }
    }
}

/// The `serve` binary as a child process; killed if the test ends before it
/// was stopped.
pub(super) struct Serve {
    pub(super) child: Option<Child>,
    pub(super) log: PathBuf,
}

impl Serve {
    pub(super) fn start(config_path: &Path, log: PathBuf) -> Serve {
        let child = Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
            .args(["--config", config_path.to_str().unwrap(), "serve"])
            .env("HOTLIST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("matcher started");
        Serve {
            child: Some(child),
            log,
        }
    }

    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(super) fn running(&mut self) -> bool {
        let child = self.child.as_mut().expect("started");
        child.try_wait().expect("status").is_none()
    }

    pub(super) fn sigkill(&mut self) {
        let mut child = self.child.take().expect("started");
        child.kill().expect("SIGKILL sent");
        child.wait().unwrap();
    }

    /// Waits until 50 alerts are out: the stream flows through serve. Fails
    /// at once if serve exits, or after 90 s.
    pub(super) async fn flowing(&mut self, reader: &BaseConsumer, alerts: &mut Vec<OwnedMessage>) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while alerts.len() < 50 {
            assert!(self.running(), "serve exited before 50 alerts:\n{}", self.log());
            assert!(
                Instant::now() < deadline,
                "serve put out {} alerts in 90 s, not 50:\n{}",
                alerts.len(),
                self.log()
            );
            collect(reader, alerts, Duration::from_millis(250), |_| false).await;
        }
    }

    /// SIGTERM, then the exit status, within `limit`.
    pub(super) async fn stop(&mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("started");
        let pid = child.id() as libc::pid_t;
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "SIGTERM sent");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("status") {
                return status;
            }
            if Instant::now() > deadline {
                child.kill().ok();
                child.wait().ok();
                panic!("serve did not exit within {limit:?} of SIGTERM:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// Polls `consumer` into `into` until `done(into)` or `limit`; true if done.
/// Unlike [`common::drain_until`] it rides out errors (a broker is down).
pub(super) async fn collect(
    consumer: &BaseConsumer,
    into: &mut Vec<OwnedMessage>,
    limit: Duration,
    done: impl Fn(&[OwnedMessage]) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done(into) {
            return true;
        }
        match consumer.poll(Duration::ZERO) {
            Some(Ok(message)) => into.push(message.detach()),
            Some(Err(e)) => {
                eprintln!("test reader: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    done(into)
}

/// How alerts came after a moment: how long until the first, and the
/// longest wait between two.
pub(super) struct Watch {
    pub(super) from: usize,
    pub(super) since: Instant,
    pub(super) grew: Option<Duration>,
    pub(super) last: (usize, Instant),
    pub(super) longest_gap: Duration,
}

impl Watch {
    pub(super) fn new(from: usize) -> Watch {
        Watch {
            from,
            since: Instant::now(),
            grew: None,
            last: (from, Instant::now()),
            longest_gap: Duration::ZERO,
        }
    }

    /// The longest wait between alerts so far, the current one included.
    pub(super) fn stall(&self) -> Duration {
        self.longest_gap.max(self.last.1.elapsed())
    }

    /// Collects into `into` for `limit` (at least once), noting the first growth.
    pub(super) async fn pump(&mut self, consumer: &BaseConsumer, into: &mut Vec<OwnedMessage>, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            collect(consumer, into, Duration::from_millis(100), |_| false).await;
            if self.grew.is_none() && into.len() > self.from {
                self.grew = Some(self.since.elapsed());
            }
            if into.len() > self.last.0 {
                self.longest_gap = self.longest_gap.max(self.last.1.elapsed());
                self.last = (into.len(), Instant::now());
            }
            if Instant::now() >= deadline {
                return;
            }
        }
    }

    /// Collects into `into` until `task` has finished; returns its result.
    pub(super) async fn pump_while<T>(
        &mut self,
        consumer: &BaseConsumer,
        into: &mut Vec<OwnedMessage>,
        task: tokio::task::JoinHandle<T>,
    ) -> T {
        while !task.is_finished() {
            self.pump(consumer, into, Duration::ZERO).await;
        }
        task.await.expect("the task succeeded")
    }

    /// Collects into `into` until it holds every id of `expected`, or `limit`.
    pub(super) async fn pump_until_complete(
        &mut self,
        consumer: &BaseConsumer,
        into: &mut Vec<OwnedMessage>,
        expected: &HashSet<Uuid>,
        limit: Duration,
    ) -> bool {
        let deadline = Instant::now() + limit;
        while !expected.is_subset(&common::alert_ids(into)) {
            if Instant::now() >= deadline {
                return false;
            }
            self.pump(consumer, into, Duration::from_millis(200)).await;
        }
        true
    }
}

/// Now, as the matcher's log writes it (UTC, microseconds).
pub(super) fn log_time() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The lines of `log` at WARN or ERROR written after `since` (a
/// [`log_time`]). `serve` off a terminal logs JSON lines
/// (`{"timestamp":…,"level":…}`); a text line starts with its timestamp.
pub(super) fn complaints_after<'a>(log: &'a str, since: &str) -> Vec<&'a str> {
    let stamp_and_level = |line: &str| -> Option<(String, String)> {
        if line.starts_with('{') {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            let field = |name: &str| value[name].as_str().map(str::to_owned);
            return Some((field("timestamp")?, field("level")?));
        }
        let stamp = line.get(..since.len())?.to_owned();
        let level = if line.contains(" WARN ") {
            "WARN"
        } else if line.contains("ERROR") {
            "ERROR"
        } else {
            ""
        };
        Some((stamp, level.to_owned()))
    };
    log.lines()
        .filter(|l| {
            stamp_and_level(l).is_some_and(|(at, level)| {
                at.get(..since.len()).is_some_and(|at| at > since) && (level == "WARN" || level == "ERROR")
            })
        })
        .collect()
}

/// The reads and what they must yield, on fresh topics of the cluster.
pub(super) struct Scenario {
    pub(super) clock: Clock,
    pub(super) dir: tempfile::TempDir,
    pub(super) config_path: PathBuf,
    pub(super) config: Config,
    /// Produced with keys `k{index}`.
    pub(super) records: Arc<Vec<Vec<u8>>>,
    pub(super) expected_alerts: HashSet<Uuid>,
    /// The malformed records, each of which must become a dead letter.
    pub(super) expected_dead: HashSet<Vec<u8>>,
    /// Opens the sealed dead letters.
    pub(super) keyring: Arc<Keyring>,
}

impl Scenario {
    pub(super) async fn new(name: &'static str, seed: u64, extra_config: &[(&str, &str)]) -> Scenario {
        let clock = Clock(Instant::now(), name);
        cluster_ready(&clock);
        let dir = tempfile::tempdir().unwrap();
        let prefix = common::unique(name);
        let hotlist_path = dir.path().join("hotlist.csv");
        let config_path = dir.path().join("config.toml");
        let text = common::cluster_config_text(&prefix, &hotlist_path, BATCH, extra_config);
        std::fs::write(&config_path, &text).unwrap();
        let config = Config::from_toml(&text, []).expect("cluster config is valid");
        common::create_topics(&config).await;

        // Three replicas on three nodes, two of them needed for an ack.
        let t = &config.topics;
        let admin = common::admin(&config);
        let live = topics::describe(&admin, &[&t.reads, &t.alerts, &t.dlq]).await.unwrap();
        for topic in [&t.reads, &t.alerts, &t.dlq] {
            let min_isr = live[topic.as_str()].get("min.insync.replicas").cloned().flatten();
            assert_eq!(min_isr.as_deref(), Some("2"), "{topic}: min.insync.replicas");
            let consumer: BaseConsumer = client_config(&config.kafka).create().unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            let replicas = loop {
                let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
                let replicas: Vec<Vec<i32>> = metadata.topics()[0]
                    .partitions()
                    .iter()
                    .filter(|p| p.leader() >= 0)
                    .map(|p| {
                        let mut replicas = p.replicas().to_vec();
                        replicas.sort_unstable();
                        replicas
                    })
                    .collect();
                if replicas.len() == t.partitions as usize || Instant::now() > deadline {
                    break replicas;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            assert_eq!(
                replicas,
                vec![vec![1, 2, 3]; t.partitions as usize],
                "{topic}: replicas of each partition"
            );
        }

        let mut rng = Rng::new(seed);
        let entries = sample::hotlist(&mut rng, 2000, "it-failover");
        common::write_hotlist(&hotlist_path, &entries);
        let matcher = LiveMatcher::new(entries.clone(), config.matching.clone());
        let stream = common::stream(&mut rng, &entries, &matcher, VALID, HITS);
        let malformed = sample::malformed_records(&mut rng, config.pipeline.max_record_bytes);
        let mut records = stream.records;
        let count = malformed.len();
        for (i, (record, _)) in malformed.iter().enumerate() {
            records.insert(((i + 1) * records.len()) / (count + 1), record.clone());
        }
        clock.note(format_args!(
            "topics {prefix}.*: replication factor {}, min.insync.replicas {}; stream of {} reads, {} hits, {} malformed",
            config.topics.replication_factor,
            config.topics.min_insync_replicas,
            records.len(),
            stream.expected_alerts.len(),
            count
        ));
        Scenario {
            clock,
            dir,
            config_path,
            keyring: common::keyring(&config).await,
            config,
            records: Arc::new(records),
            expected_alerts: stream.expected_alerts,
            expected_dead: malformed.into_iter().map(|(record, _)| record).collect(),
        }
    }

    /// Where the head of the stream ends and the tail begins.
    pub(super) fn split(&self) -> usize {
        self.records.len() * 3 / 4
    }

    /// Produces `range` of the records in paced chunks, on a task of its
    /// own that ends once every one is acknowledged by two replicas
    /// (acks=all). Record `i` goes to partition `i % partitions`, each
    /// partition from a producer of its own, like cameras with clients of
    /// their own; and the pace does not wait for acks. So while one
    /// partition has no leader the others go on, serve keeps getting reads
    /// and has alerts to deliver during the outage. (One idempotent producer
    /// for all partitions stalls them all until the dead node is fenced.)
    pub(super) fn produce(&self, range: Range<usize>) -> tokio::task::JoinHandle<()> {
        let partitions = self.config.topics.partitions;
        let producers: Vec<FutureProducer> = (0..partitions)
            .map(|_| {
                client_config(&self.config.kafka)
                    .set("acks", "all")
                    .set("enable.idempotence", "true")
                    .set("linger.ms", "5")
                    .set("message.max.bytes", "4194304")
                    .set("message.timeout.ms", "120000")
                    .create()
                    .expect("producer")
            })
            .collect();
        let topic = self.config.topics.reads.clone();
        let records = Arc::clone(&self.records);
        tokio::spawn(async move {
            let mut pending = Vec::with_capacity(range.len());
            for (n, i) in range.enumerate() {
                let key = format!("k{i}");
                let partition = i as i32 % partitions;
                let record = FutureRecord::to(&topic)
                    .partition(partition)
                    .key(&key)
                    .payload(&records[i]);
                let sent = producers[partition as usize].send_result(record);
                pending.push(sent.map_err(|(e, _)| e).expect("enqueued"));
                if (n + 1) % CHUNK == 0 {
                    tokio::time::sleep(PAUSE).await;
                }
            }
            for future in pending {
                future
                    .await
                    .expect("not cancelled")
                    .map_err(|(e, _)| e)
                    .expect("read delivered");
            }
        })
    }

    /// Waits (bounded) for a producing task.
    pub(super) async fn finished(&self, what: &str, task: tokio::task::JoinHandle<()>) {
        tokio::time::timeout(Duration::from_secs(120), task)
            .await
            .unwrap_or_else(|_| panic!("{what} not produced within 120 s"))
            .expect("the producing task succeeded");
        self.clock.note(format_args!("{what} produced"));
    }

    /// The leader of the reads topic's partition 0, after printing every leader.
    pub(super) fn leader_to_kill(&self) -> i32 {
        let t = &self.config.topics;
        for topic in [&t.reads, &t.alerts, &t.dlq] {
            self.clock.note(format_args!(
                "leaders of {topic} (partition, node): {:?}",
                leaders(&self.config, topic)
            ));
        }
        let (_, node) = leaders(&self.config, &t.reads)[0];
        assert!(
            (1..=3).contains(&node),
            "partition 0 of the reads topic has a leader ({node})"
        );
        node
    }

    /// Waits until the group has committed every read (bounded).
    pub(super) async fn all_committed(&self) -> bool {
        let t = &self.config.topics;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let lag = common::lag(&self.config, &self.config.kafka.group_id, &t.reads);
            if lag == 0 {
                return true;
            }
            if Instant::now() > deadline {
                eprintln!("lag still {lag} after 60 s");
                return false;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Sum over the reads topic's partitions of their high watermarks.
    pub(super) fn reads_stored(&self) -> i64 {
        let consumer: BaseConsumer = client_config(&self.config.kafka).create().unwrap();
        leaders(&self.config, &self.config.topics.reads)
            .iter()
            .map(|(p, _)| {
                consumer
                    .fetch_watermarks(&self.config.topics.reads, *p, Duration::from_secs(10))
                    .expect("watermarks")
                    .1
            })
            .sum()
    }
}

/// The opened payloads of `messages` (a dead letter carries the original
/// bytes, sealed).
pub(super) fn payloads(keyring: &Keyring, messages: &[OwnedMessage]) -> HashSet<Vec<u8>> {
    messages.iter().map(|m| common::opened(keyring, m)).collect()
}

/// The lines of a log at WARN or ERROR, and librdkafka's, for the report.
pub(super) fn notable(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" WARN ") || l.contains("\"WARN\"") || l.contains("ERROR") || l.contains("librdkafka"))
        .collect()
}
