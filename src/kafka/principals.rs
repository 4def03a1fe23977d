//! Keeping every instance's users and grants in step with `alpr.principals`.
//!
//! At start the whole compacted topic is read (not as a group member: every
//! instance needs every record) and folded into [`Principals`]; the API
//! serves only after that. Then a task follows the topic and applies each
//! new record, so a user or grant added on one instance is known on all.
//! [`Writer`] writes the records the API's custodian routes make.
//!
//! Every record carries the service key's MAC of its key and value (or of
//! its key as a tombstone) in the [`MAC_HEADER`] header, made by [`Writer`]
//! (the API, the CLI, the demo). A record without a valid MAC, such as one
//! produced straight to the topic by anyone who can reach the broker, is
//! refused: never applied, logged by key and offset (never its value, which
//! may hold a password hash) and counted in
//! `hotlist_principal_records_refused_total`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{client_config, follow_topic, read_to_end, KafkaError};
use crate::access::keys::ServiceKey;
use crate::access::principals::Principals;
use crate::config::Config;
use crate::metrics::Metrics;

/// The header holding a record's MAC under the service key.
pub const MAC_HEADER: &str = "hm.mac";

/// How long a principal record may take to be acknowledged.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);

/// Reads the topic to its end; returns the state and where each partition ended.
pub fn load(config: &Config, metrics: &Metrics) -> Result<(Principals, TopicPartitionList), KafkaError> {
    let mut principals = Principals::default();
    let end = read_to_end(config, &config.topics.principals, "principals", |message| {
        apply(&mut principals, message, &config.key, metrics);
        true
    })?;
    Ok((principals, end))
}

fn apply(principals: &mut Principals, message: &impl Message, service_key: &ServiceKey, metrics: &Metrics) {
    let Some(key) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else {
        warn!(
            offset = message.offset(),
            "principal record without a usable key skipped"
        );
        return;
    };
    if !service_key.principal_signed(key, message.payload(), mac_of(message)) {
        warn!(
            key,
            offset = message.offset(),
            "principal record refused: not signed with the service key"
        );
        metrics.principal_records_refused.inc();
        return;
    }
    if let Err(e) = principals.apply(key, message.payload()) {
        warn!(offset = message.offset(), error = %e, "principal record skipped");
    }
}

/// Signs every current record of the topic that carries no valid MAC
/// (written before principals were signed): the upgrade step, run once by
/// a custodian who has reviewed the topic. Returns how many it signed.
pub async fn sign_existing(config: &Config) -> Result<usize, KafkaError> {
    let mut latest: std::collections::BTreeMap<String, Option<Vec<u8>>> = Default::default();
    let mut ever_signed = std::collections::BTreeSet::new();
    read_to_end(config, &config.topics.principals, "principals-sign", |message| {
        if let Some(key) = message.key().and_then(|k| std::str::from_utf8(k).ok()) {
            if config.key.principal_signed(key, message.payload(), mac_of(message)) {
                latest.remove(key);
                ever_signed.insert(key.to_owned());
            } else if !ever_signed.contains(key) {
                // Only keys the service never signed: an unsigned record
                // after a signed one is a forgery, never signed here.
                latest.insert(key.to_owned(), message.payload().map(<[u8]>::to_vec));
            }
        }
        true
    })?;
    let writer = Writer::new(config)?;
    let mut signed = 0;
    for (key, value) in &latest {
        if let Some(value) = value {
            writer.write(key, Some(value)).await?;
            signed += 1;
        }
    }
    Ok(signed)
}

/// The MAC header of a record, if it has one.
fn mac_of(message: &impl Message) -> Option<&str> {
    message
        .headers()
        .and_then(|headers| headers.iter().find(|h| h.key == MAC_HEADER))
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// Applies every record after `from` to `principals` until `shutdown`.
pub fn follow(
    config: &Config,
    from: TopicPartitionList,
    principals: Arc<RwLock<Principals>>,
    (metrics, shutdown): (Metrics, CancellationToken),
) -> Result<(), KafkaError> {
    let key = config.key.clone();
    follow_topic(config, "principals", from, shutdown, move |message| {
        apply(
            &mut principals.write().expect("principals lock"),
            message,
            &key,
            &metrics,
        )
    })
}

/// Writes principal records (users, grants, agencies) to the topic.
pub struct Writer {
    producer: FutureProducer,
    topic: String,
    key: ServiceKey,
}

impl Writer {
    /// A writer whose records are acknowledged by all in-sync replicas.
    pub fn new(config: &Config) -> Result<Writer, KafkaError> {
        Ok(Writer {
            producer: client_config(&config.kafka).set("acks", "all").create()?,
            topic: config.topics.principals.clone(),
            key: config.key.clone(),
        })
    }

    /// Writes one record (`None` = tombstone), signed, and waits for the ack.
    pub async fn write(&self, key: &str, value: Option<&[u8]>) -> Result<(), KafkaError> {
        let mac = self.key.principal_mac(key, value);
        let headers = OwnedHeaders::new().insert(Header {
            key: MAC_HEADER,
            value: Some(mac.as_bytes()),
        });
        let mut record = FutureRecord::<str, [u8]>::to(&self.topic).key(key).headers(headers);
        if let Some(value) = value {
            record = record.payload(value);
        }
        self.producer.send(record, WRITE_TIMEOUT).await.map_err(|(e, _)| e)?;
        Ok(())
    }
}
