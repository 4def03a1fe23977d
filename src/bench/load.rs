//! `bench hotlist-load`: how long an instance takes to be ready with a big
//! hotlist topic, phase by phase, against the broker's own floor measured
//! in the same run (issue 16, item 4).
//!
//! Phases: a bare consumer that fetches every record and decodes nothing
//! (on one thread, and on as many as the load uses: the floor), the load
//! as start-up did it before issue 16 (one thread, serde records, commit
//! points kept), the load as `serve` does it now
//! ([`crate::kafka::hotlist::load`]: parallel, borrowed decoding, commit
//! points kept), and the matcher build. Peak resident memory is taken over
//! the load and build (the upload's own memory is left out). Prints
//! figures; asserts nothing on time.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::{ensure_topics, proc_status_kib, reset_peak_rss, BenchError};
use crate::config::Config;
use crate::hotlist::{LiveMatcher, Matcher};
use crate::kafka::{hotlist as kafka_hotlist, parallel, KafkaError};
use crate::sample::{self, Rng};

/// Uploads `n` entries as list `bench-load` (nothing is written when the
/// topic holds that list already), then times each phase of a start;
/// `delete` removes the hotlist topic afterwards (10 million entries are
/// gigabytes on the broker).
pub async fn hotlist_load(config: &Config, n: usize, delete: bool) -> Result<String, BenchError> {
    ensure_topics(config).await?;
    let started = Instant::now();
    // Lists of at most a million entries: one upload is one transaction,
    // which the broker aborts after two minutes.
    for (i, first) in (0..n).step_by(CHUNK).enumerate() {
        let (list, seed) = match i {
            0 => ("bench-load".to_owned(), 9),
            i => (format!("bench-load-{i}"), 9 + i as u64),
        };
        let entries = sample::hotlist(&mut Rng::new(seed), CHUNK.min(n - first), &list);
        kafka_hotlist::upload(config, &list, &entries, "bench", false).await?;
    }
    let upload = started.elapsed();
    let owned = config.clone();
    let phases = tokio::task::spawn_blocking(move || load_phases(&owned))
        .await
        .map_err(|e| BenchError::Upload(e.to_string()))??;
    let mut report = phases.report(upload);
    if delete {
        super::replay::delete_topics(config, &[&config.topics.hotlist]).await?;
        report.push_str("hotlist topic deleted\n");
    }
    Ok(report)
}

/// librdkafka's own fetch settings, against [`parallel::WHOLE_TOPIC_FETCH`].
const LIBRDKAFKA_FETCH: [(&str, &str); 3] = [
    ("max.partition.fetch.bytes", "1048576"),
    ("fetch.max.bytes", "52428800"),
    ("queued.max.messages.kbytes", "65536"),
];

/// Most entries uploaded as one list.
const CHUNK: usize = 1_000_000;

/// Above this many entries the one-thread load of before is not timed
/// (minutes, and its memory on top of the load's).
const BEFORE_UP_TO: usize = 2_000_000;

/// The timed phases of one start-up, each measured in the same run.
struct LoadPhases {
    count: usize,
    topic_records: usize,
    workers: usize,
    raw_one: Duration,
    raw: Duration,
    raw_small_fetch: Duration,
    before: Option<Duration>,
    now: Duration,
    held: usize,
    build: Duration,
    matcher_holds: usize,
    peak_mib: u64,
}

/// A bare read of the whole topic on `workers` threads: how many records.
fn raw_read(config: &Config, workers: usize) -> Result<(usize, Duration), KafkaError> {
    let started = Instant::now();
    let (counts, _) = parallel::read_to_end_parallel(
        config,
        &config.topics.hotlist,
        "bench-raw",
        workers,
        || 0usize,
        |n, _| *n += 1,
        |n| n,
    )?;
    Ok((counts.iter().sum(), started.elapsed()))
}

fn load_phases(config: &Config) -> Result<LoadPhases, KafkaError> {
    let workers = parallel::workers(config.topics.partitions.max(1) as usize);
    let (topic_records, raw_one) = raw_read(config, 1)?;
    let (_, raw) = raw_read(config, workers)?;
    let mut small = config.clone();
    for (name, value) in LIBRDKAFKA_FETCH {
        small.kafka.properties.insert(name.into(), value.into());
    }
    let (_, raw_small_fetch) = raw_read(&small, workers)?;
    let before = match topic_records <= BEFORE_UP_TO {
        true => {
            let started = Instant::now();
            kafka_hotlist::load_one_thread(config)?;
            Some(started.elapsed())
        }
        false => None,
    };
    reset_peak_rss();
    let started = Instant::now();
    let loaded = kafka_hotlist::load(config)?;
    let now = started.elapsed();
    let (count, held) = (loaded.entries.len(), loaded.end.held());
    let started = Instant::now();
    let matcher = LiveMatcher::new(loaded.entries, config.matching.clone());
    let build = started.elapsed();
    Ok(LoadPhases {
        count,
        topic_records,
        workers,
        raw_one,
        raw,
        raw_small_fetch,
        before,
        now,
        held,
        build,
        matcher_holds: matcher.len(),
        peak_mib: proc_status_kib("VmHWM") / 1024,
    })
}

impl LoadPhases {
    fn report(&self, upload: Duration) -> String {
        let secs = |d: Duration| d.as_secs_f64();
        let rate = |d: Duration| self.topic_records as f64 / secs(d);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "entries on the topic: {} in {} records (matcher holds {}, {} held for a commit point)",
            self.count, self.topic_records, self.matcher_holds, self.held
        );
        let _ = writeln!(
            out,
            "upload (write + acks; nothing when already there): {:.1} s",
            secs(upload)
        );
        let _ = writeln!(
            out,
            "floor: fetch every record, decode nothing, 1 thread: {:.2} s ({:.0} records/s)",
            secs(self.raw_one),
            rate(self.raw_one)
        );
        let _ = writeln!(
            out,
            "floor: fetch every record, decode nothing, {} threads: {:.2} s ({:.0} records/s)",
            self.workers,
            secs(self.raw),
            rate(self.raw)
        );
        let _ = writeln!(
            out,
            "  the same with librdkafka's fetch settings (1 MiB a partition): {:.2} s ({:.0} records/s)",
            secs(self.raw_small_fetch),
            rate(self.raw_small_fetch)
        );
        match self.before {
            Some(before) => {
                let _ = writeln!(
                    out,
                    "before: read + decode, 1 thread, serde records, commit points: {:.2} s ({:.2}x the {}-thread floor)",
                    secs(before),
                    secs(before) / secs(self.raw),
                    self.workers
                );
            }
            None => {
                let _ = writeln!(out, "before: not timed above {BEFORE_UP_TO} records");
            }
        }
        let _ = writeln!(
            out,
            "now (serve): read + decode, {} threads, borrowed, commit points: {:.2} s ({:.2}x the {}-thread floor{})",
            self.workers,
            secs(self.now),
            secs(self.now) / secs(self.raw),
            self.workers,
            self.before
                .map(|b| format!(", {:.2}x the time before", secs(self.now) / secs(b)))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "build the matcher: {:.2} s ({:.0} entries/s)",
            secs(self.build),
            self.count as f64 / secs(self.build)
        );
        let _ = writeln!(out, "ready after (now + build): {:.2} s", secs(self.now + self.build));
        let _ = writeln!(out, "peak resident memory over load + build: {} MiB", self.peak_mib);
        out
    }
}
