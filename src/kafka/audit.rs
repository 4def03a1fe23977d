//! The audit log on Kafka: appending chained records to `alpr.audit` and
//! reading them back for `audit verify` and `audit report`.
//!
//! The topic has one partition, so the records have one order and one hash
//! chain. A writer continues the chain from the last record in the topic;
//! two writers appending at the same moment would fork it, which `verify`
//! then reports, so appends are meant to go through one writer: the API's
//! [`Writer`] task, or [`append`] from the CLI when no API runs.

use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use tokio::sync::mpsc;
use tracing::warn;

use super::{client_config, read_to_end, KafkaError};
use crate::access::audit::{AuditEvent, AuditRecord, Chain};
use crate::config::Config;

const TIMEOUT: Duration = Duration::from_secs(15);

/// Every record of the audit topic, in order. A record that is not valid
/// JSON is returned as an error naming its offset.
pub fn read_all(config: &Config) -> Result<Vec<AuditRecord>, KafkaError> {
    let topic = &config.topics.audit;
    let mut records = Vec::new();
    let mut broken = None;
    read_to_end(config, topic, "audit-reader", |message| {
        match serde_json::from_slice(message.payload().unwrap_or_default()) {
            Ok(record) => records.push(record),
            Err(e) => {
                broken = Some(KafkaError::Topic {
                    topic: topic.clone(),
                    reason: format!("record at offset {} is not an audit record: {e}", message.offset()),
                })
            }
        }
        broken.is_none()
    })?;
    match broken {
        Some(e) => Err(e),
        None => Ok(records),
    }
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
    /// Reads the topic (blocking) to continue its chain.
    pub fn open(config: &Config) -> Result<Writer, KafkaError> {
        let records = read_all(config)?;
        Ok(Writer {
            config: config.clone(),
            chain: records.last().map(Chain::after).unwrap_or_default(),
            producer: producer(config)?,
        })
    }

    /// Starts the single writer task: it chains and stores each queued
    /// event in order, until every sender is dropped.
    pub fn start(mut self) -> mpsc::Sender<AuditEvent> {
        let (tx, mut rx) = mpsc::channel::<AuditEvent>(1024);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let record = self.chain.append(event);
                // A lost record would break the chain for every later one:
                // keep trying, in order, until the broker takes it.
                let mut backoff = Duration::from_millis(100);
                while let Err(e) = store(&self.producer, &self.config, &record).await {
                    warn!(error = %e, seq = record.seq, "audit record not stored yet; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        });
        tx
    }
}
