//! Read-to-alert latency through `serve`'s source (`bench latency`, issue
//! 16): reads are produced at a fixed rate, each stamped with its capture
//! time as it is sent, and every hit read's alert is timed from then until
//! it is visible on the alerts topic (written and acknowledged by the
//! source's producer, then fetched by a bare consumer). The same-run
//! baseline is a bare consumer of the reads topic timing the same hit reads:
//! what the broker alone costs. Nothing here asserts on time.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::dispatch::latencies;
use super::{ensure_topics, BenchError};
use crate::alert::alert_id;
use crate::config::Config;
use crate::hotlist::{EntryPlate, HotlistEntry, LiveMatcher};
use crate::kafka::{client_config, KafkaError};
use crate::sample::{self, Rng};

/// Arrival instants by id (alert id on the alerts topic, read id on the reads topic).
type Arrivals = Arc<Mutex<HashMap<Uuid, Instant>>>;

/// Reads sent before the timed ones, while the fetchers settle.
const WARM_UP_SECONDS: u64 = 2;

/// Produces `rate` reads per second for `seconds` (after a short warm-up)
/// through a running source, one read in `hit_every` a hit on a distinct
/// entry of a 100,000-entry list, and reports capture → alert visible
/// p50/p99 against the bare consumer's p50/p99 for the same reads.
pub async fn latency(config: &Config, rate: u64, seconds: u64, hit_every: usize) -> Result<String, BenchError> {
    let config = super::dispatch::fresh(config, "latency")?;
    ensure_topics(&config).await?;
    let hit_every = hit_every.max(1);
    let entries: Vec<Arc<HotlistEntry>> = sample::hotlist(&mut Rng::new(41), 100_000, "bench-latency")
        .into_iter()
        .filter(|e| matches!(e.plate, EntryPlate::Plate(_)))
        .collect();
    let matcher = Arc::new(LiveMatcher::new(entries.clone(), config.matching.clone()));
    let metrics = crate::metrics::Metrics::new();
    let shutdown = CancellationToken::new();
    let keyring =
        crate::kafka::day_keys::Keyring::start(&config, metrics.clone(), crate::system_clock(), shutdown.clone())
            .await?;
    let source = crate::kafka::source::Source::new(&config, matcher, metrics.clone(), keyring)?;
    let running = tokio::spawn(source.run(shutdown.clone()));
    let (alerts, reads): (Arrivals, Arrivals) = Default::default();
    let watchers = [
        watch(
            &config,
            &config.topics.alerts,
            Arc::clone(&alerts),
            shutdown.clone(),
            alert_key,
        )?,
        watch(
            &config,
            &config.topics.reads,
            Arc::clone(&reads),
            shutdown.clone(),
            read_key,
        )?,
    ];
    let joined = Instant::now() + Duration::from_secs(60);
    while metrics.assigned_partitions.get() == 0 && Instant::now() < joined {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (sent, achieved) = produce(&config, &entries, rate, seconds, hit_every).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while alerts.lock().expect("lock").len() < sent.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    running.await.map_err(super::dispatch::error)??;
    for watcher in watchers {
        watcher
            .join()
            .map_err(|_| super::dispatch::error("a watching consumer panicked"))?;
    }
    let (through, missed) = latencies(&sent, |_, alert| alerts.lock().expect("lock").get(&alert).copied());
    let (bare, _) = latencies(&sent, |read, _| reads.lock().expect("lock").get(&read).copied());
    Ok(report(
        &config,
        rate,
        seconds,
        achieved,
        (sent.len(), hit_every, missed),
        &through,
        &bare,
    ))
}

/// Sends the reads at `rate`: returns, for every timed hit read, its read
/// id → (its alert id, when it was sent), and the rate achieved.
async fn produce(
    config: &Config,
    entries: &[Arc<HotlistEntry>],
    rate: u64,
    seconds: u64,
    hit_every: usize,
) -> Result<(HashMap<Uuid, (Uuid, Instant)>, f64), BenchError> {
    let mut rng = Rng::new(42);
    let captured = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // Reads that hit nothing, reused round robin (they produce nothing).
    let misses: Vec<Vec<u8>> = (0..10_000)
        .map(|i| {
            let plate = sample::random_plate(&mut rng).to_string();
            sample::read_json(rng.uuid(), &format!("cam-{}", i % 50), &captured, &plate, Some("CA"))
        })
        .collect();
    let producer: FutureProducer = client_config(&config.kafka)
        .set("linger.ms", "0")
        .create()
        .map_err(KafkaError::from)?;
    let (warm_up, total) = ((WARM_UP_SECONDS * rate) as usize, (seconds * rate) as usize);
    let mut sent = HashMap::with_capacity(total / hit_every + 1);
    let mut pending = std::collections::VecDeque::new();
    let never = CancellationToken::new();
    let started = Instant::now();
    let mut timed_from = started;
    for i in 0..warm_up + total {
        let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        if i == warm_up {
            timed_from = Instant::now();
        }
        let hit = (i % hit_every == 0).then(|| &entries[(i / hit_every) % entries.len()]);
        let read = match hit {
            Some(entry) => {
                let id = rng.uuid();
                if i >= warm_up {
                    sent.insert(id, (alert_id(&id, &entry.list_id, &entry.entry_id), Instant::now()));
                }
                let region = entry.region.map(|r| r.to_string());
                let camera = format!("cam-{}", i % 50);
                sample::read_json(id, &camera, &captured, &entry.plate.to_string(), region.as_deref())
            }
            None => misses[i % misses.len()].clone(),
        };
        // Hit reads carry their read id as key, for the baseline consumer.
        let key = hit.map(|_| read_key_of(&read));
        let mut record = FutureRecord::<[u8], [u8]>::to(&config.topics.reads).payload(&read);
        if let Some(key) = &key {
            record = record.key(key.as_bytes());
        }
        pending.push_back(crate::kafka::enqueue(&producer, record, &never).await?);
        while pending
            .front_mut()
            .is_some_and(|d| futures_util::FutureExt::now_or_never(d).is_some())
        {
            pending.pop_front();
        }
    }
    let achieved = total as f64 / timed_from.elapsed().as_secs_f64();
    for delivery in pending {
        crate::kafka::acked(delivery).await?;
    }
    Ok((sent, achieved))
}

/// The alert id of an alert record (its key).
fn alert_key(message: &rdkafka::message::BorrowedMessage<'_>) -> Option<Uuid> {
    std::str::from_utf8(message.key()?)
        .ok()
        .and_then(|k| Uuid::parse_str(k).ok())
}

/// The read id of a hit read (its key; other reads have none).
fn read_key(message: &rdkafka::message::BorrowedMessage<'_>) -> Option<Uuid> {
    std::str::from_utf8(message.key()?)
        .ok()
        .and_then(|k| Uuid::parse_str(k).ok())
}

/// The read id of a read record, as text.
fn read_key_of(read: &[u8]) -> String {
    crate::read::parse(read, 1 << 16)
        .map(|r| r.read_id.to_string())
        .unwrap_or_default()
}

/// A bare consumer of every partition of `topic` from its start (assigned,
/// no group to join), recording when each record's id first arrives.
fn watch(
    config: &Config,
    topic: &str,
    arrivals: Arrivals,
    shutdown: CancellationToken,
    id_of: fn(&rdkafka::message::BorrowedMessage<'_>) -> Option<Uuid>,
) -> Result<std::thread::JoinHandle<()>, BenchError> {
    let consumer: BaseConsumer = client_config(&config.kafka)
        .set("group.id", format!("{}-watch", config.kafka.group_id))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "5")
        .create()
        .map_err(KafkaError::from)?;
    let mut partitions = TopicPartitionList::new();
    for partition in 0..config.topics.partitions {
        partitions
            .add_partition_offset(topic, partition, Offset::Beginning)
            .map_err(KafkaError::from)?;
    }
    consumer.assign(&partitions).map_err(KafkaError::from)?;
    Ok(std::thread::spawn(move || {
        while !shutdown.is_cancelled() {
            let Some(Ok(message)) = consumer.poll(Duration::from_millis(50)) else {
                continue;
            };
            let now = Instant::now();
            if let Some(id) = id_of(&message) {
                arrivals.lock().expect("lock").entry(id).or_insert(now);
            }
        }
    }))
}

fn report(
    config: &Config,
    rate: u64,
    seconds: u64,
    achieved: f64,
    (hits, hit_every, missed): (usize, usize, usize),
    through: &[Duration],
    bare: &[Duration],
) -> String {
    let at = |values: &[Duration], p: usize| {
        values
            .get((values.len() * p / 100).min(values.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} reads at {rate}/s ({achieved:.0}/s achieved) after {WARM_UP_SECONDS} s of warm-up, {hits} timed hits (1 read in {hit_every}), {} partitions",
        rate * seconds,
        config.topics.partitions
    );
    for (name, values) in [
        ("capture -> alert on the alerts topic, through the source", through),
        ("baseline: capture -> read at a bare rdkafka consumer", bare),
    ] {
        let _ = writeln!(
            out,
            "{name}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
            at(values, 50),
            at(values, 99),
            at(values, 100),
            values.len()
        );
    }
    let _ = writeln!(out, "hits whose alert never arrived: {missed}");
    out
}
