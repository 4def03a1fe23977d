//! Shared helpers: unique names, topic setup, producing and draining topics.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hotlist_matcher::alert::alert_id;
use hotlist_matcher::config::{Config, DEFAULT_TOML};
use hotlist_matcher::hotlist::{HotlistEntry, LiveMatcher, Matcher, Query};
use hotlist_matcher::kafka::{client_config, topics};
use hotlist_matcher::normalize::{normalize, normalize_region, Plate, Region};
use hotlist_matcher::sample::{self, Rng};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The broker under test.
pub fn bootstrap() -> String {
    std::env::var("HOTLIST_TEST_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// A name no other test or earlier run uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000
    )
}

/// The default config text with this test's broker, topics, group and hotlist.
pub fn config_text(prefix: &str, hotlist: &Path, batch_size: usize) -> String {
    DEFAULT_TOML
        .replace("\"127.0.0.1:9092\"", &format!("{:?}", bootstrap()))
        .replace("\"alpr.", &format!("\"{prefix}.alpr."))
        .replace(
            "group_id = \"hotlist-matcher\"",
            &format!("group_id = \"{prefix}-group\""),
        )
        .replace("partitions = 6", "partitions = 3")
        .replace("batch_size = 1000", &format!("batch_size = {batch_size}"))
        .replace(
            "\"config/sample-hotlist.csv\"",
            &format!("{:?}", hotlist.display().to_string()),
        )
        .replace("127.0.0.1:8443", "127.0.0.1:0")
        .replace("127.0.0.1:9464", "127.0.0.1:0")
        .replace(
            "self_signed_for_development = false",
            "self_signed_for_development = true",
        )
        .replace("development_key = false", "development_key = true")
}

pub fn config(prefix: &str, hotlist: &Path, batch_size: usize) -> Config {
    Config::from_toml(&config_text(prefix, hotlist, batch_size), []).expect("test config is valid")
}

pub fn admin(config: &Config) -> AdminClient<DefaultClientContext> {
    client_config(&config.kafka).create().expect("admin client")
}

/// This test's config, written to `dir/config.toml` for the binary too.
pub fn config_file(dir: &Path, prefix: &str) -> (std::path::PathBuf, Config) {
    let path = dir.join("config.toml");
    let hotlist = dir.join("h.csv");
    std::fs::write(&path, config_text(prefix, &hotlist, 1000)).expect("config written");
    (path, config(prefix, &hotlist, 1000))
}

pub async fn create_topics(config: &Config) {
    topics::ensure(&admin(config), &topics::specs(&config.topics))
        .await
        .expect("topics created");
}

/// Writes entries as a hotlist CSV file.
pub fn write_hotlist(path: &Path, entries: &[Arc<HotlistEntry>]) {
    let mut text = String::from("entry_id,list_id,plate,region,category,priority,description\n");
    for e in entries {
        let region = e.region.map(|r| r.to_string()).unwrap_or_default();
        text.push_str(&format!(
            "{},{},{},{},{},{},test entry\n",
            e.entry_id,
            e.list_id,
            e.plate,
            region,
            e.category.name(),
            e.priority
        ));
    }
    std::fs::write(path, text).expect("hotlist written");
}

/// A stream of reads with planted hits and malformed records.
pub struct Stream {
    pub records: Vec<Vec<u8>>,
    pub expected_alerts: HashSet<Uuid>,
}

/// True when `plate` (in region CA) hits nothing in `matcher`.
pub fn innocent(matcher: &dyn Matcher, plate: Plate) -> bool {
    let mut hits = Vec::new();
    let region = normalize_region("CA").ok();
    let query = Query {
        plate,
        region,
        candidates: &[],
    };
    matcher.find(&query, &mut hits);
    hits.is_empty()
}

/// The `(list, entry)` ids `shown` hits.
pub fn hit_entries(matcher: &dyn Matcher, shown: &str, region: Option<Region>) -> Vec<(String, String)> {
    let mut hits = Vec::new();
    let query = Query {
        plate: normalize(shown).expect("a plate"),
        region,
        candidates: &[],
    };
    matcher.find(&query, &mut hits);
    hits.iter()
        .map(|h| (h.entry.list_id.clone(), h.entry.entry_id.clone()))
        .collect()
}

