//! The write side of a whole-list replacement: one Kafka transaction per
//! upload, under a transactional id of its own list, so two uploads of one
//! list (two clerks, the CLI and the HTTPS upload, two instances) never
//! interleave.
//!
//! [`ListWriter::fence`] opens the producer with the transactional id
//! `<hotlist topic>-upload-<list>`: the broker then aborts any transaction
//! an earlier upload of that list still has open, and refuses that
//! upload's further writes (it is fenced). Only after fencing does the
//! upload read the list and diff against it, so the diff is against every
//! replacement committed before it, and nothing it writes can mix with a
//! concurrent one. The fenced upload is refused with
//! [`KafkaError::Superseded`], never retried here: the later upload is the
//! newer intent, and a retry of the earlier file would silently undo it;
//! the clerk is told that nothing of theirs was applied and to retry if
//! their file is the one that should stand.
//!
//! [`ListWriter::replace`] writes the changes, then the list record with
//! the commit point of [`crate::hotlist::commit`], then commits. Readers
//! (read_committed) never see an aborted upload, and apply a committed one
//! all at once at its commit point. Must never write outside a transaction.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::error::RDKafkaErrorCode as Code;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio_util::sync::CancellationToken;

use super::{client_config, enqueue, KafkaError};
use crate::config::Config;
use crate::hotlist::commit::{format_through, THROUGH_HEADER, VERSION_HEADER};

/// How long the broker lets an upload's transaction stay open before it
/// aborts it (an uploader that died mid-way). Readers wait at most this
/// long behind an open transaction.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest one transactional call (fence, commit, abort) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A record to write: key and value (`None` is a tombstone).
pub type Write = (String, Option<Vec<u8>>);

/// The one writer of a list for the length of one upload.
pub struct ListWriter {
    producer: FutureProducer,
    list: String,
    topic: String,
}

/// The transactional id of `list`'s uploads.
pub fn transactional_id(config: &Config, list: &str) -> String {
    format!("{}-upload-{list}", config.topics.hotlist)
}

impl ListWriter {
    /// Becomes the only writer of `list`, fencing any earlier upload of it.
    pub async fn fence(config: &Config, list: &str) -> Result<ListWriter, KafkaError> {
        let producer: FutureProducer = client_config(&config.kafka)
            .set("transactional.id", transactional_id(config, list))
            .set("transaction.timeout.ms", TRANSACTION_TIMEOUT.as_millis().to_string())
            .set("linger.ms", "20")
            .create()?;
        let writer = ListWriter {
            producer,
            list: list.to_owned(),
            topic: config.topics.hotlist.clone(),
        };
        writer.blocking(|p| p.init_transactions(CALL_TIMEOUT)).await?;
        Ok(writer)
    }

    /// Writes `changes` then the list record `meta` (key, value), all
    /// tagged with `version`, in one transaction; the list record names
    /// the commit point. All or nothing.
    pub async fn replace(self, changes: &[Write], meta: (String, Vec<u8>), version: u64) -> Result<(), KafkaError> {
        self.blocking(|p| p.begin_transaction()).await?;
        let written = self.write(changes, meta, version).await;
        let result = match written {
            Ok(()) => self.blocking(|p| p.commit_transaction(CALL_TIMEOUT)).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            if !matches!(e, KafkaError::Superseded { .. }) {
                // Best effort: a transaction left open is aborted by the
                // broker after TRANSACTION_TIMEOUT, or by the next upload.
                let _ = self.blocking(|p| p.abort_transaction(CALL_TIMEOUT)).await;
            }
            return Err(e);
        }
        Ok(())
    }

    async fn write(&self, changes: &[Write], meta: (String, Vec<u8>), version: u64) -> Result<(), KafkaError> {
        let version = version.to_string();
        let never = CancellationToken::new();
        let mut pending = Vec::with_capacity(changes.len());
        for (key, value) in changes {
            let headers = OwnedHeaders::new().insert(Header {
                key: VERSION_HEADER,
                value: Some(&version),
            });
            let mut record = FutureRecord::<str, [u8]>::to(&self.topic).key(key).headers(headers);
            if let Some(value) = value {
                record = record.payload(value);
            }
            pending.push(
                enqueue(&self.producer, record, &never)
                    .await
                    .map_err(|e| self.fenced(e))?,
            );
        }
        let mut through = BTreeMap::new();
        for delivery in pending {
            let delivered = delivery
                .await
                .map_err(|_| KafkaError::Undelivered(1))?
                .map_err(|(e, _)| self.fenced(e.into()))?;
            let last = through.entry(delivered.partition).or_insert(delivered.offset);
            *last = (*last).max(delivered.offset);
        }
        let through = format_through(&through);
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: VERSION_HEADER,
                value: Some(&version),
            })
            .insert(Header {
                key: THROUGH_HEADER,
                value: Some(&through),
            });
        let record = FutureRecord::to(&self.topic)
            .key(&meta.0)
            .payload(&meta.1)
            .headers(headers);
        let delivery = enqueue(&self.producer, record, &never)
            .await
            .map_err(|e| self.fenced(e))?;
        delivery
            .await
            .map_err(|_| KafkaError::Undelivered(1))?
            .map_err(|(e, _)| self.fenced(e.into()))?;
        Ok(())
    }

    /// Runs a blocking transactional call off the async threads.
    async fn blocking(
        &self,
        call: impl FnOnce(&FutureProducer) -> rdkafka::error::KafkaResult<()> + Send + 'static,
    ) -> Result<(), KafkaError> {
        let producer = self.producer.clone();
        let result = tokio::task::spawn_blocking(move || call(&producer))
            .await
            .map_err(|e| KafkaError::Topic {
                topic: self.topic.clone(),
                reason: e.to_string(),
            })?;
        result.map_err(|e| self.fenced(e.into()))
    }

    /// `error`, or [`KafkaError::Superseded`] when another upload of the
    /// list fenced this one.
    fn fenced(&self, error: KafkaError) -> KafkaError {
        let fencing = |code: Code| {
            matches!(
                code,
                Code::Fenced | Code::ProducerFenced | Code::InvalidProducerEpoch | Code::TransactionCoordinatorFenced
            )
        };
        let by_code = match &error {
            KafkaError::Client(e) => e.rdkafka_error_code().is_some_and(fencing),
            _ => false,
        };
        let fatal = self
            .producer
            .client()
            .fatal_error()
            .is_some_and(|(code, _)| fencing(code));
        if by_code || fatal {
            KafkaError::Superseded {
                list: self.list.clone(),
            }
        } else {
            error
        }
    }
}
