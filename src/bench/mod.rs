//! Measurements against a real broker, behind the `bench` subcommand:
//! how long an instance takes to load the hotlist topic (`hotlist-load`), and
//! what a nightly replacement of a big list costs a running instance
//! (`hotlist-replace`).
//!
//! [`dispatch`] measures the board and webhooks.
//!
//! These print figures for docs/BENCHMARKS.md; nothing here asserts on time.
//! They write to the configured topics, so point them at a test broker.

pub mod api_load;
pub mod dispatch;
pub mod latency;
pub mod load;
pub mod memory;
pub mod replay;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::hotlist::{HotlistEntry, LiveMatcher, Matcher, Query};
use crate::kafka::{client_config, hotlist as kafka_hotlist, topics, KafkaError};
use crate::normalize::Plate;
use crate::sample::{self, Rng};

/// Why a measurement could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("the upload command failed: {0}")]
    Upload(String),
    #[error("the replacement was not applied within {0:?}")]
    NotApplied(Duration),
}

pub use load::hotlist_load;

/// Produces `n` reads of about 300 bytes (1% hits on a 100,000-entry list)
/// to a fresh reads topic, then consumes them twice through the same broker
/// in the same run: with a bare rdkafka consumer (the raw rate), and through
/// the service's source (parse, match, alert, store offsets). Reports both
/// rates and their ratio.
pub async fn throughput(config: &Config, n: usize) -> Result<String, BenchError> {
    let mut config = config.clone();
    let run = format!("bench-{}", std::process::id());
    config.topics.reads = format!("{run}.reads");
    config.topics.alerts = format!("{run}.alerts");
    config.topics.dlq = format!("{run}.dlq");
    config.kafka.group_id = format!("{run}-serve");
    ensure_topics(&config).await?;
    let mut rng = Rng::new(16);
    let entries = sample::hotlist(&mut rng, 100_000, "bench-throughput");
    let matcher = Arc::new(LiveMatcher::new(entries.clone(), config.matching.clone()));
    let records: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let plate = match i % 100 {
                0 => entries[rng.below(entries.len())].plate.to_string(),
                _ => sample::random_plate(&mut rng).to_string(),
            };
            sample::read_json(
                rng.uuid(),
                "cam-bench-01",
                &crate::sample::yesterday_at("03:00:00"),
                &plate,
                Some("CA"),
            )
        })
        .collect();
    let bytes = records.iter().map(Vec::len).sum::<usize>() / n.max(1);
    produce_all(&config, &records).await?;
    let raw = raw_consume(&config, n)?;
    let metrics = crate::metrics::Metrics::new();
    let shutdown = CancellationToken::new();
    let keyring =
        crate::kafka::day_keys::Keyring::start(&config, metrics.clone(), crate::system_clock(), shutdown.clone())
            .await?;
    let source = crate::kafka::source::Source::new(&config, matcher, metrics.clone(), keyring)?;
    let running = tokio::spawn(source.run(shutdown.clone()));
    // Timed from the first batch done, as the raw consumer is timed from its
    // first record: joining the group is not throughput.
    while metrics.reads.get() == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (started, first) = (Instant::now(), metrics.reads.get());
    while metrics.reads.get() < n as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let serve = (n as u64 - first) as f64 / started.elapsed().as_secs_f64();
    shutdown.cancel();
    running.await.map_err(|e| BenchError::Upload(e.to_string()))??;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{n} reads of {bytes} bytes on {} partitions, {} alerts",
        config.topics.partitions,
        metrics.alerts.get()
    );
    let _ = writeln!(out, "raw rdkafka consume: {raw:.0} reads/s");
    let _ = writeln!(
        out,
        "through the service (parse, match, alert, offsets): {serve:.0} reads/s ({:.2}x raw)",
        serve / raw
    );
    Ok(out)
}