/// A random plate that hits nothing in `matcher`.
pub fn innocent_plate(rng: &mut Rng, matcher: &dyn Matcher) -> Plate {
    loop {
        let plate = sample::random_plate(rng);
        if innocent(matcher, plate) {
            return plate;
        }
    }
}

/// Spreads `planted` reads evenly among innocent ones (`total` in all), then
/// the malformed records among those.
pub fn interleave(
    rng: &mut Rng,
    matcher: &dyn Matcher,
    total: usize,
    planted: Vec<Vec<u8>>,
    malformed: &[(Vec<u8>, &'static str)],
) -> Vec<Vec<u8>> {
    let every = total / planted.len().max(1);
    let mut planted = planted.into_iter();
    let mut records = Vec::with_capacity(total + malformed.len());
    for i in 0..total {
        let next = (i % every == every / 2).then(|| planted.next()).flatten();
        records.push(next.unwrap_or_else(|| {
            let plate = innocent_plate(rng, matcher);
            sample::read_json(rng.uuid(), "cam-it", &at(), plate.as_str(), Some("CA"))
        }));
    }
    assert_eq!(planted.next(), None, "every planted read placed");
    let count = malformed.len();
    for (i, (record, _)) in malformed.iter().enumerate() {
        records.insert(((i + 1) * records.len()) / (count + 1), record.clone());
    }
    records
}

/// When the test reads were captured.
/// The capture time of test reads: yesterday at 03:00 (inside retention).
pub fn at() -> String {
    sample::yesterday_at("03:00:00")
}

/// `valid` reads of which `hits` hit distinct entries exactly (disguised by
/// case, separators and look-alike Unicode); every other read hits nothing
/// in `matcher`.
pub fn stream(
    rng: &mut Rng,
    entries: &[Arc<HotlistEntry>],
    matcher: &dyn Matcher,
    valid: usize,
    hits: usize,
) -> Stream {
    let mut expected_alerts = HashSet::new();
    let mut planted = Vec::with_capacity(hits);
    for entry in entries {
        if planted.len() == hits {
            break;
        }
        let shown = sample::disguise(rng, &entry.plate.to_string());
        if hit_entries(matcher, &shown, entry.region) != vec![(entry.list_id.clone(), entry.entry_id.clone())] {
            continue; // a fuzzy neighbour would add a second alert
        }
        let id = rng.uuid();
        let region = entry.region.map(|r| r.to_string());
        planted.push(sample::read_json(id, "cam-it", &at(), &shown, region.as_deref()));
        expected_alerts.insert(alert_id(&id, &entry.list_id, &entry.entry_id));
    }
    assert_eq!(planted.len(), hits, "enough entries to plant");
    let records = interleave(rng, matcher, valid, planted, &[]);
    Stream {
        records,
        expected_alerts,
    }
}

pub async fn produce(config: &Config, topic: &str, records: &[Vec<u8>]) {
    let producer: FutureProducer = client_config(&config.kafka)
        .set("linger.ms", "10")
        .set("message.max.bytes", "4194304")
        .create()
        .expect("producer");
    let mut pending = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let key = format!("k{i}");
        let record = FutureRecord::to(topic).key(&key).payload(record);
        pending.push(producer.send_result(record).map_err(|(e, _)| e).expect("enqueued"));
    }
    for future in pending {
        future
            .await
            .expect("not cancelled")
            .map_err(|(e, _)| e)
            .expect("delivered");
    }
}

/// Produces `records` with their `keys`, in order, and waits for every ack.
pub async fn produce_keyed(config: &Config, topic: &str, keys: &[String], records: &[Vec<u8>]) {
    let producer: FutureProducer = client_config(&config.kafka).create().expect("producer");
    for (key, record) in keys.iter().zip(records) {
        let record = FutureRecord::to(topic).key(key).payload(record);
        producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .expect("delivered");
    }
}

/// A consumer on every partition of `topic`, from the beginning.
pub fn reader(config: &Config, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = client_config(&config.kafka)
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .unwrap();
    }
    assert!(assignment.count() > 0, "topic {topic} has no partitions");
    consumer.assign(&assignment).expect("assigned");
    consumer
}

