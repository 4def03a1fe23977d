//! The audit log on Kafka: audit events on their way to the sealer, and the
//! sealed chain of `alpr.audit` read back for `audit verify` and `audit
//! report`.
//!
//! An instance (or the CLI) never writes the chain itself: with several
//! replicas that forked it. It produces each event, signed with the service
//! key, to the one partition of `alpr.audit-events` and waits for the
//! broker's acknowledgement (acks from all in-sync replicas, idempotent);
//! the one sealer ([`super::sealer`]) numbers and chains it. So the API
//! hands out data only once the access is durably on the log (fail closed:
//! a log that does not confirm within [`ACK_WAIT`] means 503 and no data),
//! and a crash after that loses nothing: the sealer seals what is there.
//!
//! An event is bounded before it is sent, so it stays far below any
//! broker's message size; an event the broker still refuses for what it is
//! (too large, invalid) is sent as its flagged outline instead. The chain
//! is written in Kafka transactions, so readers read committed records only.
//!
//! Query terms carry plates, so they leave the process sealed under the
//! audit key ([`crate::retention::seal::AuditKey`], derived from the master
//! key and never destroyed: the access log outlives the 30 days), and are
//! opened only for the service's readers ([`opened`]); anyone who merely
//! reads Kafka sees who accessed what and when, not which plate.

use std::time::Duration;

use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;

use super::{client_config, read_to_end, KafkaError};
use crate::access::audit::{sign_event, AuditEvent, AuditRecord};
use crate::config::Config;
use crate::retention::seal::AuditKey;

/// How long a request waits for its event to be stored before it fails
/// (503, no data returned).
pub const ACK_WAIT: Duration = Duration::from_secs(10);
/// How long the CLI waits to see its event sealed.
pub const SEAL_WAIT: Duration = Duration::from_secs(60);

/// Every record of the audit topic, in order. A record that is not valid
/// JSON is returned as an error naming its offset.
pub fn read_all(config: &Config) -> Result<Vec<AuditRecord>, KafkaError> {
    let (records, unreadable, _) = read_readable(config, None)?;
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

/// The records of the audit topic (all, or the last `back` offsets) that
/// decode, in order; the offset and error of each that does not; and
/// whether the read reached the first record kept.
fn read_readable(config: &Config, back: Option<i64>) -> Result<(Vec<AuditRecord>, Unreadable, bool), KafkaError> {
    let mut records = Vec::new();
    let mut unreadable = Vec::new();
    let topic = &config.topics.audit;
    let collect = |message: &rdkafka::message::BorrowedMessage<'_>| {
        match serde_json::from_slice(message.payload().unwrap_or_default()) {
            Ok(record) => records.push(record),
            Err(e) => unreadable.push((message.offset(), e.to_string())),
        }
        true
    };
    let whole = match back {
        None => read_to_end(config, topic, "audit-reader", collect).map(|_| true)?,
        Some(back) => super::read_tail(config, topic, "audit-reader", back, collect)?,
    };
    Ok((records, unreadable, whole))
}

