//! The demo: the whole pipeline on an embedded broker, in one command.
//!
//! It starts librdkafka's in-process mock cluster (or uses a real broker when
//! one is given), creates the topics, loads the sample hotlist shipped in
//! `config/sample-hotlist.csv`, starts the service through the composition
//! root [`app::run`] exactly as `serve` does, streams synthetic reads with
//! planted hits, disguised hits, OCR misreads and malformed records, prints
//! the first alerts as they arrive on the alerts topic (every one with
//! `--all`) and a progress line, and ends with the reads per second and a
//! summary. Only the broker address differs from production. The sample
//! data is synthetic, so the demo prints plates; the service itself never
//! does.
//!
//! The embedded broker (librdkafka's mock cluster) keeps only the last
//! 5 MiB of each partition, a limit fixed in librdkafka: reads streamed all
//! at once were deleted before the service consumed them, and a demo of more
//! than about 16,000 reads waited forever for them. So the demo streams at
//! most [`AHEAD_BYTES`] ahead of what the service has processed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::access::auth::{self, Role};
use crate::access::principals::User;
use crate::alert::Alert;
use crate::app;
use crate::config::Config;
use crate::hotlist::{load_csv, CsvLimits, EntryPlate, HotlistEntry, LiveMatcher, MatchKind, Matcher, Query};
use crate::kafka::{client_config, consumer_config, topics};
use crate::metrics::Metrics;
use crate::sample::{self, Rng};

/// The sample hotlist, built into the binary.
pub const SAMPLE_HOTLIST: &str = include_str!("../config/sample-hotlist.csv");

/// What to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Reads to stream (planted hits, misreads and malformed ones included).
    pub reads: usize,
    /// A real broker to use instead of the embedded one.
    pub bootstrap_servers: Option<String>,
    /// Seed of the synthetic reads.
    pub seed: u64,
    /// Keep the HTTPS API up after the summary, until Ctrl-C.
    pub serve: bool,
    /// Print every alert, not only the first [`FIRST_ALERTS`].
    pub all: bool,
}

/// Alerts printed before the rest are only counted (unless `--all`).
pub const FIRST_ALERTS: usize = 50;

/// How far (in bytes of reads) the demo streams ahead of the service: below
/// the 5 MiB the embedded broker keeps of a partition, so no read is deleted
/// before it is consumed.
pub const AHEAD_BYTES: usize = 4 << 20;

/// Capture times of the synthetic reads span at most this long (ending
/// yesterday), so a large demo has no read from the future.
const CAPTURE_SPAN_MS: i64 = 12 * 3600 * 1000;

/// What the demo planted, to compare with what the pipeline found.
struct Planted {
    records: Vec<Vec<u8>>,
    /// Planted read id -> the entry it must hit and how.
    expected: HashMap<Uuid, (String, MatchKind)>,
    malformed: usize,
}