/// Polls `consumer` into `into` until `done(into)` or `timeout`; true if done.
pub async fn drain_until(
    consumer: &BaseConsumer,
    into: &mut Vec<OwnedMessage>,
    timeout: Duration,
    done: impl Fn(&[OwnedMessage]) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done(into) {
            return true;
        }
        match consumer.poll(Duration::from_millis(0)) {
            Some(message) => into.push(message.expect("consumed").detach()),
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    done(into)
}

/// The distinct alert ids (record keys) among `messages`.
pub fn alert_ids(messages: &[OwnedMessage]) -> HashSet<Uuid> {
    messages
        .iter()
        .map(|m| {
            let key = std::str::from_utf8(m.key().expect("alerts are keyed")).expect("utf-8 key");
            Uuid::parse_str(key).expect("key is a uuid")
        })
        .collect()
}

/// Sum over partitions of (high watermark - committed offset) for `group`.
pub fn lag(config: &Config, group: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer = client_config(&config.kafka)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut tpl = TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        tpl.add_partition(topic, p.id());
    }
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    committed
        .elements()
        .iter()
        .map(|e| {
            let (_, high) = consumer
                .fetch_watermarks(topic, e.partition(), Duration::from_secs(10))
                .expect("watermarks");
            match e.offset() {
                Offset::Offset(o) => high - o,
                _ => high,
            }
        })
        .sum()
}

/// One matcher instance: reads the topic, then follows it.
pub async fn instance(config: &Config, shutdown: &CancellationToken) -> Arc<LiveMatcher> {
    instance_with_clock(config, shutdown, hotlist_matcher::system_clock()).await
}

pub async fn instance_with_clock(
    config: &Config,
    shutdown: &CancellationToken,
    clock: hotlist_matcher::Clock,
) -> Arc<LiveMatcher> {
    let loaded = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || hotlist_matcher::kafka::hotlist::load(&config))
            .await
            .unwrap()
            .unwrap()
    };
    let matcher = Arc::new(LiveMatcher::new(loaded.entries, config.matching.clone()).with_clock(clock));
    let lists = Arc::new(std::sync::RwLock::new(loaded.lists));
    hotlist_matcher::kafka::hotlist::follow(config, loaded.end, Arc::clone(&matcher), lists, shutdown.clone()).unwrap();
    matcher
}

/// The entries a read of `plate` (no state) hits on `matcher`, best first.
pub fn hits_of(matcher: &LiveMatcher, plate: &str) -> Vec<Arc<HotlistEntry>> {
    let mut hits = Vec::new();
    let query = Query {
        plate: normalize(plate).unwrap(),
        region: None,
        candidates: &[],
    };
    matcher.find(&query, &mut hits);
    hits.into_iter().map(|h| h.entry).collect()
}

/// How many entries a read of `plate` hits.
pub fn hits(matcher: &LiveMatcher, plate: &str) -> usize {
    hits_of(matcher, plate).len()
}

/// The three-broker cluster of `scripts/broker.sh cluster-start`, on which
/// the failover tests kill and restart nodes (node N answers on N9092).
pub fn cluster_bootstrap() -> String {
    std::env::var("HOTLIST_TEST_CLUSTER").unwrap_or_else(|_| "127.0.0.1:19092,127.0.0.1:29092,127.0.0.1:39092".into())
}

/// [`config_text`] on the cluster, with extra `(from, to)` replacements:
/// topics with 3 replicas and `min.insync.replicas` 2, so an acknowledged
/// alert is on two brokers and one broker may be down.
pub fn cluster_config_text(prefix: &str, hotlist: &Path, batch_size: usize, extra: &[(&str, &str)]) -> String {
    let single = format!("bootstrap_servers = {:?}", bootstrap());
    let cluster = format!("bootstrap_servers = {:?}", cluster_bootstrap());
    let mut text = config_text(prefix, hotlist, batch_size);
    let replacements = [
        (single.as_str(), cluster.as_str()),
        ("replication_factor = -1", "replication_factor = 3"),
        ("min_insync_replicas = 0", "min_insync_replicas = 2"),
    ];
    for (from, to) in replacements.iter().chain(extra) {
        assert!(text.contains(from), "the default config has no `{from}`");
        text = text.replace(from, to);
    }
    text
}

