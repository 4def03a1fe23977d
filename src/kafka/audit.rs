//! The audit log on Kafka: appending chained records to `alpr.audit` and
//! reading them back for `audit verify` and `audit report`.
//!
//! The topic has one partition, so the records have one order and one hash
//! chain. A writer continues the chain from the last record in the topic;
//! two writers appending at the same moment would fork it, which `verify`
//! then reports, so appends are meant to go through one writer: the API's
//! [`Writer`] task, or [`append`] from the CLI when no API runs.
//!
//! A request learns that its record is stored: each event travels with a
//! [`Pending`] acknowledgement that the writer answers once the broker has
//! acknowledged the record (acks from all in-sync replicas), so the API
//! hands out data only after the access is on the log (fail closed: a log
//! that does not confirm within [`ACK_WAIT`] means 503 and no data).
//!
//! The writer never stalls on one record: events are bounded before they
//! are chained, a record the broker refuses for what it is (too large,
//! invalid) is stored as its flagged outline instead, and only transient
//! failures are retried. Events reach it through a bounded queue that a
//! request waits on for at most [`QUEUE_WAIT`]: a log that is not keeping
//! up makes requests fail with 503 rather than pile up. A record that is
//! not an audit record does not stop an instance from starting: the writer
//! continues after the last one it can read, and `audit verify` names it.

use std::time::Duration;

use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use super::{client_config, read_to_end, KafkaError};
use crate::access::audit::{AuditEvent, AuditRecord, Chain};
use crate::config::Config;

const TIMEOUT: Duration = Duration::from_secs(15);

/// Events waiting for the writer, at most.
pub const QUEUE_CAPACITY: usize = 1024;
/// How long a request waits for room in the queue before it fails (503).
pub const QUEUE_WAIT: Duration = Duration::from_secs(2);
/// How long a request waits for its record to be stored before it fails
/// (503, no data returned).
pub const ACK_WAIT: Duration = Duration::from_secs(10);

/// An event on its way to the log, and who to tell once it is stored.
pub struct Pending {
    pub event: AuditEvent,
    /// Answered with the record's sequence number once the broker has it.
    pub stored: oneshot::Sender<u64>,
}

impl Pending {
    /// An event and the receiver that learns when it is stored.
    pub fn new(event: AuditEvent) -> (Pending, oneshot::Receiver<u64>) {
        let (stored, receiver) = oneshot::channel();
        (Pending { event, stored }, receiver)
    }
}

/// Every record of the audit topic, in order. A record that is not valid
/// JSON is returned as an error naming its offset.
pub fn read_all(config: &Config) -> Result<Vec<AuditRecord>, KafkaError> {
    let (records, unreadable) = read_readable(config)?;
    match unreadable.into_iter().next() {
        Some((offset, e)) => Err(KafkaError::Topic {
            topic: config.topics.audit.clone(),
            reason: format!("record at offset {offset} is not an audit record: {e}"),
        }),
        None => Ok(records),
    }
}

/// The offset and decoding error of each record that is not an audit record.
type Unreadable = Vec<(i64, String)>;

/// The records of the audit topic that decode, in order, and the offset
/// and error of each that does not.
fn read_readable(config: &Config) -> Result<(Vec<AuditRecord>, Unreadable), KafkaError> {
    let mut records = Vec::new();
    let mut unreadable = Vec::new();
    read_to_end(config, &config.topics.audit, "audit-reader", |message| {
        match serde_json::from_slice(message.payload().unwrap_or_default()) {
            Ok(record) => records.push(record),
            Err(e) => unreadable.push((message.offset(), e.to_string())),
        }
        true
    })?;
    Ok((records, unreadable))
}

/// Whether the broker refused a record for what it is (size, format), so
/// retrying the same record can never succeed.
fn refused_for_good(e: &KafkaError) -> bool {
    use RDKafkaErrorCode::*;
    matches!(
        e,
        KafkaError::Client(rdkafka::error::KafkaError::MessageProduction(
            MessageSizeTooLarge | InvalidMessageSize | InvalidRecord | InvalidMessage
        ))
    )
}

/// Appends `event`, continuing the chain from the topic's last record.
pub async fn append(config: &Config, event: AuditEvent) -> Result<AuditRecord, KafkaError> {
    let records = read_all(config)?;
    let mut chain = records.last().map(Chain::after).unwrap_or_default();
    let record = chain.append(event);
    store(&producer(config)?, config, &record).await?;
    Ok(record)
}

/// A producer for audit records (acks from all replicas).
pub fn producer(config: &Config) -> Result<FutureProducer, KafkaError> {
    Ok(client_config(&config.kafka).set("acks", "all").create()?)
}

/// Writes one chained record to the audit topic and waits for the ack.
pub async fn store(producer: &FutureProducer, config: &Config, record: &AuditRecord) -> Result<(), KafkaError> {
    let payload = serde_json::to_vec(record).expect("audit records serialize");
    let key = record.seq.to_string();
    let target = FutureRecord::to(&config.topics.audit)
        .key(&key)
        .payload(&payload)
        .partition(0);
    producer.send(target, TIMEOUT).await.map_err(|(e, _)| e)?;
    Ok(())
}

/// The audit chain as found in the topic, ready to be continued by one
/// writer task.
pub struct Writer {
    config: Config,
    chain: Chain,
    producer: FutureProducer,
}

impl Writer {
    /// Reads the topic (blocking) to continue its chain, after the last
    /// record that decodes (one that does not is logged by offset, never
    /// a reason not to start).
    pub fn open(config: &Config) -> Result<Writer, KafkaError> {
        let (records, unreadable) = read_readable(config)?;
        for (offset, error) in &unreadable {
            warn!(offset, %error, "alpr.audit holds a record that is not an audit record; `audit verify` will fail");
        }
        Ok(Writer {
            config: config.clone(),
            chain: records.last().map(Chain::after).unwrap_or_default(),
            producer: producer(config)?,
        })
    }

    /// Starts the single writer task: it chains and stores each queued
    /// event in order, tells its sender, until every sender is dropped.
    pub fn start(mut self) -> mpsc::Sender<Pending> {
        let (tx, mut rx) = mpsc::channel::<Pending>(QUEUE_CAPACITY);
        tokio::spawn(async move {
            while let Some(pending) = rx.recv().await {
                let seq = self.write(pending.event).await;
                // The requester may have given up waiting (it answered 503).
                let _ = pending.stored.send(seq);
            }
        });
        tx
    }

    /// Chains and stores one event. A lost record would break the chain
    /// for every later one, so transient failures are retried, in order,
    /// until the broker takes it; a record refused for good is replaced,
    /// under the same sequence number, by its outline. Returns the stored
    /// record's sequence number.
    async fn write(&mut self, event: AuditEvent) -> u64 {
        let before = self.chain.clone();
        let mut record = self.chain.append(event);
        let mut backoff = Duration::from_millis(100);
        let mut outlined = false;
        while let Err(e) = store(&self.producer, &self.config, &record).await {
            if refused_for_good(&e) && !outlined {
                outlined = true;
                warn!(error = %e, seq = record.seq, "audit record refused by the broker; storing its outline");
                self.chain = before.clone();
                record = self.chain.append(record.event.outline());
                continue;
            }
            warn!(error = %e, seq = record.seq, "audit record not stored yet; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
        record.seq
    }
}
