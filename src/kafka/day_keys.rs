//! Encryption at rest on Kafka: the day keys every instance shares through
//! the compacted day-key topic, the sealing of the records the service
//! writes about reads, and the opening of them for authorised readers.
//!
//! Each instance loads the topic at start and follows it
//! ([`crate::retention::keybook`] decides which record is a day's key), makes
//! the day's key when the first record of a new day is sealed, and every
//! minute forgets the keys whose day has passed the retention by its own
//! clock, tombstoning them on the topic. Once a day's key is gone from every
//! instance and compacted away, every copy of that day's records, in any
//! replica, backup or file copied off a broker, is ciphertext nobody can
//! open (crypto-shredding). A sealed record carries its day's id in the
//! [`SEALED_HEADER`] header; a record without it is plain and passes
//! through [`Keyring::open`] unchanged (reads from cameras that do not
//! seal). Never logs a key or a payload.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use ring::rand::{SecureRandom, SystemRandom};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{client_config, follow_topic, read_to_end, KafkaError};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::retention::keybook::{record_name, Applied, KeyBook};
pub use crate::retention::seal::SEALED_HEADER;
use crate::retention::seal::{day_id, day_of, expired, parse_day_id, DayKey, MasterKey, SealError};
use crate::Clock;

/// How often each instance forgets and tombstones expired day keys.
const SHRED_EVERY: Duration = Duration::from_secs(60);
/// How long making a day's key may take (write, then see it on the topic).
const KEY_WAIT: Duration = Duration::from_secs(15);
/// How long a reader waits for a new day's key it has not seen yet.
pub const AGREE_WAIT: Duration = Duration::from_secs(5);

/// Why a record could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("the key of {0} is destroyed: its records are past the retention")]
    Destroyed(String),
    #[error("no key for {0} on the day-key topic")]
    Unknown(String),
    #[error("the sealed-record header does not name a day")]
    BadHeader,
    #[error("cannot open a record of {day}: {error}")]
    Open { day: String, error: SealError },
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("the key of {0} did not appear on the day-key topic in time")]
    NotAgreed(String),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

impl KeyringError {
    /// A short, data-free reason for a dead letter or a log line.
    pub fn code(&self) -> &'static str {
        match self {
            KeyringError::Destroyed(_) => "day key destroyed",
            KeyringError::Unknown(_) => "day key unknown",
            KeyringError::BadHeader => "bad sealed-record header",
            KeyringError::Open { .. } => "wrong key or changed bytes",
            _ => "day key unavailable",
        }
    }
}

/// The day keys of one instance (or of one CLI command).
pub struct Keyring {
    book: RwLock<KeyBook>,
    master: MasterKey,
    producer: FutureProducer,
    topic: String,
    clock: Clock,
    retention_days: u32,
    metrics: Metrics,
    making: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({} days)", self.days().len())
    }
}

