//! The read source: consume `alpr.reads` in a group, produce alerts and
//! dead letters, and store each offset only once that work is acknowledged.
//!
//! At-least-once, in batches: records are taken until the batch is full or
//! has waited long enough, every alert and dead letter of the batch is sent
//! and awaited (failures are retried, never skipped), and only then are the
//! batch's offsets stored for the next auto-commit. Batches are
//! pipelined: the next ones are read, matched and sent while earlier ones'
//! acknowledgements are awaited; offsets are still stored batch by batch,
//! oldest first. Reads already fetched are drained from the consumer's
//! queue without a timer or a wake-up per read. A crash anywhere before
//! that replays the batch; alert ids are deterministic, so the replay yields
//! the same ids. A bad record never stops a partition: it becomes a dead
//! letter. Logs carry counts and codes, never a plate.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tokio::time::{sleep, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::day_keys::{Keyring, KeyringError, SEALED_HEADER};
#[path = "source_in_flight.rs"]
mod in_flight;
use super::{client_config, KafkaError};
use crate::config::Config;
use crate::hotlist::Matcher;
use crate::metrics::Metrics;
use crate::pipeline::{Outcome, Processor};
use in_flight::{await_all, Acked, InFlight};

/// Header on a dead letter: the human-readable reason.
pub const DLQ_REASON_HEADER: &str = "hm.reason";
/// Header on a dead letter: the stable reason code.
pub const DLQ_CODE_HEADER: &str = "hm.reason_code";
/// Header on a dead letter: `topic/partition/offset` of the original record.
pub const DLQ_SOURCE_HEADER: &str = "hm.source";
/// Header on a dead letter cut to fit the broker: the original length.
pub const DLQ_TRUNCATED_HEADER: &str = "hm.truncated_from";

const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Keeps `source_unassigned_seconds` current: seconds since this instance
/// last held a partition (or since it started, if it never did).
async fn count_unassigned_time(metrics: Metrics, shutdown: CancellationToken) {
    let mut last_assigned = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        if metrics.assigned_partitions.get() > 0 {
            last_assigned = Instant::now();
        }
        metrics.unassigned_seconds.set(last_assigned.elapsed().as_secs() as i64);
    }
}

/// Most batches sent and not yet settled at once; past it the source waits
/// for the oldest before reading more.
const MAX_BATCHES_IN_FLIGHT: usize = 16;

/// One record to produce, kept until acknowledged so it can be re-sent.
struct Outgoing {
    topic: String,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    /// `(name, value)` pairs; headers are rebuilt on each send.
    headers: Vec<(&'static str, String)>,
    /// The reason code for dead letters, `None` for alerts.
    dlq_code: Option<&'static str>,
    /// The partition of an alert: the one of its entry.
    partition: Option<i32>,
    /// The record's timestamp: the read's capture time for an alert, the
    /// read record's own timestamp for a dead letter, so the broker's
    /// retention counts from capture, not from when this instance wrote it.
    timestamp: Option<i64>,
}

/// The reads taken since offsets were last stored, and what they produced.
#[derive(Default)]
struct Batch {
    outgoing: Vec<Outgoing>,
    /// Next offset to consume, per partition of the reads topic.
    next_offsets: BTreeMap<i32, i64>,
    reads: u64,
    hits: u64,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.reads == 0
    }
}

/// Follows the group's assignments, so an instance left without partitions
/// (matching nothing) shows as not ready. Broker errors, an outage among
/// them, are logged by librdkafka's default error callback.
struct Assignments {
    metrics: Metrics,
}

impl ClientContext for Assignments {
    fn stats(&self, statistics: rdkafka::Statistics) {
        self.metrics.record_lag(&statistics);
    }
}

impl ConsumerContext for Assignments {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                info!(partitions = partitions.count(), "reads partitions assigned");
                self.metrics.assigned_partitions.set(partitions.count() as i64);
            }
            Rebalance::Revoke(partitions) => {
                info!(partitions = partitions.count(), "reads partitions revoked");
                self.metrics.assigned_partitions.set(0);
                self.metrics.consumer_lag.reset();
            }
            Rebalance::Error(e) => warn!(error = %e, "rebalance failed"),
        }
    }
}