pub(crate) async fn produce_all(config: &Config, records: &[Vec<u8>]) -> Result<(), KafkaError> {
    let producer: rdkafka::producer::FutureProducer = client_config(&config.kafka).set("linger.ms", "20").create()?;
    let mut pending = std::collections::VecDeque::new();
    for (i, record) in records.iter().enumerate() {
        let key = format!("r{i}");
        loop {
            match producer.send_result(
                rdkafka::producer::FutureRecord::to(&config.topics.reads)
                    .key(&key)
                    .payload(record),
            ) {
                Ok(delivery) => {
                    pending.push_back(delivery);
                    break;
                }
                Err((_, _)) => {
                    if let Some(oldest) = pending.pop_front() {
                        let _ = oldest.await;
                    }
                }
            }
        }
    }
    for delivery in pending {
        delivery
            .await
            .map_err(|_| KafkaError::Undelivered(1))?
            .map_err(|(e, _)| e)?;
    }
    Ok(())
}

/// Reads per second a bare consumer group member takes the whole topic at.
fn raw_consume(config: &Config, n: usize) -> Result<f64, KafkaError> {
    let consumer: BaseConsumer = client_config(&config.kafka)
        .set("group.id", format!("{}-raw", config.kafka.group_id))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&[&config.topics.reads])?;
    let mut started = None;
    let mut seen = 0;
    while seen < n {
        if let Some(message) = consumer.poll(Duration::from_secs(10)) {
            message?;
            started.get_or_insert_with(Instant::now);
            seen += 1;
        }
    }
    Ok(n as f64 / started.map_or(1.0, |s: Instant| s.elapsed().as_secs_f64()))
}

/// The list `hotlist-replace` replaces.
const REPLACE_LIST: &str = "bench-replace";