/// Runs the demo, writing alerts and the summary to `out`.
pub async fn run(options: DemoOptions, out: &mut (impl Write + Send)) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut config = Config::from_toml(&crate::config::development_toml(), std::env::vars())?;
    config.kafka.group_id = "hotlist-matcher-demo".into();
    config.topics.partitions = 3;
    let _mock; // keeps the embedded cluster alive until the demo ends
    match &options.bootstrap_servers {
        Some(servers) => {
            // Topics of its own: the service loads every list on a shared broker's hotlist topic.
            let topics = &mut config.topics;
            for name in [
                &mut topics.reads,
                &mut topics.alerts,
                &mut topics.dlq,
                &mut topics.hotlist,
                &mut topics.principals,
                &mut topics.audit,
            ] {
                *name = format!("demo.{name}");
            }
            config.kafka.bootstrap_servers = servers.clone();
            crate::kafka::check_connection_async(&config.kafka).await?;
            let admin: AdminClient<DefaultClientContext> = client_config(&config.kafka).create()?;
            topics::ensure(&admin, &topics::specs(&config.topics)).await?;
            writeln!(out, "broker: {servers}")?;
        }
        None => {
            let mock = MockCluster::<DefaultProducerContext>::new(1).context("starting the embedded broker")?;
            for spec in topics::specs(&config.topics) {
                mock.create_topic(&spec.name, spec.partitions, 1)?;
            }
            config.kafka.bootstrap_servers = mock.bootstrap_servers();
            writeln!(
                out,
                "broker: embedded mock cluster at {}",
                config.kafka.bootstrap_servers
            )?;
            _mock = mock;
        }
    }

    let entries = load_csv(SAMPLE_HOTLIST.as_bytes(), CsvLimits::default())?;
    let hotlist_file = std::env::temp_dir().join(format!("hotlist-matcher-demo-{}.csv", std::process::id()));
    std::fs::write(&hotlist_file, SAMPLE_HOTLIST)?;
    config.hotlist.path = Some(hotlist_file.clone());
    config.api.listen = "127.0.0.1:0".parse()?;
    config.api.admin_listen = "127.0.0.1:0".parse()?;
    config.api.self_signed = true;
    let password = bootstrap_users(&config).await?;
    let shutdown = CancellationToken::new();
    let running = app::run(config.clone(), shutdown.clone()).await?;
    print_api(&running, &password, out)?;
    writeln!(out, "hotlist: {} entries from config/sample-hotlist.csv", entries.len())?;
    // The demo's own copy of the matcher decides which reads to plant.
    let matcher = Arc::new(LiveMatcher::new(entries.clone(), config.matching.clone()));
    let mut planted = plant(&entries, &matcher, &options, config.pipeline.max_record_bytes);
    let alerts = alert_consumer(&config)?;
    writeln!(
        out,
        "streaming {} reads to {} (at most {} MiB ahead of the service)\n",
        planted.records.len(),
        config.topics.reads,
        AHEAD_BYTES >> 20
    )?;
    let streaming = Instant::now();
    let reads = planted.records.len() as u64;
    let records = std::mem::take(&mut planted.records);
    let producer = tokio::spawn(produce(config.clone(), records, running.metrics.clone()));
    let printed = print_alerts(&alerts, &running, reads, options.all, out).await;
    let elapsed = streaming.elapsed();
    let printed = match printed {
        Ok(printed) => printed,
        Err(e) => {
            producer.abort(); // it would wait for the service forever
            return Err(e);
        }
    };
    if let Err(e) = producer.await? {
        return Err(e.context("streaming the reads"));
    }
    print_board(&running, &password, out).await?;
    let result = summary(out, &running.metrics, &planted, &printed, (started.elapsed(), elapsed));
    if options.serve && result.is_ok() {
        writeln!(
            out,
            "\nthe API and the dispatch board stay up at https://{}/board; Ctrl-C to stop",
            running.api_address
        )?;
        out.flush()?;
        tokio::signal::ctrl_c().await?;
    }
    shutdown.cancel();
    running.wait().await?;
    let _ = std::fs::remove_file(&hotlist_file);
    result
}

/// Writes the demo's custodian and dispatcher to the principals topic,
/// before the API loads it; returns their one-time password.
async fn bootstrap_users(config: &Config) -> anyhow::Result<String> {
    let password = format!("demo-{}", Uuid::new_v4().simple());
    let hash = auth::hash_password(&password)?;
    let writer = crate::kafka::principals::Writer::new(config)?;
    for (name, organisation, role) in [
        (DEMO_CUSTODIAN, "City of Coachella (demo)", Role::Custodian),
        (DEMO_DISPATCHER, "Riverside County Sheriff (demo)", Role::Dispatcher),
    ] {
        let (key, value) = User::new(name, organisation, role, hash.clone())?.record();
        writer.write(&key, Some(&value)).await?;
    }
    Ok(password)
}

/// Prints the dispatch board's address and login, once it shows the alerts.
async fn print_board(running: &app::Running, password: &str, out: &mut (impl Write + Send)) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while running.board.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = format!("https://127.0.0.1:{}/board", running.api_address.port());
    writeln!(
        out,
        "\ndispatch board: {url} ({} alerts to verify); log in as {DEMO_DISPATCHER} / {password}",
        running.board.len()
    )?;
    Ok(())
}

