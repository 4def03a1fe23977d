//! Everything that talks to Kafka: topic setup, the read source, the sinks.
//!
//! Kafka is the system of record and the way this service scales: reads are
//! consumed in a group (more partitions, more instances), alerts and rejected
//! records are produced back. Nothing here decides what a read means; that
//! is [`crate::pipeline`], which this module feeds and drains.

pub mod alert_state;
pub mod audit;
mod connect;
pub mod day_keys;
pub mod historical;
pub mod hotlist;
mod hotlist_load;
pub mod hotlist_write;
pub mod parallel;
pub mod principals;
pub mod retention;
pub mod scan;
pub mod sealer;
pub mod source;
pub mod topics;

pub use self::connect::{check_connection, check_connection_async, check_connection_within, ConnectionCause};

use rdkafka::ClientConfig;

use crate::config::KafkaSettings;

/// Why talking to Kafka failed.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// Not `#[from]`: the message carries the client's error, which as a
    /// source too would be printed twice in a chain.
    #[error("kafka client error: {0}")]
    Client(rdkafka::error::KafkaError),
    /// A configured topic is not on the broker.
    #[error("topic {topic} does not exist: run `hotlist-matcher topics` to create the topics, or check the names under [topics] in the config")]
    MissingTopic { topic: String },
    #[error("topic {topic}: {reason}")]
    Topic { topic: String, reason: String },
    /// Another upload of the same list started before this one committed
    /// and fenced it: nothing of this upload was applied.
    #[error("another upload of list {list} started while this one was being written; nothing of this upload was applied: check the list and upload again if this file should replace it")]
    Superseded { list: String },
    #[error("stopped before {0} record(s) were acknowledged; their reads will be redelivered")]
    Undelivered(usize),
    /// The start-up check ([`check_connection`]) found no usable broker.
    /// The message names the cause and what to check, never a secret.
    #[error("cannot reach Kafka at {bootstrap}: {cause}")]
    Unreachable { bootstrap: String, cause: ConnectionCause },
}

impl From<rdkafka::error::KafkaError> for KafkaError {
    fn from(error: rdkafka::error::KafkaError) -> Self {
        KafkaError::Client(error)
    }
}

/// The client settings every producer, consumer and admin client shares.
pub fn client_config(settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.bootstrap_servers)
        .set("client.id", &settings.client_id);
    for (name, value) in &settings.properties {
        config.set(name, value);
    }
    config
}

/// [`client_config`] for a consumer of group `group`, its prefetch queue
/// bounded by `kafka.consumer_queue_kib` (memory a pod must allow for).
pub fn consumer_config(settings: &KafkaSettings, group: impl Into<String>) -> ClientConfig {
    let mut config = client_config(settings);
    config
        .set("group.id", group.into())
        .set("queued.max.messages.kbytes", settings.consumer_queue_kib.to_string());
    config
}

