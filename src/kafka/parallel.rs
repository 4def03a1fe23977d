//! Reading a whole topic to its end on several threads at once.
//!
//! An instance is not ready until it has read the whole hotlist topic, and
//! with a million entries decoding them one by one on one thread took most
//! of the start-up (issue 16). Records with one key always share a
//! partition, so each partition can be folded on its own: here each worker
//! thread owns a share of the partitions, with a consumer of its own, and
//! folds and finishes its share independently.
//! Nothing here knows what the records mean; it never logs their contents.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::{consumer_config, settled, KafkaError, QuietEof, READ_TIMEOUT};

/// The threads a whole-topic read uses: one per core, at most one per partition.
pub fn workers(partitions: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(partitions).max(1)
}

/// One partition to read: from `first` up to (not including) `high`.
#[derive(Debug, Clone, Copy)]
struct Span {
    partition: i32,
    first: i64,
    high: i64,
}

/// Reads every partition of `topic` from its first to its last offset at
/// the time of the call (committed records only), on `workers` threads,
/// outside any consumer group. Each thread starts with `init()`, calls
/// `fold` on each of its records in partition order and ends with
/// `finish`; the results come back in worker order, with where each
/// partition ended (for a follower to go on from).
pub fn read_to_end_parallel<S, R>(
    config: &crate::config::Config,
    topic: &str,
    reader: &str,
    workers: usize,
    init: impl Fn() -> S + Sync,
    fold: impl Fn(&mut S, &BorrowedMessage<'_>) + Sync,
    finish: impl Fn(S) -> R + Sync,
) -> Result<(Vec<R>, TopicPartitionList), KafkaError>
where
    R: Send,
{
    let (spans, end) = spans(config, topic, reader)?;
    let workers = workers.min(spans.len()).max(1);
    let shares: Vec<Vec<Span>> = (0..workers)
        .map(|w| spans.iter().copied().skip(w).step_by(workers).collect())
        .collect();
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| {
                let (init, fold, finish) = (&init, &fold, &finish);
                scope.spawn(move || -> Result<(R, Vec<(i32, i64)>), KafkaError> {
                    let mut state = init();
                    let ends = read_share(config, topic, reader, &share, |m| fold(&mut state, m))?;
                    Ok((finish(state), ends))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(KafkaError::Topic {
                        topic: topic.to_owned(),
                        reason: "a reader thread panicked".into(),
                    })
                })
            })
            .collect::<Result<Vec<_>, KafkaError>>()
    })?;
    let mut ends: std::collections::BTreeMap<i32, i64> = end
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(at) => Some((e.partition(), at)),
            _ => None,
        })
        .collect();
    let mut out = Vec::with_capacity(results.len());
    for (result, read) in results {
        ends.extend(read);
        out.push(result);
    }
    let mut end = TopicPartitionList::new();
    for (partition, at) in ends {
        end.add_partition_offset(topic, partition, Offset::Offset(at))?;
    }
    Ok((out, end))
}

/// A consumer of committed records outside any group, with librdkafka's
/// own fetch sizes and the configured prefetch queue
/// (`kafka.consumer_queue_kib`): asking 16 MiB of a partition at a time made a bare
/// read of a million records 1.8 to 2.8 times slower (`bench hotlist-load`,
/// docs/BENCHMARKS.md, issue 16).
fn consumer(config: &crate::config::Config, reader: &str) -> Result<BaseConsumer<QuietEof>, KafkaError> {
    Ok(
        consumer_config(&config.kafka, format!("{}-{reader}", config.kafka.group_id))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", "read_committed")
            .create_with_context(QuietEof)?,
    )
}

/// Every non-empty partition's span, and where each partition ends.
fn spans(
    config: &crate::config::Config,
    topic: &str,
    reader: &str,
) -> Result<(Vec<Span>, TopicPartitionList), KafkaError> {
    let consumer = consumer(config, reader)?;
    let metadata = settled(|| consumer.fetch_metadata(Some(topic), READ_TIMEOUT))?;
    let mut spans = Vec::new();
    let mut end = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) = settled(|| consumer.fetch_watermarks(topic, partition.id(), READ_TIMEOUT))?;
        end.add_partition_offset(topic, partition.id(), Offset::Offset(high))?;
        if high > low {
            spans.push(Span {
                partition: partition.id(),
                first: low,
                high,
            });
        }
    }
    Ok((spans, end))
}

/// Reads `share` to its ends with one consumer of its own; returns where
/// each partition ended: its end at the call, or, under a transaction
/// still open, where that transaction starts (a follower goes on from
/// there, so it reads the transaction's records once it commits).
fn read_share(
    config: &crate::config::Config,
    topic: &str,
    reader: &str,
    share: &[Span],
    mut f: impl FnMut(&BorrowedMessage<'_>),
) -> Result<Vec<(i32, i64)>, KafkaError> {
    let mut ended = Vec::with_capacity(share.len());
    if share.is_empty() {
        return Ok(ended);
    }
    let consumer = consumer(config, reader)?;
    let mut start = TopicPartitionList::new();
    let mut remaining = std::collections::HashMap::new();
    for span in share {
        start.add_partition_offset(topic, span.partition, Offset::Offset(span.first))?;
        remaining.insert(span.partition, span.high);
    }
    consumer.assign(&start)?;
    while !remaining.is_empty() {
        let Some(message) = consumer.poll(READ_TIMEOUT) else {
            return Err(stopped(topic));
        };
        let message = match message {
            Err(RdError::PartitionEOF(partition)) => {
                if let Some(high) = remaining.remove(&partition) {
                    let first = share
                        .iter()
                        .find(|s| s.partition == partition)
                        .map_or(high, |s| s.first);
                    let at = position(&consumer, topic, partition).unwrap_or(first);
                    ended.push((partition, at.min(high)));
                }
                continue;
            }
            other => other?,
        };
        let partition = message.partition();
        if remaining
            .get(&partition)
            .is_some_and(|high| message.offset() + 1 >= *high)
        {
            ended.push((partition, remaining.remove(&partition).unwrap_or_default()));
        }
        f(&message);
    }
    Ok(ended)
}

/// The consumer's next offset on `partition`, if it has one.
fn position(consumer: &BaseConsumer<QuietEof>, topic: &str, partition: i32) -> Option<i64> {
    match consumer.position().ok()?.find_partition(topic, partition)?.offset() {
        Offset::Offset(at) => Some(at),
        _ => None,
    }
}

fn stopped(topic: &str) -> KafkaError {
    KafkaError::Topic {
        topic: topic.to_owned(),
        reason: "records stopped arriving before the end of the topic".into(),
    }
}