/// Polls `done` every 50 ms until it holds or `timeout` passes; whether it held.
/// The sealed audit records once `done` holds for them (the sealer seals
/// a moment after the request was answered), or as they are after 30 s.
pub async fn sealed_audit(
    config: &Config,
    done: impl Fn(&[hotlist_matcher::access::audit::AuditRecord]) -> bool,
) -> Vec<hotlist_matcher::access::audit::AuditRecord> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let records = {
            let config = config.clone();
            // As stored (query terms sealed), so the chain verifies.
            tokio::task::spawn_blocking(move || hotlist_matcher::kafka::audit::read_all(&config))
                .await
                .unwrap()
                .unwrap()
        };
        if done(&records) || Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `done` (which may block) until it holds or `timeout` has passed.
pub fn wait_for_sync(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    done()
}

pub async fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

/// The binary's `serve` with `config_path`, logging to `log`, with `env` set.
pub fn serve_process(config_path: &Path, log: &Path, env: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args(["--config", config_path.to_str().unwrap(), "serve"])
        .env("HOTLIST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("matcher started")
}

/// Writes dispatcher `by`'s acknowledgement of alert `alert_id` to the
/// alert-state topic, as the board's route does; returns it.
pub async fn acknowledge(config: &Config, alert_id: Uuid, by: &str) -> hotlist_matcher::alert::lifecycle::Transition {
    use hotlist_matcher::alert::lifecycle::{Action, AlertState, Transition, TRANSITION_SCHEMA};
    let ack = Transition {
        schema: TRANSITION_SCHEMA,
        transition_id: Uuid::new_v4(),
        alert_id,
        from: AlertState::New,
        action: Action::Acknowledge,
        by: by.into(),
        organisation: "Test Org".into(),
        at: chrono::Utc::now(),
    };
    let writer = hotlist_matcher::kafka::alert_state::Writer::new(config, keyring(config).await).unwrap();
    writer.write(&ack, ack.at.timestamp_millis()).await.unwrap();
    ack
}

/// The day keys of `config`'s topics, as one more instance would hold them
/// (followed until the test process ends).
pub async fn keyring(config: &Config) -> Arc<hotlist_matcher::kafka::day_keys::Keyring> {
    hotlist_matcher::kafka::day_keys::Keyring::start(
        config,
        hotlist_matcher::metrics::Metrics::new(),
        hotlist_matcher::system_clock(),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .expect("day keys loaded")
}

/// The plaintext of a record the service sealed (or of a plain one).
pub fn opened(keyring: &hotlist_matcher::kafka::day_keys::Keyring, message: &OwnedMessage) -> Vec<u8> {
    keyring.open_message(message).expect("the record opens").into_owned()
}

/// The audit log as the service shows it: every record, its sealed query
/// terms opened with the audit key.
pub fn audit_log(config: &Config) -> Vec<hotlist_matcher::access::audit::AuditRecord> {
    let key = config.master_key.audit_key();
    hotlist_matcher::kafka::audit::read_all(config)
        .expect("audit log read")
        .into_iter()
        .map(|r| hotlist_matcher::kafka::audit::opened(&key, r))
        .collect()
}

/// Where `demo --serve` says its API is, read from its output line by line.
#[derive(Default)]
pub struct DemoApi {
    pub url: String,
    /// The self-signed certificate's PEM file.
    pub ca: String,
    /// The bootstrap custodian `demo.manager`'s password.
    pub password: String,
}

impl DemoApi {
    /// Takes what `line` of the demo's output says about the API, if anything.
    pub fn read(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("API: ") {
            let (url, ca) = rest.split_once(" (self-signed certificate: ").expect("API line");
            self.url = url.to_owned();
            self.ca = ca.trim_end_matches(')').to_owned();
        }
        if let Some(rest) = line.strip_prefix("bootstrap custodian: demo.manager / ") {
            self.password = rest.to_owned();
        }
    }
}