/// Enqueues `record` on `producer`, waiting while its queue is full (the
/// broker is behind), so no record is ever dropped for a full queue; gives
/// up only when `shutdown` is cancelled. The one send loop of the source,
/// the uploads and the historical alerts.
pub async fn enqueue<K, P>(
    producer: &rdkafka::producer::FutureProducer,
    mut record: rdkafka::producer::FutureRecord<'_, K, P>,
    shutdown: &tokio_util::sync::CancellationToken,
) -> Result<rdkafka::producer::DeliveryFuture, KafkaError>
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    use rdkafka::error::KafkaError as RdError;
    use rdkafka::types::RDKafkaErrorCode;
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((RdError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                if shutdown.is_cancelled() {
                    return Err(KafkaError::Undelivered(1));
                }
                record = back;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

/// Waits for a record's acknowledgement.
pub async fn acked(delivery: rdkafka::producer::DeliveryFuture) -> Result<(), KafkaError> {
    delivery
        .await
        .map_err(|_| KafkaError::Undelivered(1))?
        .map_err(|(e, _)| e)?;
    Ok(())
}

/// How many partitions `topic` has (waiting out a leaderless moment).
pub fn partition_count<C: rdkafka::client::ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: &str,
) -> Result<i32, KafkaError> {
    use rdkafka::error::KafkaError as RdError;
    use rdkafka::types::RDKafkaErrorCode as Code;
    let missing = || KafkaError::MissingTopic {
        topic: topic.to_owned(),
    };
    let metadata = match settled(|| client.fetch_metadata(Some(topic), READ_TIMEOUT)) {
        Err(RdError::MetadataFetch(Code::UnknownTopicOrPartition)) => return Err(missing()),
        other => other?,
    };
    let listed = metadata.topics().first();
    if listed
        .is_some_and(|t| t.error() == Some(rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART))
    {
        return Err(missing());
    }
    let count = listed.map_or(0, |t| t.partitions().len());
    if count == 0 {
        return Err(missing());
    }
    Ok(count as i32)
}

/// Retries `call` while the broker says a partition has no leader yet (a
/// topic just created, or a leader moving after a broker failure), for up
/// to [`READ_TIMEOUT`]; any other error, or one that lasts, is returned.
fn settled<T>(mut call: impl FnMut() -> rdkafka::error::KafkaResult<T>) -> rdkafka::error::KafkaResult<T> {
    use rdkafka::error::KafkaError as RdError;
    use rdkafka::types::RDKafkaErrorCode as Code;
    let deadline = std::time::Instant::now() + READ_TIMEOUT;
    loop {
        match call() {
            Err(RdError::MetadataFetch(code) | RdError::OffsetFetch(code))
                if matches!(
                    code,
                    Code::NotLeaderForPartition | Code::LeaderNotAvailable | Code::UnknownTopicOrPartition
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            result => return result,
        }
    }
}

/// How long a reader waits for the next record before giving up.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Reads every partition of `topic` from its first to its last offset at the
/// time of the call, outside any consumer group, calling `f` on each record
/// until `f` returns false. Returns where each partition ended, for
/// [`follow_topic`] to go on from. `reader` names the client in the broker.
///
/// Under an open transaction a partition ends where the transaction
/// starts (its last stable offset): that is where the follower goes on.
pub fn read_to_end(
    config: &crate::config::Config,
    topic: &str,
    reader: &str,
    f: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> bool,
) -> Result<rdkafka::TopicPartitionList, KafkaError> {
    Ok(read_range(config, topic, reader, Range::ToEnd, f)?.0)
}

/// Like [`read_to_end`], but waits (up to [`OPEN_TRANSACTION_WAIT`]) for
/// the transactions open at the call to end, so every record committed
/// before the call is read: what an upload diffs against.
pub fn read_to_end_settled(
    config: &crate::config::Config,
    topic: &str,
    reader: &str,
    f: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> bool,
) -> Result<rdkafka::TopicPartitionList, KafkaError> {
    Ok(read_range(config, topic, reader, Range::Settled, f)?.0)
}

/// Longest [`read_to_end_settled`] waits for open transactions: longer
/// than the hotlist uploads' transaction timeout, after which the broker
/// aborts one left open.
pub const OPEN_TRANSACTION_WAIT: std::time::Duration = std::time::Duration::from_secs(150);

/// Which records [`read_range`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Range {
    /// To the end of each partition at the call (or the start of an open
    /// transaction).
    ToEnd,
    /// To the end at the call, waiting out open transactions.
    Settled,
    /// The last so many offsets of each partition.
    Tail(i64),
}

/// Reads the last `back` offsets of each partition of `topic` (the audit
/// chain's tail), like [`read_to_end`]; returns whether that reached back
/// to the first offset kept.
pub fn read_tail(
    config: &crate::config::Config,
    topic: &str,
    reader: &str,
    back: i64,
    f: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> bool,
) -> Result<bool, KafkaError> {
    Ok(read_range(config, topic, reader, Range::Tail(back), f)?.1)
}

/// A client context that does not report reaching the end of a partition
/// (which [`read_range`] asks to be told) as an error.
struct QuietEof;

impl rdkafka::ClientContext for QuietEof {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
        let end_of_partition = matches!(
            error,
            RdError::PartitionEOF(_) | RdError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !end_of_partition {
            tracing::error!(%error, reason, "kafka client error");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for QuietEof {}

/// Reads committed records only (transactional topics end in a commit
/// marker, not a record, so the end is known by the end-of-partition
/// event as well as by the last offset).
fn read_range(
    config: &crate::config::Config,
    topic: &str,
    reader: &str,
    range: Range,
    mut f: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> bool,
) -> Result<(rdkafka::TopicPartitionList, bool), KafkaError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let consumer: BaseConsumer<QuietEof> =
        consumer_config(&config.kafka, format!("{}-{reader}", config.kafka.group_id))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", "read_committed")
            .create_with_context(QuietEof)?;
    let metadata = settled(|| consumer.fetch_metadata(Some(topic), READ_TIMEOUT))?;
    let mut start = TopicPartitionList::new();
    let mut ends = std::collections::BTreeMap::new();
    let mut remaining = std::collections::HashMap::new();
    let mut whole = true;
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) = settled(|| consumer.fetch_watermarks(topic, partition.id(), READ_TIMEOUT))?;
        ends.insert(partition.id(), high);
        let first = match range {
            Range::Tail(back) => low.max(high - back),
            Range::ToEnd | Range::Settled => low,
        };
        whole &= first == low;
        if high > first {
            start.add_partition_offset(topic, partition.id(), Offset::Offset(first))?;
            remaining.insert(partition.id(), (first, high));
        }
    }
    if !remaining.is_empty() {
        consumer.assign(&start)?;
        // Progress by offsets: exact even where compaction left gaps.
        let total = remaining.values().map(|(first, high)| (high - first) as u64).sum();
        let progress = crate::progress::Progress::new(reading(reader), Some(total));
        let mut position: std::collections::HashMap<i32, i64> =
            remaining.iter().map(|(p, (first, _))| (*p, *first)).collect();
        let mut advance = |partition: i32, to: i64| {
            if let Some(at) = position.get_mut(&partition) {
                progress.inc(to.saturating_sub(*at).max(0) as u64);
                *at = (*at).max(to);
            }
        };
        read_partitions(&consumer, topic, range, remaining, &mut ends, &mut f, &mut advance)?;
        progress.finish();
    }
    let mut end = TopicPartitionList::new();
    for (partition, offset) in ends {
        end.add_partition_offset(topic, partition, Offset::Offset(offset))?;
    }
    Ok((end, whole))
}

/// Polls `consumer` until every partition in `remaining` (id to its first
/// and end offsets at the call) is read, noting in `ends` where each stopped.
fn read_partitions(
    consumer: &rdkafka::consumer::BaseConsumer<QuietEof>,
    topic: &str,
    range: Range,
    mut remaining: std::collections::HashMap<i32, (i64, i64)>,
    ends: &mut std::collections::BTreeMap<i32, i64>,
    f: &mut impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> bool,
    advance: &mut impl FnMut(i32, i64),
) -> Result<(), KafkaError> {
    use rdkafka::error::KafkaError as RdError;
    use rdkafka::Message;
    let wait_until = std::time::Instant::now() + OPEN_TRANSACTION_WAIT;
    let stopped = || KafkaError::Topic {
        topic: topic.to_owned(),
        reason: "records stopped arriving before the end of the topic".into(),
    };
    while !remaining.is_empty() {
        let message = match consumer.poll(READ_TIMEOUT) {
            Some(Err(RdError::PartitionEOF(partition))) => {
                // At the end, or at the start of an open transaction: the
                // position says which.
                let Some((first, high)) = remaining.get(&partition).copied() else {
                    continue;
                };
                let at = position(consumer, topic, partition).unwrap_or(first);
                if range != Range::Settled || at >= high {
                    remaining.remove(&partition);
                    ends.insert(partition, at.min(high));
                    advance(partition, high);
                }
                continue;
            }
            None if range == Range::Settled && std::time::Instant::now() < wait_until => {
                // An open transaction that was aborted may end with no
                // more records: the position shows it passed.
                remaining.retain(
                    |partition, (_, high)| !matches!(position(consumer, topic, *partition), Some(at) if at >= *high),
                );
                continue;
            }
            None => return Err(stopped()),
            Some(other) => other?,
        };
        advance(message.partition(), message.offset() + 1);
        if remaining
            .get(&message.partition())
            .is_some_and(|(_, high)| message.offset() + 1 >= *high)
        {
            remaining.remove(&message.partition());
        }
        if !f(&message) {
            break;
        }
    }
    Ok(())
}

/// The consumer's next offset on `partition`, if it has one.
fn position(consumer: &rdkafka::consumer::BaseConsumer<QuietEof>, topic: &str, partition: i32) -> Option<i64> {
    use rdkafka::consumer::Consumer;
    let positions = consumer.position().ok()?;
    match positions.find_partition(topic, partition)?.offset() {
        rdkafka::Offset::Offset(at) => Some(at),
        _ => None,
    }
}

/// What reading a topic to its end is called in its progress.
fn reading(reader: &str) -> &'static str {
    match reader {
        "hotlist" => "reading the hotlist topic",
        "audit-reader" => "reading the audit log",
        "alert-ids" => "historical replay: reading alert ids",
        "search" => "scanning retained records",
        _ => "reading a topic",
    }
}