/// Consumes reads until `shutdown`, then commits what was acknowledged.
pub struct Source {
    consumer: StreamConsumer<Assignments>,
    producer: FutureProducer,
    processor: Processor,
    /// Since when the consumer has reported errors (a broker outage), if it has.
    troubled_since: Option<Instant>,
    /// Partitions of the alerts topic, to send each entry's alerts to one.
    alert_partitions: i32,
    config: Config,
    metrics: Metrics,
    /// Opens sealed reads and seals what is written about them.
    keyring: Arc<Keyring>,
}

impl Source {
    /// Builds the clients and subscribes; nothing is read until [`Source::run`].
    pub fn new(
        config: &Config,
        matcher: Arc<dyn Matcher>,
        metrics: Metrics,
        keyring: Arc<Keyring>,
    ) -> Result<Source, KafkaError> {
        let mut consumer_config = client_config(&config.kafka);
        consumer_config
            .set("group.id", &config.kafka.group_id)
            .set(
                "session.timeout.ms",
                config.kafka.session_timeout.as_millis().to_string(),
            )
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("statistics.interval.ms", "2000"); // consumer lag, for the metrics
        for (name, value) in config.source.consumer_properties() {
            consumer_config.set(name, value);
        }
        if let Some(instance) = &config.kafka.instance_id {
            // Static membership: a restarted instance takes its partitions
            // straight back instead of waiting out a rebalance.
            consumer_config.set("group.instance.id", instance);
        }
        let consumer: StreamConsumer<Assignments> = consumer_config.create_with_context(Assignments {
            metrics: metrics.clone(),
        })?;
        consumer.subscribe(&[&config.topics.reads])?;
        let mut producer_config = client_config(&config.kafka);
        producer_config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.max.bytes", "4194304")
            .set(
                "message.timeout.ms",
                config.pipeline.delivery_timeout.as_millis().to_string(),
            );
        for (name, value) in config.source.producer_properties() {
            producer_config.set(name, value);
        }
        let producer: FutureProducer = producer_config.create()?;
        metrics.hotlist_entries.set(matcher.len() as i64);
        let alert_partitions = super::partition_count(producer.client(), &config.topics.alerts)?;
        Ok(Source {
            alert_partitions,
            consumer,
            producer,
            processor: Processor::new(matcher, config.pipeline.max_record_bytes)
                .with_retention(config.topics.retention, crate::system_clock())
                .with_passes(config.pipeline.passes)
                .with_metrics(&metrics),
            troubled_since: None,
            config: config.clone(),
            metrics,
            keyring,
        })
    }