/// The last records of the audit topic, enough to hold its last record
/// written with the service key if there is one (the sealer continues
/// after it; records anyone else wrote are passed over and named by
/// `verify`).
pub fn read_tail(config: &Config) -> Result<Vec<AuditRecord>, KafkaError> {
    let mut back = 64i64;
    loop {
        let (records, _, whole) = read_readable(config, Some(back))?;
        let keyed = crate::access::audit::Chain::after_last_of(config.key.clone(), &records).next_seq() > 0;
        if keyed || whole {
            return Ok(records);
        }
        back = back.saturating_mul(16);
    }
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

/// Sends audit events to the sealer.
#[derive(Clone)]
pub struct Events {
    config: Config,
    producer: FutureProducer,
    /// The offset of the last event this process sent, -1 before any.
    last: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Events {
    /// A producer for audit events (acks from all in-sync replicas).
    pub fn new(config: &Config) -> Result<Events, KafkaError> {
        let producer = client_config(&config.kafka)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", ACK_WAIT.as_millis().to_string())
            .create()?;
        Ok(Events {
            config: config.clone(),
            producer,
            last: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(-1)),
        })
    }

    /// The offset of the last event sent from here, if any: a reader of
    /// the chain waits until it is sealed ([`super::sealer::wait_sealed`])
    /// to see its own accesses.
    pub fn last_sent(&self) -> Option<i64> {
        Some(self.last.load(std::sync::atomic::Ordering::Relaxed)).filter(|&offset| offset >= 0)
    }

    /// Sends `event`, bounded, and returns its offset once the broker has
    /// it; an event refused for what it is goes as its outline.
    pub async fn send(&self, event: AuditEvent) -> Result<i64, KafkaError> {
        let event = event.bounded();
        match self.send_once(&event).await {
            Err(e) if refused_for_good(&e) => {
                tracing::warn!(error = %e, "audit event refused by the broker; sending its outline");
                self.send_once(&event.outline()).await
            }
            sent => sent,
        }
    }

    async fn send_once(&self, event: &AuditEvent) -> Result<i64, KafkaError> {
        let event = sealed(&self.config.master_key.audit_key(), event.clone());
        let payload = sign_event(&self.config.key, &event);
        let target: FutureRecord<'_, (), _> = FutureRecord::to(&self.config.topics.audit_events)
            .payload(&payload)
            .partition(0);
        let delivery = self.producer.send(target, ACK_WAIT).await.map_err(|(e, _)| e)?;
        self.last
            .fetch_max(delivery.offset, std::sync::atomic::Ordering::Relaxed);
        Ok(delivery.offset)
    }
}

/// `event` with its query terms sealed under `key` (none to seal: as is).
pub fn sealed(key: &AuditKey, mut event: AuditEvent) -> AuditEvent {
    if event.query_terms.is_empty() {
        return event;
    }
    let terms = serde_json::to_vec(&event.query_terms).expect("terms serialize");
    match key.seal(&terms) {
        Ok(sealed) => {
            event.sealed_terms = Some(hex::encode(sealed));
            event.query_terms.clear();
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot seal audit terms; the event goes without them");
            event.query_terms.clear();
            event.truncated = true;
        }
    }
    event
}

/// `record` as the service shows it: its sealed terms opened. Terms that
/// do not open (another master key) show as one term saying so.
pub fn opened(key: &AuditKey, mut record: AuditRecord) -> AuditRecord {
    if let Some(sealed) = record.event.sealed_terms.take() {
        let terms = hex::decode(&sealed)
            .ok()
            .and_then(|bytes| key.open(&bytes).ok())
            .and_then(|json| serde_json::from_slice::<Vec<String>>(&json).ok());
        record.event.query_terms = terms.unwrap_or_else(|| vec!["sealed terms: not opened by this key".into()]);
    }
    record
}

/// Records `event` from the CLI: sends it, then takes part in sealing
/// until it is sealed (by this process or a running instance).
pub async fn append(config: &Config, event: AuditEvent) -> Result<(), KafkaError> {
    let offset = Events::new(config)?.send(event).await?;
    let config = config.clone();
    let sealed = tokio::task::spawn_blocking(move || super::sealer::seal_through(&config, offset, SEAL_WAIT))
        .await
        .map_err(|e| KafkaError::Topic {
            topic: "audit sealer".into(),
            reason: e.to_string(),
        })??;
    match sealed {
        true => Ok(()),
        false => Err(KafkaError::Topic {
            topic: "audit sealer".into(),
            reason: format!(
                "the audit event is stored (offset {offset}) but was not sealed within {} s; it is sealed when an instance runs",
                SEAL_WAIT.as_secs()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::audit::Chain;
    use crate::access::keys::ServiceKey;
    use crate::retention::seal::MasterKey;

    fn search(terms: Vec<String>) -> AuditEvent {
        AuditEvent {
            at: chrono::Utc::now(),
            username: "j.doe".into(),
            organisation: "RSO".into(),
            role: None,
            action: "search_alerts".into(),
            query_terms: terms,
            purpose: None,
            result_count: Some(1),
            client_addr: "10.0.0.1:5000".into(),
            truncated: false,
            sealed_terms: None,
        }
    }

    /// Query terms leave the process sealed: the chained record holds no
    /// plate, still verifies, and opens to the terms for the service only.
    #[test]
    fn query_terms_are_sealed_under_the_audit_key_and_opened_for_readers() {
        let master = MasterKey::from_bytes(&[3u8; 32]).unwrap();
        let terms = vec!["plate=7ABC123".to_owned(), "x".repeat(512)];
        let event = sealed(&master.audit_key(), search(terms.clone()).bounded());
        assert!(event.query_terms.is_empty());
        let mut chain = Chain::start(ServiceKey::development());
        let record = chain.append(event);
        let stored = serde_json::to_string(&record).unwrap();
        assert!(!stored.contains("7ABC123"), "no plate in the stored record");
        assert!(
            !record.event.truncated,
            "sealed terms are not cut by the chain's bounds"
        );
        crate::access::audit::verify(&ServiceKey::development(), std::slice::from_ref(&record)).unwrap();
        assert_eq!(opened(&master.audit_key(), record.clone()).event.query_terms, terms);
        let other = MasterKey::from_bytes(&[4u8; 32]).unwrap();
        assert_eq!(
            opened(&other.audit_key(), record).event.query_terms,
            ["sealed terms: not opened by this key"]
        );
        let empty = sealed(&master.audit_key(), search(Vec::new()));
        assert_eq!(empty.sealed_terms, None, "nothing to seal");
    }
}