/// Runs an instance (load, follow) in this process while a separate
/// `hotlist upload` process replaces an `n`-entry list with every entry
/// changed, one removed and one added; reports when the instance had it all,
/// its peak memory, and its matching speed meanwhile against before.
/// `exe` is this program, `config_path` its config file (if any).
pub async fn hotlist_replace(
    config: &Config,
    exe: &Path,
    config_path: Option<&Path>,
    n: usize,
) -> Result<String, BenchError> {
    ensure_topics(config).await?;
    let dir = tempfile_dir()?;
    let first = sample::hotlist(&mut Rng::new(21), n, REPLACE_LIST);
    let night = sample::replacement(&first, 1);
    let before_path = dir.join("before.jsonl");
    let after_path = dir.join("after.jsonl");
    write_jsonl(&before_path, &first)?;
    write_jsonl(&after_path, &night.entries)?;
    let mut out = String::new();
    let setup = run_upload(exe, config_path, &before_path)?;
    let _ = writeln!(out, "set-up upload of {n} entries: {}", setup.trim());

    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let loaded = load(config).await?;
    let matcher = Arc::new(
        LiveMatcher::new(loaded.entries, config.matching.clone()).with_fold_fraction(config.hotlist.fold_fraction),
    );
    let lists: kafka_hotlist::Lists = Arc::new(std::sync::RwLock::new(loaded.lists));
    kafka_hotlist::follow(config, loaded.end, Arc::clone(&matcher), lists, shutdown.clone())?;
    let _ = writeln!(
        out,
        "instance ready with {} entries after {:.1} s",
        matcher.len(),
        started.elapsed().as_secs_f64()
    );
    let rss_before = proc_status_kib("VmRSS");
    reset_peak_rss();

    let reader = Reader::start(Arc::clone(&matcher), &first);
    std::thread::sleep(Duration::from_secs(3));
    let upload_start = reader.mark();
    let writes = (n + 2) as i64; // n-1 changed, 1 added, 1 tombstone, 1 list record
    let high_before = high_watermark(config)?;
    let child = spawn_upload(exe, config_path, &after_path)?;
    let applied_check = |m: &LiveMatcher| replacement_applied(m, &night);
    let mut acked = None;
    let applied = loop {
        if acked.is_none() && high_watermark(config)? >= high_before + writes {
            acked = Some(Instant::now());
        }
        if acked.is_some() && applied_check(&matcher) {
            break reader.mark();
        }
        if upload_start.elapsed() > Duration::from_secs(600) {
            return Err(BenchError::NotApplied(Duration::from_secs(600)));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(BenchError::Upload(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    matcher.settle();
    let folded = reader.mark();
    std::thread::sleep(Duration::from_secs(3));
    let end = reader.mark();
    let rates = reader.stop();
    shutdown.cancel();
    let acked = acked.expect("acks seen before applied");
    let rate = |from: Instant, to: Instant| rates.rate(from, to);
    let baseline = rate(upload_start - Duration::from_secs(3), upload_start);
    let during = rate(upload_start, folded);
    let after = rate(folded, end);
    let _ = writeln!(
        out,
        "replacement upload: {}",
        String::from_utf8_lossy(&output.stdout).trim()
    );
    let _ = writeln!(
        out,
        "write + acks: {:.1} s; applied on the instance {:.2} s after the acks ({:.1} s after the upload started); background rebuilds done {:.1} s after the acks ({} rebuild(s), {} level(s) now)",
        (acked - upload_start).as_secs_f64(),
        applied.saturating_duration_since(acked).as_secs_f64(),
        (applied - upload_start).as_secs_f64(),
        folded.saturating_duration_since(acked).as_secs_f64(),
        matcher.folds(),
        matcher.levels(),
    );
    let _ = writeln!(
        out,
        "resident memory: {} MiB before, peak {} MiB during the replacement",
        rss_before / 1024,
        proc_status_kib("VmHWM") / 1024
    );
    let _ = writeln!(
        out,
        "matching on one thread: {:.0} reads/s before, {:.0} during ({:.2}x), {:.0} after ({:.2}x)",
        baseline,
        during,
        during / baseline,
        after,
        after / baseline
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

/// True once `matcher` holds the replacement: the new plate hits, the
/// removed one does not, and sampled entries carry their new description.
fn replacement_applied(matcher: &LiveMatcher, night: &sample::Replacement) -> bool {
    let first_hit = |plate: Plate| {
        let mut hits = Vec::new();
        matcher.find(
            &Query {
                plate,
                region: None,
                candidates: &[],
            },
            &mut hits,
        );
        hits.into_iter().next().map(|h| h.entry)
    };
    let Some(plate) = night.added.plate.plate() else {
        return false;
    };
    let removed = night.removed.plate.plate().and_then(first_hit);
    first_hit(plate).is_some_and(|e| e.entry_id == night.added.entry_id)
        && !removed.is_some_and(|e| e.entry_id == night.removed.entry_id)
        && night.entries.iter().step_by(night.entries.len() / 100 + 1).all(|want| {
            want.plate
                .plate()
                .and_then(first_hit)
                .is_some_and(|e| e.description == want.description)
        })
}

/// A thread matching reads in a loop, counting them over time.
struct Reader {
    stop: Arc<AtomicBool>,
    counts: Arc<Mutex<Vec<(Instant, usize)>>>,
    thread: std::thread::JoinHandle<()>,
}

/// Reads counted per moment, from [`Reader::stop`].
struct Rates(Vec<(Instant, usize)>);

impl Rates {
    /// Reads per second between two moments.
    fn rate(&self, from: Instant, to: Instant) -> f64 {
        let reads: usize = self
            .0
            .iter()
            .filter(|(at, _)| *at > from && *at <= to)
            .map(|(_, n)| n)
            .sum();
        reads as f64 / (to - from).as_secs_f64()
    }
}

impl Reader {
    /// Half listed plates, half random ones.
    fn start(matcher: Arc<LiveMatcher>, listed: &[Arc<HotlistEntry>]) -> Reader {
        let mut rng = Rng::new(5);
        let plates: Vec<Plate> = (0..20_000)
            .map(|i| match listed.get(rng.below(listed.len().max(1))) {
                Some(e) if i % 2 == 0 => e.plate.plate().unwrap_or_else(|| sample::random_plate(&mut rng)),
                _ => sample::random_plate(&mut rng),
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, counts) = (Arc::clone(&stop), Arc::clone(&counts));
            std::thread::spawn(move || {
                let mut hits = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    for chunk in plates.chunks(1000) {
                        for &plate in chunk {
                            hits.clear();
                            let query = Query {
                                plate,
                                region: None,
                                candidates: &[],
                            };
                            matcher.find(&query, &mut hits);
                        }
                        counts.lock().expect("counts").push((Instant::now(), chunk.len()));
                    }
                }
            })
        };
        Reader { stop, counts, thread }
    }

    fn mark(&self) -> Instant {
        Instant::now()
    }

    fn stop(self) -> Rates {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("reader thread");
        Rates(std::mem::take(&mut *self.counts.lock().expect("counts")))
    }
}

pub(crate) async fn ensure_topics(config: &Config) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = client_config(&config.kafka).create()?;
    topics::ensure(&admin, &topics::specs(&config.topics)).await?;
    Ok(())
}

async fn load(config: &Config) -> Result<kafka_hotlist::Loaded, KafkaError> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || kafka_hotlist::load(&config))
        .await
        .map_err(|e| KafkaError::Topic {
            topic: "hotlist".into(),
            reason: e.to_string(),
        })?
}

/// Sum of the hotlist topic's high watermarks: it grows by one per acknowledged record.
fn high_watermark(config: &Config) -> Result<i64, KafkaError> {
    let consumer: BaseConsumer = client_config(&config.kafka).create()?;
    let mut total = 0;
    for partition in 0..config.topics.partitions {
        let (_, high) = consumer.fetch_watermarks(&config.topics.hotlist, partition, Duration::from_secs(10))?;
        total += high;
    }
    Ok(total)
}

fn write_jsonl(path: &Path, entries: &[Arc<HotlistEntry>]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for e in entries {
        let line = serde_json::json!({
            "entry_id": e.entry_id,
            "plate": e.plate.to_string(),
            "category": e.category.name(),
            "region": e.region.map(|r| r.to_string()),
            "priority": e.priority,
            "description": e.description,
            "nic": e.details.nic,
            "ori": e.details.ori,
        });
        writeln!(file, "{line}")?;
    }
    file.flush()
}

fn upload_command(exe: &Path, config_path: Option<&Path>, file: &Path) -> std::process::Command {
    upload_list_command(exe, config_path, file, REPLACE_LIST)
}

/// `hotlist upload` of `file` (JSON lines) as list `list`, by another process.
fn upload_list_command(exe: &Path, config_path: Option<&Path>, file: &Path, list: &str) -> std::process::Command {
    let mut command = std::process::Command::new(exe);
    if let Some(path) = config_path {
        command.arg("--config").arg(path);
    }
    command.args(["hotlist", "upload"]).arg(file).args([
        "--list",
        list,
        "--format",
        "jsonl",
        "--reason",
        "nightly replacement benchmark",
    ]);
    // The acting custodian: $HOTLIST_ACTOR when set (a broker with users),
    // else a name for a benchmark broker that has none.
    if std::env::var_os("HOTLIST_ACTOR").is_none() {
        command.args(["--actor", "bench.runner"]);
    }
    command
}

fn run_upload(exe: &Path, config_path: Option<&Path>, file: &Path) -> Result<String, BenchError> {
    let output = upload_command(exe, config_path, file).output()?;
    if !output.status.success() {
        return Err(BenchError::Upload(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn spawn_upload(exe: &Path, config_path: Option<&Path>, file: &Path) -> std::io::Result<std::process::Child> {
    upload_command(exe, config_path, file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("hotlist-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A `/proc/self/status` figure in KiB (0 where there is no /proc).
pub(crate) fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets the peak resident size (VmHWM) to the current one.
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
