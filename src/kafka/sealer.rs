//! The audit sealer: the one place audit events become numbered, chained
//! records, however many instances run.
//!
//! Every instance and the CLI produce signed audit events to the one
//! partition of `alpr.audit-events` ([`super::audit::record`]). Every
//! instance also runs a sealer, a member of one consumer group on that
//! topic, so exactly one of them holds the partition at a time. The holder
//! takes over by opening a transactional producer with the deployment's one
//! `transactional.id` (which fences any earlier holder still writing), reads
//! the chain's last keyed record from `alpr.audit` and resumes from the
//! group's committed offset. It then seals a batch of events at a time in
//! one Kafka transaction: the chained records and the consumed offset are
//! committed together, so a sealer killed at any moment leaves no gap, no
//! duplicate and no fork: the next holder resumes exactly where the last
//! committed transaction ended. An event not signed with the service key
//! is logged, counted and never sealed. Any failure means a fresh take-over,
//! never a guess. Runs on a thread of its own (the transactional calls
//! block), until shutdown.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError as ClientError;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{client_config, consumer_config, KafkaError};
use crate::access::audit::{open_event, AuditRecord, Chain};
use crate::config::Config;
use crate::metrics::Metrics;

/// How long the sealer waits for events before checking its partition.
const POLL: Duration = Duration::from_millis(100);
/// Most events sealed in one transaction.
const BATCH: usize = 500;
/// Longest a transactional call may take.
const TXN_TIMEOUT: Duration = Duration::from_secs(30);

/// The consumer group of every sealer of a deployment.
pub fn group_id(config: &Config) -> String {
    format!("{}-sealer", config.topics.audit_events)
}

/// The one transactional id of a deployment's sealers.
fn transactional_id(config: &Config) -> String {
    format!("{}-sealer", config.topics.audit)
}

/// Starts this instance's sealer on a thread of its own.
pub fn start(config: &Config, metrics: Metrics, shutdown: CancellationToken) -> Result<(), KafkaError> {
    let consumer = consumer(config)?;
    let config = config.clone();
    std::thread::Builder::new()
        .name("audit-sealer".into())
        .spawn(move || run(&config, &consumer, &metrics, || shutdown.is_cancelled()))
        .map_err(|e| KafkaError::Topic {
            topic: "audit sealer".into(),
            reason: e.to_string(),
        })?;
    Ok(())
}

/// Watches, every few seconds until `shutdown`, whether the deployment's
/// sealer keeps up: `audit_backlog` is the events not yet sealed, and
/// `audit_sealer_stalled_seconds` how long events have waited with no
/// progress (or the broker has not answered); `/readyz` fails past
/// [`crate::admin::SEALER_STALL`], since this instance's accesses would not
/// reach the audit log.
pub fn watch(config: &Config, metrics: Metrics, shutdown: CancellationToken) -> Result<(), KafkaError> {
    let reader: BaseConsumer = consumer_config(&config.kafka, group_id(config))
        .set("enable.auto.commit", "false")
        .create()?;
    let config = config.clone();
    let check = move || {
        let (mut last, mut stalled_since) = (None, None::<std::time::Instant>);
        while !shutdown.is_cancelled() {
            let topic = &config.topics.audit_events;
            let state = committed(&config, &reader)
                .and_then(|next| Ok((next, reader.fetch_watermarks(topic, 0, TXN_TIMEOUT)?)));
            match state {
                Ok((next, (low, high))) => {
                    let backlog = high - next.max(low);
                    metrics.audit_backlog.set(backlog.max(0));
                    match backlog <= 0 || last != Some(next) {
                        true => stalled_since = None,
                        false => drop(stalled_since.get_or_insert_with(std::time::Instant::now)),
                    }
                    last = Some(next);
                }
                Err(_) => drop(stalled_since.get_or_insert_with(std::time::Instant::now)),
            }
            let stalled = stalled_since.map_or(0, |since| since.elapsed().as_secs());
            metrics.audit_sealer_stalled_seconds.set(stalled as i64);
            std::thread::sleep(Duration::from_secs(5));
        }
    };
    std::thread::Builder::new()
        .name("audit-sealer-watch".into())
        .spawn(check)
        .map_err(|e| KafkaError::Topic {
            topic: "audit sealer".into(),
            reason: e.to_string(),
        })?;
    Ok(())
}