impl Keyring {
    /// Loads the day-key topic, follows it until `shutdown`, and forgets
    /// expired keys every minute by `clock`.
    pub async fn start(
        config: &Config,
        metrics: Metrics,
        clock: Clock,
        shutdown: CancellationToken,
    ) -> Result<Arc<Keyring>, KafkaError> {
        let keyring = Arc::new(Keyring {
            book: RwLock::new(KeyBook::default()),
            master: config.master_key.clone(),
            producer: client_config(&config.kafka).set("acks", "all").create()?,
            topic: config.topics.day_keys.clone(),
            clock,
            retention_days: (config.topics.retention.as_secs() / 86_400) as u32,
            metrics,
            making: tokio::sync::Mutex::new(()),
        });
        let end = {
            let (keyring, owned) = (Arc::clone(&keyring), config.clone());
            tokio::task::spawn_blocking(move || {
                read_to_end(&owned, &owned.topics.day_keys, "day-keys", |m| {
                    keyring.apply(m);
                    true
                })
            })
            .await
            .map_err(|e| KafkaError::Topic {
                topic: config.topics.day_keys.clone(),
                reason: e.to_string(),
            })??
        };
        let follower = Arc::clone(&keyring);
        follow_topic(config, "day-keys", end, shutdown.clone(), move |m| follower.apply(m))?;
        keyring.shred_expired().await;
        let shredder = Arc::clone(&keyring);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SHRED_EVERY);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = every.tick() => { shredder.shred_expired().await; }
                }
            }
        });
        Ok(keyring)
    }

    fn apply(&self, message: &BorrowedMessage<'_>) {
        let name = String::from_utf8_lossy(message.key().unwrap_or_default());
        let mut book = self.book.write().expect("keybook lock");
        match book.apply(&self.master, &name, message.payload()) {
            Applied::Destroyed(day) => {
                info!(day = %day_id(day), "day key destroyed on the topic");
                self.metrics.day_keys_destroyed.inc();
            }
            Applied::Refused(reason) => warn!(offset = message.offset(), reason, "day-key record refused"),
            Applied::Adopted(_) | Applied::Ignored(_) | Applied::Tidied(_) => {}
        }
        self.metrics.day_keys.set(book.days().len() as i64);
    }

    /// Now, by the clock this keyring judges expiry with.
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from((self.clock)())
    }

    /// The days whose keys this instance holds, oldest first.
    pub fn days(&self) -> Vec<NaiveDate> {
        self.book.read().expect("keybook lock").days()
    }

    /// Forgets every key past the retention and tombstones it on the topic;
    /// returns the days destroyed. A tombstone that fails is written again
    /// by the next start, which finds the day's record and forgets it anew.
    pub async fn shred_expired(&self) -> Vec<NaiveDate> {
        let now = self.now();
        let doomed: Vec<(NaiveDate, Vec<String>)> = {
            let mut book = self.book.write().expect("keybook lock");
            let days = book.expired(now, self.retention_days);
            let doomed = days.into_iter().map(|day| (day, book.forget(day))).collect();
            self.metrics.day_keys.set(book.days().len() as i64);
            doomed
        };
        for (day, names) in &doomed {
            info!(day = %day_id(*day), "day key past the retention: destroyed");
            self.metrics.day_keys_destroyed.inc();
            for name in names {
                let tombstone = FutureRecord::<str, [u8]>::to(&self.topic).key(name);
                if let Err((e, _)) = self.producer.send(tombstone, KEY_WAIT).await {
                    warn!(error = %e, day = %day_id(*day), "cannot tombstone a day key; retried at next start");
                }
            }
        }
        doomed.into_iter().map(|(day, _)| day).collect()
    }

    /// The key of `day`, made and agreed on the topic if it has none yet.
    pub async fn key_for(&self, day: NaiveDate) -> Result<DayKey, KeyringError> {
        if let Some(key) = self.held(day)? {
            return Ok(key);
        }
        let _making = self.making.lock().await;
        if let Some(key) = self.held(day)? {
            return Ok(key);
        }
        let mut candidate = [0u8; 8];
        SystemRandom::new()
            .fill(&mut candidate)
            .map_err(|_| SealError::Random)?;
        let name = record_name(day, &hex::encode(candidate));
        let wrapped = self.master.wrap(&DayKey::generate(day)?)?;
        let record = FutureRecord::<str, [u8]>::to(&self.topic).key(&name).payload(&wrapped);
        self.producer
            .send(record, KEY_WAIT)
            .await
            .map_err(|(e, _)| KafkaError::from(e))?;
        let deadline = tokio::time::Instant::now() + KEY_WAIT;
        while tokio::time::Instant::now() < deadline {
            if let Some(key) = self.held(day)? {
                return Ok(key);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(KeyringError::NotAgreed(day_id(day)))
    }

    /// The key of `day` if held; an error if the day is past the retention.
    fn held(&self, day: NaiveDate) -> Result<Option<DayKey>, KeyringError> {
        let book = self.book.read().expect("keybook lock");
        if book.is_destroyed(day) || expired(day, self.now(), self.retention_days) {
            return Err(KeyringError::Destroyed(day_id(day)));
        }
        Ok(book.get(day).cloned())
    }

    /// Seals `plaintext` about a read captured at `captured_ms` under its
    /// day's key (a capture in the future is sealed under today's, so it is
    /// never kept longer). Returns the day's id for [`SEALED_HEADER`] and
    /// the sealed bytes, or `None` when the day is already past the
    /// retention: then the bytes must not be kept at all.
    pub async fn seal(&self, captured_ms: i64, plaintext: &[u8]) -> Result<Option<(String, Vec<u8>)>, KeyringError> {
        let now = self.now();
        let captured = DateTime::<Utc>::from_timestamp_millis(captured_ms).unwrap_or(now);
        let day = day_of(&captured.min(now));
        match self.key_for(day).await {
            Ok(key) => Ok(Some((day_id(day), key.seal(plaintext)?))),
            Err(KeyringError::Destroyed(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The plaintext of a record: itself when it carries no
    /// [`SEALED_HEADER`], else opened with its day's key.
    pub fn open<'a>(&self, sealed_day: Option<&[u8]>, payload: &'a [u8]) -> Result<Cow<'a, [u8]>, KeyringError> {
        let Some(id) = sealed_day else {
            return Ok(Cow::Borrowed(payload));
        };
        let day = std::str::from_utf8(id)
            .ok()
            .and_then(parse_day_id)
            .ok_or(KeyringError::BadHeader)?;
        let key = self.held(day)?.ok_or_else(|| KeyringError::Unknown(day_id(day)))?;
        key.open(payload).map(Cow::Owned).map_err(|error| KeyringError::Open {
            day: day_id(day),
            error,
        })
    }

    /// [`Keyring::open`] on a consumed message; a failure is counted. A
    /// record of today or yesterday sealed under a key this instance has
    /// not seen yet (another instance made it a moment ago) is waited for,
    /// up to [`AGREE_WAIT`], blocking the caller: once per new day.
    pub fn open_message<'a, M: Message>(&self, message: &'a M) -> Result<Cow<'a, [u8]>, KeyringError> {
        let (day, payload) = (sealed_day(message), message.payload().unwrap_or_default());
        let deadline = std::time::Instant::now() + AGREE_WAIT;
        loop {
            match self.open(day, payload) {
                Err(KeyringError::Unknown(id)) if std::time::Instant::now() < deadline && self.is_recent(&id) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    self.metrics.unopenable_records.inc();
                    return Err(e);
                }
                Ok(opened) => return Ok(opened),
            }
        }
    }

    /// Whether day `id` is today or yesterday: a key another instance may
    /// have just made.
    fn is_recent(&self, id: &str) -> bool {
        let today = self.now().date_naive();
        parse_day_id(id).is_some_and(|day| day == today || today.pred_opt() == Some(day))
    }
}

/// `headers` with the [`SEALED_HEADER`] naming the key day `day`, as every
/// writer of a sealed record adds it.
pub fn with_sealed_day(headers: rdkafka::message::OwnedHeaders, day: &str) -> rdkafka::message::OwnedHeaders {
    headers.insert(rdkafka::message::Header {
        key: SEALED_HEADER,
        value: Some(day.as_bytes()),
    })
}

/// The value of a message's [`SEALED_HEADER`], if it has one.
pub fn sealed_day<M: Message>(message: &M) -> Option<&[u8]> {
    let headers = message.headers()?;
    headers.iter().find(|h| h.key == SEALED_HEADER).and_then(|h| h.value)
}

/// The days whose keys the day-key topic still holds, read without
/// destroying anything: what `retention verify` reports.
pub fn held_days(config: &Config) -> Result<Vec<NaiveDate>, KafkaError> {
    let mut book = KeyBook::default();
    read_to_end(config, &config.topics.day_keys, "day-keys-verify", |m| {
        let name = String::from_utf8_lossy(m.key().unwrap_or_default());
        book.apply(&config.master_key, &name, m.payload());
        true
    })?;
    Ok(book.days())
}
