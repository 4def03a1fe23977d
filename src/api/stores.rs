//! Everything a handler reaches beyond this process, behind small traits.
//!
//! A handler writes principal records ([`PrincipalWriter`]), appends to and
//! reads the audit log ([`AuditLog`]), scans a topic for a search
//! ([`TopicScan`]) and replaces a hotlist ([`HotlistUpload`]). In service
//! these are Kafka: [`Stores::kafka`] wires the implementations below over
//! [`crate::kafka`]. Unit tests put in-memory ones in their place, so the
//! router is exercised without a broker. A store's failure is a
//! [`StoreError`], which the API answers with 503 and logs, never sends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tracing::warn;

use crate::access::audit::{AuditEvent, AuditRecord};
use crate::alert::lifecycle::Transition;
use crate::config::Config;
use crate::hotlist::plan::{UploadOutcome, Uploader};
use crate::hotlist::preview::Previewed;
use crate::hotlist::HotlistEntry;
use crate::kafka::day_keys::Keyring;
use crate::kafka::KafkaError;

/// A boxed future, so the traits can be used as `dyn` objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which payloads a scan keeps (it stops at the limit).
pub type Keep = Box<dyn FnMut(&[u8]) -> bool + Send>;

/// Why a store could not do what was asked. The detail is for the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store failed (the broker is down, a task panicked).
    #[error("{0}")]
    Failed(String),
    /// The store is working but behind; the caller should try again soon.
    #[error("{0}")]
    Busy(String),
    /// Someone else changed it first (another upload of the same list);
    /// nothing of this request was applied.
    #[error("{0}")]
    Conflict(String),
}

impl From<KafkaError> for StoreError {
    fn from(e: KafkaError) -> StoreError {
        match e {
            KafkaError::Superseded { .. } => StoreError::Conflict(e.to_string()),
            e => StoreError::Failed(e.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for StoreError {
    fn from(e: tokio::task::JoinError) -> StoreError {
        StoreError::Failed(e.to_string())
    }
}

/// Where users, grants and agencies are written (keyed `user:<name>`,
/// `grant:<id>`, `agency:<ORI>`).
pub trait PrincipalWriter: Send + Sync {
    /// Writes one record (`None` = tombstone); done once it is durable.
    fn write<'a>(&'a self, key: &'a str, value: Option<&'a [u8]>) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// The hash-chained audit log.
pub trait AuditLog: Send + Sync {
    /// Queues an event to be chained and stored, in order. Fails when the
    /// log is not keeping up (its queue stayed full for
    /// [`crate::kafka::audit::QUEUE_WAIT`]) or its writer has stopped: the
    /// request that caused it then fails too, so nothing goes unrecorded.
    fn record(&self, event: AuditEvent) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Every stored record, in order.
    fn read_all(&self) -> BoxFuture<'_, Result<Vec<AuditRecord>, StoreError>>;
}

/// Reads a whole topic for the payloads a search wants.
pub trait TopicScan: Send + Sync {
    /// The payloads of `topic` that `keep` accepts, at most `limit`.
    fn scan<'a>(&'a self, topic: &'a str, limit: usize, keep: Keep) -> BoxFuture<'a, Result<Vec<Vec<u8>>, StoreError>>;
}

/// Replaces a whole hotlist.
pub trait HotlistUpload: Send + Sync {
    /// Replaces list `list_id` with `entries` for `uploader` (see
    /// [`Uploader`]: ownership and the covert flag).
    fn upload<'a>(
        &'a self,
        list_id: &'a str,
        entries: &'a [Arc<HotlistEntry>],
        uploader: Uploader<'a>,
    ) -> BoxFuture<'a, Result<UploadOutcome, StoreError>>;
    /// What [`HotlistUpload::upload`] would change, with at most `show`
    /// rows of each kind; writes nothing (a dry run).
    fn preview<'a>(
        &'a self,
        list_id: &'a str,
        entries: &'a [Arc<HotlistEntry>],
        uploader: Uploader<'a>,
        show: usize,
    ) -> BoxFuture<'a, Result<Previewed, StoreError>>;
    /// Removes list `list_id` whole (tombstones); the entries removed.
    fn remove<'a>(&'a self, list_id: &'a str) -> BoxFuture<'a, Result<usize, StoreError>>;
}

/// Where dispatchers' decisions are written.
pub trait DecisionLog: Send + Sync {
    /// Writes one decision on an incident first captured at `captured_ms`;
    /// done once it is durable. It takes effect when the board reads it back.
    fn write<'a>(&'a self, transition: &'a Transition, captured_ms: i64) -> BoxFuture<'a, Result<(), StoreError>>;
}

impl DecisionLog for crate::kafka::alert_state::Writer {
    fn write<'a>(&'a self, transition: &'a Transition, captured_ms: i64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { Ok(crate::kafka::alert_state::Writer::write(self, transition, captured_ms).await?) })
    }
}

/// The stores a running API uses.
#[derive(Clone)]
pub struct Stores {
    pub principals: Arc<dyn PrincipalWriter>,
    pub audit: Arc<dyn AuditLog>,
    pub scan: Arc<dyn TopicScan>,
    pub hotlists: Arc<dyn HotlistUpload>,
    pub decisions: Arc<dyn DecisionLog>,
}

impl Stores {
    /// The Kafka stores: principal records through `principals`, audit
    /// events to the sealer through `audit`, scans and uploads on the
    /// topics of `config`, sealed and opened with `keyring`'s day keys.
    pub fn kafka(
        config: &Config,
        principals: crate::kafka::principals::Writer,
        audit: crate::kafka::audit::Events,
        decisions: crate::kafka::alert_state::Writer,
        keyring: Arc<Keyring>,
    ) -> Stores {
        let config = Arc::new(config.clone());
        Stores {
            principals: Arc::new(principals),
            audit: Arc::new(KafkaAudit {
                config: Arc::clone(&config),
                events: audit,
            }),
            scan: Arc::new(KafkaScan(Arc::clone(&config), Arc::clone(&keyring))),
            hotlists: Arc::new(KafkaHotlists(config, keyring)),
            decisions: Arc::new(decisions),
        }
    }
}

impl PrincipalWriter for crate::kafka::principals::Writer {
    fn write<'a>(&'a self, key: &'a str, value: Option<&'a [u8]>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { Ok(crate::kafka::principals::Writer::write(self, key, value).await?) })
    }
}