/// Takes part in sealing, in this thread, until every event up to and
/// including `offset` is sealed (by this or another instance) or `wait`
/// has passed: the CLI's way to see its own event sealed.
pub fn seal_through(config: &Config, offset: i64, wait: Duration) -> Result<bool, KafkaError> {
    let consumer = consumer(config)?;
    let deadline = std::time::Instant::now() + wait;
    let metrics = Metrics::new();
    let mut sealed = false;
    let mut checked = std::time::Instant::now();
    run(config, &consumer, &metrics, || {
        if checked.elapsed() >= Duration::from_millis(200) || sealed {
            checked = std::time::Instant::now();
            sealed = committed(config, &consumer).is_ok_and(|next| next > offset);
        }
        sealed || std::time::Instant::now() >= deadline
    });
    Ok(sealed)
}

/// Waits until every event up to and including `offset` is sealed, or
/// `wait` has passed; whether it is. Joins no group: it only reads the
/// group's committed offset (so a reader sees its own accesses).
pub fn wait_sealed(config: &Config, offset: i64, wait: Duration) -> Result<bool, KafkaError> {
    let reader: BaseConsumer = consumer_config(&config.kafka, group_id(config))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()?;
    let deadline = std::time::Instant::now() + wait;
    loop {
        if committed(config, &reader)? > offset {
            return Ok(true);
        }
        if std::time::Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn consumer(config: &Config) -> Result<BaseConsumer, KafkaError> {
    let consumer: BaseConsumer = consumer_config(&config.kafka, group_id(config))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set(
            "session.timeout.ms",
            config.kafka.session_timeout.as_millis().to_string(),
        )
        .create()?;
    consumer.subscribe(&[&config.topics.audit_events])?;
    Ok(consumer)
}

/// The chain being continued and the producer that may continue it.
struct Holder {
    producer: BaseProducer,
    chain: Chain,
}

fn run(config: &Config, consumer: &BaseConsumer, metrics: &Metrics, mut stop: impl FnMut() -> bool) {
    let mut holder: Option<Holder> = None;
    while !stop() {
        let first = consumer.poll(POLL);
        if !holds_partition(config, consumer) {
            if holder.take().is_some() {
                info!("audit sealer: partition given up to another instance");
            }
            continue;
        }
        let Some(current) = holder.as_mut() else {
            match take_over(config, consumer) {
                Ok(taken) => {
                    info!(next_seq = taken.chain.next_seq(), "audit sealer: took over the chain");
                    metrics.audit_sealer_takeovers.inc();
                    holder = Some(taken);
                }
                Err(e) => {
                    warn!(error = %e, "audit sealer: could not take over; trying again");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            continue; // events are read again from the committed offset
        };
        let batch = gather(first, consumer);
        if batch.is_empty() {
            continue;
        }
        if let Err(e) = seal(config, consumer, current, &batch, metrics) {
            warn!(error = %e, "audit sealer: batch not sealed; taking over afresh");
            holder = None;
        }
    }
}

/// The first polled event and any already fetched, as (offset, payload).
fn gather(
    first: Option<Result<rdkafka::message::BorrowedMessage<'_>, ClientError>>,
    consumer: &BaseConsumer,
) -> Vec<(i64, Vec<u8>)> {
    let mut batch = Vec::new();
    let mut next = first;
    while let Some(polled) = next {
        match polled {
            Ok(message) => batch.push((message.offset(), message.payload().unwrap_or_default().to_vec())),
            Err(e) => warn!(error = %e, "audit sealer: poll failed"),
        }
        if batch.len() >= BATCH {
            break;
        }
        next = consumer.poll(Duration::ZERO);
    }
    batch
}

fn holds_partition(config: &Config, consumer: &BaseConsumer) -> bool {
    consumer.assignment().is_ok_and(|assigned| {
        assigned
            .elements()
            .iter()
            .any(|e| e.topic() == config.topics.audit_events && e.partition() == 0)
    })
}

/// The group's committed offset of the events partition: the next event
/// to seal (0 if none was ever sealed).
fn committed(config: &Config, consumer: &BaseConsumer) -> Result<i64, KafkaError> {
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition(&config.topics.audit_events, 0);
    let committed = consumer.committed_offsets(partitions, TXN_TIMEOUT)?;
    let offset = committed.elements().first().map(|e| e.offset());
    Ok(match offset {
        Some(Offset::Offset(next)) => next,
        _ => 0,
    })
}

/// Fences any earlier holder, then finds where the chain and the events
/// stand and rewinds the consumer to the first unsealed event.
fn take_over(config: &Config, consumer: &BaseConsumer) -> Result<Holder, KafkaError> {
    let producer: BaseProducer = client_config(&config.kafka)
        .set("transactional.id", transactional_id(config))
        .set("transaction.timeout.ms", "60000")
        .create()?;
    producer.init_transactions(TXN_TIMEOUT)?;
    let tail = super::audit::read_tail(config)?;
    let chain = Chain::after_last_of(config.key.clone(), &tail);
    let next = committed(config, consumer)?;
    consumer.seek(&config.topics.audit_events, 0, Offset::Offset(next), TXN_TIMEOUT)?;
    Ok(Holder { producer, chain })
}

/// Seals `batch` in one transaction with its consumed offset; on failure
/// the chain is as it was and the transaction aborted.
fn seal(
    config: &Config,
    consumer: &BaseConsumer,
    holder: &mut Holder,
    batch: &[(i64, Vec<u8>)],
    metrics: &Metrics,
) -> Result<(), KafkaError> {
    let before = holder.chain.clone();
    holder.producer.begin_transaction()?;
    let result = write_batch(config, consumer, holder, batch, metrics);
    match result {
        Ok(sealed) => {
            metrics.audit_sealed.inc_by(sealed);
            Ok(())
        }
        Err(e) => {
            holder.chain = before;
            let _ = holder.producer.abort_transaction(TXN_TIMEOUT);
            Err(e)
        }
    }
}

fn write_batch(
    config: &Config,
    consumer: &BaseConsumer,
    holder: &mut Holder,
    batch: &[(i64, Vec<u8>)],
    metrics: &Metrics,
) -> Result<u64, KafkaError> {
    let mut sealed = 0;
    for (offset, payload) in batch {
        let event = match open_event(&config.key, payload) {
            Ok(event) => event,
            Err(e) => {
                warn!(offset, error = %e, "audit sealer: event refused, not sealed");
                metrics.audit_events_refused.inc();
                continue;
            }
        };
        let record: AuditRecord = holder.chain.append(event);
        let json = serde_json::to_vec(&record).expect("audit records serialize");
        let key = record.seq.to_string();
        let target = BaseRecord::to(&config.topics.audit)
            .key(&key)
            .payload(&json)
            .partition(0);
        holder.producer.send(target).map_err(|(e, _)| e)?;
        sealed += 1;
    }
    let last = batch.last().map(|(offset, _)| *offset).unwrap_or_default();
    let mut offsets = TopicPartitionList::new();
    offsets.add_partition_offset(&config.topics.audit_events, 0, Offset::Offset(last + 1))?;
    let group = consumer.group_metadata().ok_or_else(|| KafkaError::Topic {
        topic: config.topics.audit_events.clone(),
        reason: "the sealer is not in its group".into(),
    })?;
    holder
        .producer
        .send_offsets_to_transaction(&offsets, &group, TXN_TIMEOUT)?;
    holder.producer.commit_transaction(TXN_TIMEOUT)?;
    Ok(sealed)
}