    /// Runs until `shutdown` is cancelled, then stores and commits the
    /// offsets of every acknowledged batch. An unacknowledged batch is left
    /// uncommitted, to be redelivered.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), KafkaError> {
        info!(topic = %self.config.topics.reads, group = %self.config.kafka.group_id, "consuming reads");
        tokio::spawn(count_unassigned_time(self.metrics.clone(), shutdown.clone()));
        let result = self.run_batches(&shutdown).await;
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => info!("final offsets committed"),
            Err(RdError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {
                info!("final offsets committed (nothing new since the last auto-commit)")
            }
            Err(e) => warn!(error = %e, "final commit failed; the last reads will be redelivered"),
        }
        self.consumer.unsubscribe();
        result
    }

    /// Batches are pipelined: each is sent as soon as it is filled, and up
    /// to [`MAX_BATCHES_IN_FLIGHT`] await their acknowledgements while the
    /// next ones are read and matched (issue 16: the broker's round trip
    /// no longer paces the reads). Batches are settled oldest first, so a
    /// batch's offsets are stored only once all its records are
    /// acknowledged, and always before a later batch's.
    async fn run_batches(&mut self, shutdown: &CancellationToken) -> Result<(), KafkaError> {
        let mut in_flight: VecDeque<InFlight<Batch>> = VecDeque::new();
        while !shutdown.is_cancelled() {
            while in_flight.front_mut().is_some_and(InFlight::poll_acked) {
                let done = in_flight.pop_front().expect("front checked");
                self.settle(done, shutdown).await?;
            }
            if in_flight.len() >= MAX_BATCHES_IN_FLIGHT {
                let mut oldest = in_flight.pop_front().expect("in flight");
                oldest.acked().await;
                self.settle(oldest, shutdown).await?;
                continue;
            }
            let mut batch = self.fill(shutdown, in_flight.front_mut()).await;
            if batch.is_empty() {
                continue;
            }
            self.seal_all(&mut batch, shutdown).await?;
            let all: Vec<usize> = (0..batch.outgoing.len()).collect();
            let pending = self.send_all(&batch.outgoing, &all, shutdown).await?;
            in_flight.push_back(InFlight::new(batch, pending));
        }
        while let Some(mut oldest) = in_flight.pop_front() {
            oldest.acked().await;
            self.settle(oldest, shutdown).await?;
        }
        Ok(())
    }

    /// Finishes a sent batch: re-sends what failed until it is acknowledged,
    /// then stores its offsets and counts it.
    async fn settle(&mut self, done: InFlight<Batch>, shutdown: &CancellationToken) -> Result<(), KafkaError> {
        let InFlight { mut batch, results, .. } = done;
        let failed = self.failures(&mut batch, results);
        self.retry(&mut batch, failed, shutdown).await?;
        self.store(&batch);
        self.processor.flush_metrics(&self.metrics);
        Ok(())
    }

    /// Takes reads until the batch is full, has lingered long enough since
    /// its first read, or shutdown is asked for. Reads already fetched are
    /// drained from the consumer's queue without waiting (no timer, no
    /// wake-up per read); only when the queue is empty does it wait: for a
    /// read, the linger, or, if a batch is in flight (`oldest`), its
    /// acknowledgements, so that its offsets are stored without waiting for
    /// the next read.
    async fn fill(&mut self, shutdown: &CancellationToken, mut oldest: Option<&mut InFlight<Batch>>) -> Batch {
        let Source {
            consumer,
            processor,
            config,
            keyring,
            troubled_since,
            alert_partitions,
            ..
        } = self;
        let context = (&*config, *alert_partitions, &**keyring);
        let linger = config.pipeline.batch_linger;
        let mut stream = consumer.stream();
        let mut batch = Batch::default();
        let mut deadline = None;
        // Records taken but not yet processed: processed together, so
        // their reads are matched together (`Processor::process_batch`).
        let mut pending = Vec::with_capacity(TAKE_TOGETHER);
        while batch.reads as usize + pending.len() < config.pipeline.batch_size {
            let received = match stream.next().now_or_never() {
                Some(received) => received,
                None if !(batch.is_empty() && pending.is_empty()) && linger.is_zero() => break,
                None => {
                    let linger = async {
                        match deadline {
                            Some(at) => tokio::time::sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    };
                    let acked = async {
                        match oldest.as_deref_mut() {
                            Some(batch) => batch.acked().await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = linger => break,
                        _ = acked => break,
                        received = stream.next() => received,
                    }
                }
            };
            match received.expect("kafka streams never end") {
                Ok(message) => {
                    if let Some(since) = troubled_since.take() {
                        info!(
                            after_ms = since.elapsed().as_millis() as u64,
                            "reads flowing again after consumer errors"
                        );
                    }
                    pending.push(message);
                    if pending.len() == TAKE_TOGETHER {
                        take_all(processor, context, &pending, &mut batch);
                        pending.clear();
                    }
                    deadline.get_or_insert_with(|| Instant::now() + linger);
                }
                Err(e) => {
                    warn!(error = %e, "consumer error");
                    troubled_since.get_or_insert_with(Instant::now);
                }
            }
        }
        take_all(processor, context, &pending, &mut batch);
        batch
    }

    /// The records of `results` that were not acknowledged (a dead letter
    /// too large for the broker is cut to fit first); acknowledged alerts
    /// are counted.
    fn failures(&self, batch: &mut Batch, results: Vec<(usize, Acked)>) -> Vec<usize> {
        let mut failed = Vec::new();
        for (index, result) in results {
            match result {
                Ok(Ok(_)) if batch.outgoing[index].dlq_code.is_none() => {
                    self.metrics.alert_acknowledged(batch.outgoing[index].timestamp)
                }
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => {
                    fit_dead_letter(&mut batch.outgoing[index], &e);
                    warn!(error = %e, topic = %batch.outgoing[index].topic, "delivery failed; will retry");
                    failed.push(index);
                }
                Err(_) => failed.push(index),
            }
        }
        failed
    }

    /// Re-sends the `failed` records with backoff until every one is
    /// acknowledged, or shutdown.
    async fn retry(
        &self,
        batch: &mut Batch,
        mut failed: Vec<usize>,
        shutdown: &CancellationToken,
    ) -> Result<(), KafkaError> {
        let mut backoff = Duration::from_millis(100);
        while !failed.is_empty() {
            self.metrics.delivery_retries.inc_by(failed.len() as u64);
            tokio::select! {
                _ = shutdown.cancelled() => return Err(KafkaError::Undelivered(failed.len())),
                _ = sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(RETRY_BACKOFF_MAX);
            let futures = self.send_all(&batch.outgoing, &failed, shutdown).await?;
            failed = self.failures(batch, await_all(futures).await);
        }
        Ok(())
    }

    /// Seals every payload of the batch under its capture day's key; a
    /// payload whose day is already past the retention is not kept at all.
    /// A key that cannot be had (the broker is away) is waited for.
    async fn seal_all(&self, batch: &mut Batch, shutdown: &CancellationToken) -> Result<(), KafkaError> {
        for record in &mut batch.outgoing {
            if record.payload.is_empty() || record.headers.iter().any(|(k, _)| *k == SEALED_HEADER) {
                continue;
            }
            let captured = record
                .timestamp
                .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
            loop {
                match self.keyring.seal(captured, &record.payload).await {
                    Ok(Some((day, sealed))) => {
                        record.payload = sealed;
                        record.headers.push((SEALED_HEADER, day));
                    }
                    Ok(None) => record.payload.clear(),
                    Err(e) => {
                        warn!(error = %e, "cannot seal; waiting for the day key");
                        tokio::select! {
                            _ = shutdown.cancelled() => return Err(KafkaError::Undelivered(batch.outgoing.len())),
                            _ = sleep(Duration::from_secs(1)) => continue,
                        }
                    }
                }
                break;
            }
        }
        Ok(())
    }

    /// Enqueues the records at `indexes`, waiting while the producer queue is full.
    async fn send_all(
        &self,
        outgoing: &[Outgoing],
        indexes: &[usize],
        shutdown: &CancellationToken,
    ) -> Result<Vec<(usize, DeliveryFuture)>, KafkaError> {
        let mut futures = Vec::with_capacity(indexes.len());
        for &index in indexes {
            let record = &outgoing[index];
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for (key, value) in &record.headers {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                });
            }
            let mut future_record = FutureRecord::<[u8], [u8]>::to(&record.topic)
                .payload(&record.payload)
                .headers(headers);
            if let Some(key) = &record.key {
                future_record = future_record.key(key);
            }
            if let Some(partition) = record.partition {
                future_record = future_record.partition(partition);
            }
            if let Some(timestamp) = record.timestamp {
                future_record = future_record.timestamp(timestamp);
            }
            let delivery = super::enqueue(&self.producer, future_record, shutdown)
                .await
                .map_err(|_| KafkaError::Undelivered(indexes.len() - futures.len()))?;
            futures.push((index, delivery));
        }
        Ok(futures)
    }

    /// Marks the batch done: counts it and stores its offsets for the next commit.
    fn store(&self, batch: &Batch) {
        let mut offsets = TopicPartitionList::new();
        for (&partition, &next) in &batch.next_offsets {
            if let Err(e) = offsets.add_partition_offset(&self.config.topics.reads, partition, Offset::Offset(next)) {
                warn!(error = %e, partition, "cannot record offset");
            }
        }
        if let Err(e) = self.consumer.store_offsets(&offsets) {
            // Typically a partition revoked mid-batch: its new owner replays
            // the reads, which yield the same alert ids.
            warn!(error = %e, "cannot store offsets; the batch will be redelivered");
        }
        let m = &self.metrics;
        m.reads.inc_by(batch.reads);
        m.hits.inc_by(batch.hits);
        for record in &batch.outgoing {
            match record.dlq_code {
                Some(code) => m.dlq.with_label_values(&[code]).inc(),
                None => m.alerts.inc(),
            }
        }
        m.batches.inc();
    }
}