/// The audit log: events go to the events topic, signed, and `record`
/// returns once the broker has them (the sealer chains them); reads read
/// the sealed chain.
struct KafkaAudit {
    config: Arc<Config>,
    events: crate::kafka::audit::Events,
}

impl AuditLog for KafkaAudit {
    fn record(&self, event: AuditEvent) -> BoxFuture<'_, Result<(), StoreError>> {
        use crate::kafka::audit::ACK_WAIT;
        Box::pin(async move {
            let action = event.action.clone();
            match tokio::time::timeout(ACK_WAIT, self.events.send(event)).await {
                Ok(Ok(_offset)) => Ok(()),
                Ok(Err(e)) => {
                    warn!(%action, error = %e, "audit event not stored; request refused");
                    Err(StoreError::Busy("the audit log did not confirm the record".into()))
                }
                Err(_) => {
                    warn!(%action, "audit event not confirmed in time; request refused");
                    Err(StoreError::Busy("the audit log did not confirm the record".into()))
                }
            }
        })
    }

    fn read_all(&self) -> BoxFuture<'_, Result<Vec<AuditRecord>, StoreError>> {
        let config = Arc::clone(&self.config);
        let last = self.events.last_sent();
        Box::pin(async move {
            let read = move || {
                if let Some(offset) = last {
                    // This instance's own accesses are in what it reads.
                    use crate::kafka::{audit::ACK_WAIT, sealer::wait_sealed};
                    if !wait_sealed(&config, offset, ACK_WAIT)? {
                        warn!("the audit sealer is behind; reading the chain as it is");
                    }
                }
                crate::kafka::audit::read_all(&config)
            };
            Ok(tokio::task::spawn_blocking(read).await??)
        })
    }
}

/// Topic scans, off the async threads.
struct KafkaScan(Arc<Config>, Arc<Keyring>);

impl TopicScan for KafkaScan {
    fn scan<'a>(&'a self, topic: &'a str, limit: usize, keep: Keep) -> BoxFuture<'a, Result<Vec<Vec<u8>>, StoreError>> {
        let (config, keyring) = (Arc::clone(&self.0), Arc::clone(&self.1));
        let topic = topic.to_owned();
        Box::pin(async move {
            let scan = move || crate::kafka::scan::scan(&config, &keyring, &topic, limit, keep);
            Ok(tokio::task::spawn_blocking(scan).await??)
        })
    }
}

/// Uploads to the hotlist topic.
struct KafkaHotlists(Arc<Config>, Arc<Keyring>);

impl HotlistUpload for KafkaHotlists {
    fn upload<'a>(
        &'a self,
        list_id: &'a str,
        entries: &'a [Arc<HotlistEntry>],
        uploader: Uploader<'a>,
    ) -> BoxFuture<'a, Result<UploadOutcome, StoreError>> {
        Box::pin(
            async move { Ok(crate::kafka::hotlist::upload_with(&self.0, &self.1, list_id, entries, uploader).await?) },
        )
    }

    fn preview<'a>(
        &'a self,
        list_id: &'a str,
        entries: &'a [Arc<HotlistEntry>],
        uploader: Uploader<'a>,
        show: usize,
    ) -> BoxFuture<'a, Result<Previewed, StoreError>> {
        Box::pin(async move { Ok(crate::kafka::hotlist::preview(&self.0, list_id, entries, uploader, show).await?) })
    }

    fn remove<'a>(&'a self, list_id: &'a str) -> BoxFuture<'a, Result<usize, StoreError>> {
        Box::pin(async move { Ok(crate::kafka::hotlist::remove_list(&self.0, list_id).await?) })
    }
}