/// Most records handed to a follower in one batch.
const MAX_BATCH: usize = 50_000;
/// Longest a follower keeps gathering a batch while records keep arriving.
const MAX_BATCH_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Calls `f` on every record of the topic after `from`, until `shutdown`,
/// on a thread of its own. `reader` names the client in the broker.
pub fn follow_topic(
    config: &crate::config::Config,
    reader: &str,
    from: rdkafka::TopicPartitionList,
    shutdown: tokio_util::sync::CancellationToken,
    mut f: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) + Send + 'static,
) -> Result<(), KafkaError> {
    follow_topic_batches(config, reader, from, shutdown, move |batch| {
        batch.iter().for_each(&mut f);
    })
}

/// Calls `f` with every batch of records of the topic after `from`, until
/// `shutdown`, on a thread of its own. A batch is everything already fetched
/// (up to [`MAX_BATCH`] records or [`MAX_BATCH_WAIT`]), so a burst such as a
/// whole-list upload is applied in a few large steps, not record by record.
/// When the topic goes quiet after a batch, `f` is called once with none.
pub fn follow_topic_batches(
    config: &crate::config::Config,
    reader: &str,
    from: rdkafka::TopicPartitionList,
    shutdown: tokio_util::sync::CancellationToken,
    mut f: impl FnMut(&[rdkafka::message::BorrowedMessage<'_>]) + Send + 'static,
) -> Result<(), KafkaError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use std::time::{Duration, Instant};
    let consumer: BaseConsumer = consumer_config(&config.kafka, format!("{}-{reader}", config.kafka.group_id))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "50")
        .set("isolation.level", "read_committed")
        .create()?;
    consumer.assign(&from)?;
    let reader = reader.to_owned();
    let name = format!("follow-{reader}");
    let poll = move || {
        let mut quiet = true;
        let mut batch = Vec::new();
        while !shutdown.is_cancelled() {
            let started = Instant::now();
            let mut wait = Duration::from_millis(100);
            while batch.len() < MAX_BATCH && started.elapsed() < MAX_BATCH_WAIT {
                match consumer.poll(wait) {
                    Some(Ok(message)) => batch.push(message),
                    Some(Err(e)) => tracing::warn!(error = %e, reader = %reader, "topic error"),
                    None => break,
                }
                wait = Duration::ZERO;
            }
            if !batch.is_empty() {
                f(&batch);
                batch.clear();
                quiet = false;
            } else if !quiet {
                f(&[]);
                quiet = true;
            }
        }
    };
    std::thread::Builder::new()
        .name(name)
        .spawn(poll)
        .map_err(|e| KafkaError::Topic {
            topic: "follower".into(),
            reason: e.to_string(),
        })?;
    Ok(())
}
