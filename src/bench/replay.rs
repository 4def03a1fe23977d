//! `bench replay`: what checking a list's new entries against the retained
//! reads costs (historical hits, issue 16 item 5), against the broker's own
//! floor measured in the same run.
//!
//! Writes `n` synthetic reads of about 300 bytes (captured yesterday, one
//! in 10,000 a plate of one of the new entries) to a reads topic of its own
//! (`<reads>.replay-<n>`, kept between runs so a second run does not write
//! again; `--delete` removes it and its alerts topic at the end), then
//! times: a bare read of every record on one thread and on as many as the
//! replay uses (the floor), the replay as it was (one consumer, the search
//! scan), and the replay as uploads now run it
//! ([`crate::kafka::historical::replay`]). Each with the process's CPU
//! seconds, so reads per CPU-second say what one core does. Prints
//! figures; asserts nothing on time.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode::QueueFull;
use tokio_util::sync::CancellationToken;

use super::load::{timed, Took};
use super::{ensure_topics, BenchError};
use crate::config::Config;
use crate::hotlist::{HotlistEntry, LiveMatcher, Matcher};
use crate::kafka::day_keys::Keyring;
use crate::kafka::{client_config, historical, parallel, KafkaError};
use crate::sample::{self, Rng};

/// One read in this many is a plate of a new entry.
const HIT_EVERY: usize = 10_000;

/// Measures a replay of `fresh` new entries over `n` retained reads.
pub async fn replay(config: &Config, n: usize, fresh: usize, delete: bool) -> Result<String, BenchError> {
    let mut config = config.clone();
    config.topics.reads = format!("{}.replay-{n}", config.topics.reads);
    config.topics.alerts = format!("{}.replay-{n}", config.topics.alerts);
    ensure_topics(&config).await?;
    let entries = sample::hotlist(&mut Rng::new(5), fresh.max(1), "bench-replay");
    let (on_topic, written) = match records_on(&config)? {
        have if have >= n as i64 => (have, Duration::ZERO),
        _ => {
            let started = Instant::now();
            let owned = (config.clone(), entries.clone());
            tokio::task::spawn_blocking(move || write_reads(&owned.0, n, &owned.1))
                .await
                .map_err(|e| BenchError::Upload(e.to_string()))??;
            (records_on(&config)?, started.elapsed())
        }
    };
    let done = CancellationToken::new();
    let metrics = crate::metrics::Metrics::new();
    let keyring = Keyring::start(&config, metrics, crate::system_clock(), done.clone()).await?;
    let census = crate::hotlist::budget::Census::of(&entries, &config.matching);
    let matcher: Arc<dyn Matcher> = Arc::new(LiveMatcher::with_census(entries, config.matching.clone(), census));
    let owned = config.clone();
    let phases = tokio::task::spawn_blocking(move || phases(&owned, &keyring, matcher))
        .await
        .map_err(|e| BenchError::Upload(e.to_string()))??;
    done.cancel();
    if delete {
        delete_topics(&config, &[&config.topics.reads, &config.topics.alerts]).await?;
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{on_topic} retained reads on {} partitions ({} new entries; written in {:.1} s, 0 if already there)",
        config.topics.partitions,
        fresh,
        written.as_secs_f64()
    );
    out.push_str(&phases);
    if delete {
        let _ = writeln!(out, "topics deleted");
    }
    Ok(out)
}

fn phases(config: &Config, keyring: &Keyring, matcher: Arc<dyn Matcher>) -> Result<String, KafkaError> {
    let workers = parallel::workers(config.topics.partitions.max(1) as usize);
    let topic = &config.topics.reads;
    let raw = |workers| {
        let (counts, _) =
            parallel::read_to_end_parallel(config, topic, "bench-raw", workers, || 0usize, |n, _| *n += 1, |n| n)?;
        Ok(counts.iter().sum::<usize>())
    };
    let (records, floor_one) = timed(|| raw(1))?;
    let (_, floor) = timed(|| raw(workers))?;
    let (before, before_took) = timed(|| historical::replay_one_thread(config, keyring, Arc::clone(&matcher)))?;
    let (now, now_took) = timed(|| historical::replay(config, keyring, Arc::clone(&matcher), workers))?;
    let reads = records as f64;
    let mut out = String::new();
    let mut row = |name: &str, t: &Took, count: usize, what: &str| {
        let _ = writeln!(
            out,
            "{name}: {:.2} s, {:.0} reads/s, {:.2} CPU-s ({:.0} reads per CPU-second), {count} {what}",
            t.wall.as_secs_f64(),
            reads / t.wall.as_secs_f64(),
            t.cpu.as_secs_f64(),
            reads / t.cpu.as_secs_f64().max(1e-9),
        );
    };
    row(
        "floor: fetch every read, decode nothing, 1 thread",
        &floor_one,
        records,
        "records",
    );
    row(
        &format!("floor: the same on {workers} threads"),
        &floor,
        records,
        "records",
    );
    row(
        "before: replay, 1 consumer (search scan)",
        &before_took,
        before.len(),
        "hits",
    );
    row(&format!("now: replay, {workers} threads"), &now_took, now.len(), "hits");
    let _ = writeln!(
        out,
        "now / before: {:.2}x the speed; now takes {:.2}x the {workers}-thread floor's time",
        before_took.wall.as_secs_f64() / now_took.wall.as_secs_f64(),
        now_took.wall.as_secs_f64() / floor.wall.as_secs_f64()
    );
    Ok(out)
}

/// How many records the reads topic holds (sum of its high watermarks).
fn records_on(config: &Config) -> Result<i64, KafkaError> {
    let consumer: BaseConsumer = client_config(&config.kafka).create()?;
    let mut total = 0;
    for partition in 0..config.topics.partitions {
        let (low, high) = consumer.fetch_watermarks(&config.topics.reads, partition, Duration::from_secs(10))?;
        total += high - low;
    }
    Ok(total)
}

/// Writes `n` reads, made as they are sent (10 million would not fit in
/// memory at once); one in [`HIT_EVERY`] is a plate of `entries`.
fn write_reads(config: &Config, n: usize, entries: &[Arc<HotlistEntry>]) -> Result<(), KafkaError> {
    let producer: BaseProducer = client_config(&config.kafka)
        .set("linger.ms", "50")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.kbytes", "262144")
        .create()?;
    let mut rng = Rng::new(16);
    let captured = sample::yesterday_at("03:00:00");
    for i in 0..n {
        let plate = match i % HIT_EVERY {
            0 => entries[(i / HIT_EVERY) % entries.len()].plate.to_string(),
            _ => sample::random_plate(&mut rng).to_string(),
        };
        let payload = sample::read_json(rng.uuid(), "cam-replay-01", &captured, &plate, Some("CA"));
        let key = format!("r{i}");
        let mut record = BaseRecord::to(&config.topics.reads).key(&key).payload(&payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((rdkafka::error::KafkaError::MessageProduction(QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        if i % 10_000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(300))?;
    Ok(())
}

/// Deletes the bench's own big topics.
pub(super) async fn delete_topics(config: &Config, topics: &[&str]) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = client_config(&config.kafka).create()?;
    admin.delete_topics(topics, &AdminOptions::new()).await?;
    Ok(())
}