/// Records processed together (see [`Source::fill`]).
const TAKE_TOGETHER: usize = crate::pipeline::BATCH_CHUNK;

/// Processes consumed records into the batch, their reads matched together.
fn take_all(
    processor: &mut Processor,
    context: (&Config, i32, &Keyring),
    messages: &[BorrowedMessage<'_>],
    batch: &mut Batch,
) {
    if messages.is_empty() {
        return;
    }
    let (config, _, keyring) = context;
    let opened: Vec<_> = messages.iter().map(|m| keyring.open_message(m)).collect();
    let payloads: Vec<&[u8]> = opened.iter().filter_map(|o| o.as_deref().ok()).collect();
    let mut outcomes = Vec::with_capacity(payloads.len());
    processor.process_batch(&payloads, &mut outcomes);
    let mut outcomes = outcomes.into_iter();
    for (message, opened) in messages.iter().zip(&opened) {
        let (payload, outcome) = match opened {
            Ok(payload) => (
                payload.as_ref(),
                outcomes.next().expect("one outcome per opened record"),
            ),
            Err(KeyringError::Destroyed(_)) => (
                &[][..],
                Outcome::Rejected(crate::read::ReadError::TooOld {
                    max_days: config.topics.retention.as_secs() / 86_400,
                }),
            ),
            Err(e) => (&[][..], Outcome::Rejected(crate::read::ReadError::Unopenable(e.code()))),
        };
        take(context, message, payload, outcome, batch);
    }
}

/// Puts one processed record into the batch.
fn take(
    (config, alert_partitions, _): (&Config, i32, &Keyring),
    message: &BorrowedMessage<'_>,
    payload: &[u8],
    outcome: Outcome,
    batch: &mut Batch,
) {
    batch.reads += 1;
    batch.next_offsets.insert(message.partition(), message.offset() + 1);
    match outcome {
        Outcome::NoHit => {}
        Outcome::Alerts(alerts) => {
            batch.hits += 1;
            batch.outgoing.extend(alerts.into_iter().map(|alert| Outgoing {
                topic: config.topics.alerts.clone(),
                key: Some(alert.key.into_bytes()),
                payload: alert.payload,
                headers: Vec::new(),
                dlq_code: None,
                partition: Some(crate::alert::partition_of(alert.entry_hash, alert_partitions)),
                timestamp: Some(alert.captured_at_ms),
            }));
        }
        Outcome::Rejected(reason) => {
            let source = format!("{}/{}/{}", message.topic(), message.partition(), message.offset());
            // A read past the retention is not kept, not even as a dead letter.
            let past_retention = matches!(reason, crate::read::ReadError::TooOld { .. });
            batch.outgoing.push(Outgoing {
                topic: config.topics.dlq.clone(),
                key: message.key().filter(|_| !past_retention).map(<[u8]>::to_vec),
                payload: if past_retention { Vec::new() } else { payload.to_vec() },
                timestamp: message.timestamp().to_millis(),
                headers: vec![
                    (DLQ_REASON_HEADER, reason.to_string()),
                    (DLQ_CODE_HEADER, reason.code().to_owned()),
                    (DLQ_SOURCE_HEADER, source),
                ],
                dlq_code: Some(reason.code()),
                partition: None,
            });
        }
    }
}

/// A dead letter too large for the broker loses its (sealed) payload and is
/// marked with the original length, so the partition moves on; the source
/// offset in its headers finds the original while the reads topic still
/// holds it. (Sealed bytes cannot be cut and still open.)
fn fit_dead_letter(record: &mut Outgoing, error: &RdError) {
    let too_large = matches!(
        error,
        RdError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)
            | RdError::MessageProduction(RDKafkaErrorCode::InvalidMessageSize)
    );
    if !too_large || record.dlq_code.is_none() || record.payload.is_empty() {
        return;
    }
    record
        .headers
        .push((DLQ_TRUNCATED_HEADER, record.payload.len().to_string()));
    record.headers.retain(|(k, _)| *k != SEALED_HEADER);
    record.payload.clear();
}