/// Prints how to reach the API: URL, certificate, custodian login.
fn print_api(running: &app::Running, password: &str, out: &mut (impl Write + Send)) -> anyhow::Result<()> {
    let ca = std::env::temp_dir().join(format!("hotlist-matcher-demo-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, running.self_signed_cert.as_deref().unwrap_or_default())?;
    let url = format!("https://127.0.0.1:{}", running.api_address.port());
    writeln!(out, "API: {url} (self-signed certificate: {})", ca.display())?;
    writeln!(
        out,
        "admin port (metrics and probes, no login): http://{}/metrics",
        running.admin_address
    )?;
    writeln!(out, "bootstrap custodian: {DEMO_CUSTODIAN} / {password}")?;
    writeln!(
        out,
        "  curl --cacert {} -H 'Content-Type: application/json' -d '{{\"username\":\"{DEMO_CUSTODIAN}\",\"password\":\"{password}\"}}' {url}/api/login",
        ca.display()
    )?;
    Ok(())
}

/// The custodian the demo creates.
pub const DEMO_CUSTODIAN: &str = "demo.manager";
/// The dispatcher the demo creates (same password as the custodian).
pub const DEMO_DISPATCHER: &str = "demo.dispatcher";

/// Makes the read records: innocent plates, disguised exact hits, OCR
/// misreads, one-edit misreads of fuzzy-tolerant entries, plates that
/// wildcard and partial entries match, and malformed records.
fn plant(
    entries: &[Arc<HotlistEntry>],
    matcher: &LiveMatcher,
    options: &DemoOptions,
    max_record_bytes: usize,
) -> Planted {
    let mut rng = Rng::new(options.seed);
    let malformed = sample::malformed_records(&mut rng, max_record_bytes);
    let mut expected = HashMap::new();
    let mut records = Vec::with_capacity(options.reads);
    let patterns: Vec<Arc<HotlistEntry>> = entries
        .iter()
        .filter(|e| matches!(e.plate, EntryPlate::Pattern(_)))
        .cloned()
        .collect();
    let clock = chrono::DateTime::parse_from_rfc3339(&sample::yesterday_at("03:00:00")).expect("valid");
    let step_ms = (CAPTURE_SPAN_MS / options.reads.max(1) as i64).clamp(1, 250);
    while records.len() + malformed.len() < options.reads {
        let at = (clock + chrono::Duration::milliseconds(records.len() as i64 * step_ms)).to_rfc3339();
        let camera = format!("coachella-cam-{:02}", rng.below(12) + 1);
        // Witness patterns are few in any list; give them a fair share of reads.
        let entry = if !patterns.is_empty() && rng.chance(2) {
            rng.pick(&patterns)
        } else {
            rng.pick(entries)
        };
        let listed = entry.plate.to_string();
        let (shown, kind) = match (&entry.plate, rng.below(100)) {
            (EntryPlate::Pattern(p), 0..=29) => {
                let kind = if p.is_partial() {
                    MatchKind::Partial
                } else {
                    MatchKind::Wildcard
                };
                (sample::fill_pattern(&mut rng, &listed), kind)
            }
            (EntryPlate::Plate(_), 0..=1) => (sample::disguise(&mut rng, &listed), MatchKind::Exact),
            (EntryPlate::Plate(_), 2) => match sample::misread(&mut rng, &listed) {
                Some(bad) => (bad, MatchKind::OcrEquivalent),
                None => continue,
            },
            (EntryPlate::Plate(_), 3) => (sample::one_edit(&mut rng, &listed), MatchKind::Fuzzy),
            // An innocent plate; the check below keeps it only if it hits nothing.
            _ => (sample::random_plate(&mut rng).to_string(), MatchKind::Exact),
        };
        let read_id = rng.uuid();
        let region = entry.region.map(|r| r.to_string());
        let hits = hits_of(matcher, &shown, entry.region);
        let planted = hits.len() == 1 && hits[0].entry.is(entry) && hits[0].kind == kind;
        if planted {
            expected.insert(read_id, (entry.entry_id.clone(), kind));
        } else if !hits.is_empty() {
            continue; // an innocent plate must hit nothing; a planted one exactly its entry
        }
        records.push(sample::read_json(read_id, &camera, &at, &shown, region.as_deref()));
    }
    let count = malformed.len();
    for (i, (record, _)) in malformed.into_iter().enumerate() {
        let at = (records.len() * (i + 1)) / (count + 1);
        records.insert(at, record);
    }
    Planted {
        records,
        expected,
        malformed: count,
    }
}

/// What the matcher finds for a plate text (none if it is not a plate).
fn hits_of(matcher: &LiveMatcher, shown: &str, region: Option<crate::normalize::Region>) -> Vec<crate::hotlist::Hit> {
    let mut hits = Vec::new();
    if let Ok(plate) = crate::normalize::normalize(shown) {
        let query = Query {
            plate,
            region,
            candidates: &[],
        };
        matcher.find(&query, &mut hits);
    }
    hits
}

/// Streams `records` to the reads topic, never more than [`AHEAD_BYTES`]
/// ahead of the reads the service has processed (`metrics.reads`).
async fn produce(config: Config, records: Vec<Vec<u8>>, metrics: Metrics) -> anyhow::Result<()> {
    let producer: FutureProducer = client_config(&config.kafka)
        .set("linger.ms", "5")
        .set("message.max.bytes", "4194304")
        .create()?;
    let never = CancellationToken::new();
    // Bytes of the first i records, to know how far ahead the stream is.
    let mut streamed = vec![0usize; records.len() + 1];
    for (i, record) in records.iter().enumerate() {
        streamed[i + 1] = streamed[i] + record.len();
    }
    let mut pending = VecDeque::new();
    for (i, record) in records.iter().enumerate() {
        loop {
            let processed = (metrics.reads.get() as usize).min(i);
            if streamed[i + 1] - streamed[processed] <= AHEAD_BYTES {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let record = FutureRecord::<(), [u8]>::to(&config.topics.reads).payload(record);
        pending.push_back(crate::kafka::enqueue(&producer, record, &never).await?);
        while pending.len() > 10_000 {
            crate::kafka::acked(pending.pop_front().expect("not empty")).await?;
        }
    }
    for future in pending {
        crate::kafka::acked(future).await?;
    }
    Ok(())
}

/// A consumer positioned at the current end of the alerts topic.
fn alert_consumer(config: &Config) -> anyhow::Result<BaseConsumer> {
    let consumer: BaseConsumer = consumer_config(&config.kafka, "hotlist-matcher-demo-printer")
        .set("enable.auto.commit", "false")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(&config.topics.alerts), Duration::from_secs(10))?;
    let mut assignment = TopicPartitionList::new();
    for topic in metadata.topics() {
        for partition in topic.partitions() {
            let (_, high) = consumer.fetch_watermarks(topic.name(), partition.id(), Duration::from_secs(10))?;
            assignment.add_partition_offset(&config.topics.alerts, partition.id(), Offset::Offset(high))?;
        }
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}

/// Reads alerts (opened with the service's day keys: they are sealed at
/// rest) until every streamed read is processed and every alert seen;
/// prints the first [`FIRST_ALERTS`] (all of them with `all`), a progress
/// line every few seconds, and a count of those not printed.
async fn print_alerts(
    consumer: &BaseConsumer,
    running: &app::Running,
    reads: u64,
    all: bool,
    out: &mut (impl Write + Send),
) -> anyhow::Result<Vec<Alert>> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    let mut next_progress = started + PROGRESS_EVERY;
    let mut seen = Vec::new();
    let metrics = &running.metrics;
    loop {
        if Instant::now() >= next_progress {
            next_progress += PROGRESS_EVERY;
            let processed = metrics.reads.get();
            writeln!(
                out,
                "progress: {processed} of {reads} reads processed, {} alerts ({:.0} reads/s)",
                seen.len(),
                processed as f64 / started.elapsed().as_secs_f64()
            )?;
            out.flush()?;
        }
        match consumer.poll(Duration::from_millis(0)) {
            Some(message) => {
                let alert = Alert::decode(&running.keyring.open_message(&message?)?)?;
                if all || seen.len() < FIRST_ALERTS {
                    writeln!(out, "{}", describe(&alert))?;
                }
                seen.push(alert);
            }
            None if metrics.reads.get() >= reads && seen.len() as u64 >= metrics.alerts.get() => break,
            None if Instant::now() > deadline => bail!("the demo did not finish within 10 minutes"),
            None => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    if !all && seen.len() > FIRST_ALERTS {
        writeln!(
            out,
            "... and {} more alerts, not printed (--all prints every one)",
            seen.len() - FIRST_ALERTS
        )?;
    }
    Ok(seen)
}

/// How often [`print_alerts`] prints its progress line.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

fn describe(alert: &Alert) -> String {
    let read = &alert.read;
    let entry = &alert.entry;
    format!(
        "ALERT {} {:<17} read {:<12} {:<2} | {:<14} {:.2} -> {:<8} {} p{} {}/{} | {}",
        read.captured_at.format("%H:%M:%S"),
        read.camera_id,
        format!("{:?}", read.plate_raw),
        read.region.as_deref().unwrap_or("--"),
        alert.matched.kind.name(),
        alert.matched.score,
        entry.plate,
        entry.category.name(),
        entry.priority,
        entry.list_id,
        entry.entry_id,
        entry.description,
    )
}

fn summary(
    out: &mut impl Write,
    metrics: &Metrics,
    planted: &Planted,
    alerts: &[Alert],
    (elapsed, streaming): (Duration, Duration),
) -> anyhow::Result<()> {
    let reads = metrics.reads.get();
    writeln!(out, "\nsummary ({:.1} s)", elapsed.as_secs_f64())?;
    writeln!(out, "  reads processed   {reads:>6}")?;
    writeln!(
        out,
        "  reads per second  {:>6.0}  ({reads} reads streamed and matched in {:.1} s)",
        reads as f64 / streaming.as_secs_f64().max(0.001),
        streaming.as_secs_f64()
    )?;
    writeln!(out, "  reads with a hit  {:>6}", metrics.hits.get())?;
    writeln!(
        out,
        "  alerts            {:>6}  (seen on the alerts topic: {})",
        metrics.alerts.get(),
        alerts.len()
    )?;
    let found: HashSet<(Uuid, &str, MatchKind)> = alerts
        .iter()
        .map(|a| (a.read.read_id, a.entry.entry_id.as_str(), a.matched.kind))
        .collect();
    let mut missed = 0;
    for kind in [
        MatchKind::Exact,
        MatchKind::OcrEquivalent,
        MatchKind::Fuzzy,
        MatchKind::Wildcard,
        MatchKind::Partial,
    ] {
        let planted_ids: Vec<_> = planted.expected.iter().filter(|(_, (_, k))| *k == kind).collect();
        let found = planted_ids
            .iter()
            .filter(|(read_id, (entry_id, _))| found.contains(&(**read_id, entry_id.as_str(), kind)))
            .count();
        missed += planted_ids.len() - found;
        writeln!(
            out,
            "    {:<18}{found:>4} of {} planted",
            kind.name(),
            planted_ids.len()
        )?;
    }
    writeln!(
        out,
        "  dead letters      {:>6}  (planted malformed: {})",
        metrics.dlq_total(),
        planted.malformed
    )?;
    for code in crate::read::ReadError::CODES {
        let n = metrics.dlq.with_label_values(&[code]).get();
        if n > 0 {
            writeln!(out, "    {code:<20}{n:>4}")?;
        }
    }
    if missed > 0 || metrics.dlq_total() != planted.malformed as u64 {
        bail!("the pipeline missed {missed} planted hit(s) or dead-lettered a different number of records");
    }
    Ok(())
}
