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
use std::path::Path;
use std::sync::Arc;

use crate::hotlist::plan::{EntryRecord, ListMeta, LIST_PREFIX};
use crate::hotlist::{HotlistEntry, LiveMatcher, Matcher};
use crate::kafka::hotlist_write::{ListWriter, Write};
use crate::kafka::{hotlist as kafka_hotlist, parallel, KafkaError};
use crate::sample::{self, Rng};

/// How `hotlist-load` runs: this program and its config file (for the
/// processes it starts), and its options.
pub struct Run<'a> {
    pub exe: &'a Path,
    pub config_path: &'a Path,
    /// Also measure after a nightly replacement of the first list.
    pub live_changes: bool,
    /// Delete the hotlist topic afterwards.
    pub delete: bool,
}

/// Uploads `n` entries as list `bench-load` (nothing is written when the
/// topic holds that list already), then times each phase of a start;
/// then starts the whole service over the topic and reports its memory per
/// entry ([`super::memory`]); with `live_changes` (this program and its
/// config file), also after a nightly replacement of the first list,
/// uploaded by another process. `delete` removes the hotlist topic
/// afterwards (10 million entries are gigabytes on the broker).
pub async fn hotlist_load(config: &Config, n: usize, run: Run<'_>) -> Result<String, BenchError> {
    ensure_topics(config).await?;
    let started = Instant::now();
    let mut replacement = Vec::new();
    // Lists of at most a million entries: one upload is one transaction,
    // which the broker aborts after two minutes.
    for (i, first) in (0..n).step_by(CHUNK).enumerate() {
        let (list, seed) = match i {
            0 => ("bench-load".to_owned(), 9),
            i => (format!("bench-load-{i}"), 9 + i as u64),
        };
        let entries = sample::detailed_hotlist(&mut Rng::new(seed), CHUNK.min(n - first), &list);
        if i > 0 {
            write_new_list(config, &list, &entries).await?;
            continue;
        }
        kafka_hotlist::upload(config, &list, &entries, "bench", false).await?;
        if run.live_changes {
            let dir = super::tempfile_dir()?;
            let night = sample::replacement(&entries, 1).entries;
            super::write_jsonl(&dir.join("replacement.jsonl"), &night)?;
            // The service is checked against a sample; the upload is another process's.
            let step = (night.len() / 200).max(1);
            let checked: Vec<_> = night.into_iter().step_by(step).collect();
            super::write_jsonl(&dir.join("checked.jsonl"), &checked)?;
            replacement = vec![
                "--replacement".into(),
                dir.join("replacement.jsonl").into_os_string(),
                "--checked".into(),
                dir.join("checked.jsonl").into_os_string(),
            ];
        }
    }
    let upload = started.elapsed();
    let owned = config.clone();
    let phases = tokio::task::spawn_blocking(move || load_phases(&owned))
        .await
        .map_err(|e| BenchError::Upload(e.to_string()))??;
    let mut report = phases.report(upload);
    // The service in a process of its own: nothing of the phases above is resident in it.
    let output = std::process::Command::new(run.exe)
        .arg("--config")
        .arg(run.config_path)
        .args(["bench", "service-memory", "--entries", &n.to_string()])
        .args(&replacement)
        .output()?;
    if !output.status.success() {
        return Err(BenchError::Upload(String::from_utf8_lossy(&output.stderr).into_owned()));
    }
    report.push_str(&String::from_utf8_lossy(&output.stdout));
    if run.delete {
        super::replay::delete_topics(config, &[&config.topics.hotlist]).await?;
        report.push_str("hotlist topic deleted\n");
    }
    Ok(report)
}

/// The large fetches a whole-topic read used before (16 MiB a partition,
/// 256 MiB queued), against librdkafka's own fetch size (1 MiB), which the
/// load now uses with the queue of `kafka.consumer_queue_kib`.
const LARGE_FETCH: [(&str, &str); 2] = [
    ("max.partition.fetch.bytes", "16777216"),
    ("fetch.max.bytes", "67108864"),
];
/// The prefetch queue of the large fetches, in KiB.
const LARGE_QUEUE_KIB: u32 = 262_144;

/// Most entries uploaded as one list.
const CHUNK: usize = 1_000_000;

/// Above this many entries the one-thread load of before is not timed
/// (minutes, and its memory on top of the load's).
const BEFORE_UP_TO: usize = 2_000_000;

/// Writes `entries` as version 1 of list `list` in one transaction, as an
/// upload of a new list does, without reading the topic first (an upload
/// diffs against the whole topic, which for ten lists of a million is
/// most of an hour on this machine).
async fn write_new_list(config: &Config, list: &str, entries: &[Arc<HotlistEntry>]) -> Result<(), KafkaError> {
    let writes: Vec<Write> = entries
        .iter()
        .map(|e| {
            let record = EntryRecord::of(e);
            (
                record.key(),
                Some(serde_json::to_vec(&record).expect("entries serialize")),
            )
        })
        .collect();
    let meta = ListMeta {
        list_id: list.to_owned(),
        organisation: "bench".into(),
        refreshed_at: chrono::Utc::now(),
        entries: entries.len(),
        covert: false,
    };
    let meta = (
        format!("{LIST_PREFIX}{list}"),
        serde_json::to_vec(&meta).expect("serializes"),
    );
    ListWriter::fence(config, list).await?.replace(&writes, meta, 1).await
}

/// The timed phases of one start-up, each measured in the same run.
struct LoadPhases {
    count: usize,
    topic_records: usize,
    workers: usize,
    raw_one: Took,
    raw: Took,
    raw_large_fetch: Took,
    before: Option<Took>,
    now: Took,
    held: usize,
    build: Took,
    matcher_holds: usize,
    peak_mib: u64,
}

/// Wall time of a phase, and the CPU time of every thread of the process
/// over it (how much of the two cores it took).
#[derive(Debug, Clone, Copy)]
pub(super) struct Took {
    pub wall: Duration,
    pub cpu: Duration,
}

/// Runs `f`, timing it.
pub(super) fn timed<T>(f: impl FnOnce() -> Result<T, KafkaError>) -> Result<(T, Took), KafkaError> {
    let (started, cpu) = (Instant::now(), cpu_time());
    let out = f()?;
    let took = Took {
        wall: started.elapsed(),
        cpu: cpu_time().saturating_sub(cpu),
    };
    Ok((out, took))
}

/// CPU time of this process so far (every thread, user and system).
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let of = |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000);
    of(usage.ru_utime) + of(usage.ru_stime)
}

/// A bare read of the whole topic on `workers` threads: how many records.
fn raw_read(config: &Config, workers: usize) -> Result<(usize, Took), KafkaError> {
    timed(|| {
        let (counts, _) = parallel::read_to_end_parallel(
            config,
            &config.topics.hotlist,
            "bench-raw",
            workers,
            || 0usize,
            |n, _| *n += 1,
            |n| n,
        )?;
        Ok(counts.iter().sum())
    })
}

fn load_phases(config: &Config) -> Result<LoadPhases, KafkaError> {
    let workers = parallel::workers(config.topics.partitions.max(1) as usize);
    let (topic_records, raw_one) = raw_read(config, 1)?;
    let (_, raw) = raw_read(config, workers)?;
    let mut large = config.clone();
    for (name, value) in LARGE_FETCH {
        large.kafka.properties.insert(name.into(), value.into());
    }
    large.kafka.consumer_queue_kib = LARGE_QUEUE_KIB;
    let (_, raw_large_fetch) = raw_read(&large, workers)?;
    let before = match topic_records <= BEFORE_UP_TO {
        true => Some(timed(|| kafka_hotlist::load_one_thread(config))?.1),
        false => None,
    };
    reset_peak_rss();
    let (loaded, now) = timed(|| kafka_hotlist::load(config))?;
    let (count, held) = (loaded.entries.len(), loaded.end.held());
    let (matcher, build) = timed(|| Ok(LiveMatcher::new(loaded.entries, config.matching.clone())))?;
    Ok(LoadPhases {
        count,
        topic_records,
        workers,
        raw_one,
        raw,
        raw_large_fetch,
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
        let workers = self.workers;
        let line = |name: &str, t: &Took| {
            format!(
                "{name}: {:.2} s ({:.0} records/s; {:.2} CPU-s, {:.1} us of CPU a record)\n",
                t.wall.as_secs_f64(),
                self.topic_records as f64 / t.wall.as_secs_f64(),
                t.cpu.as_secs_f64(),
                t.cpu.as_secs_f64() * 1e6 / self.topic_records.max(1) as f64
            )
        };
        let floor = |t: &Took| t.wall.as_secs_f64() / self.raw.wall.as_secs_f64();
        let mut out = format!(
            "entries on the topic: {} in {} records (matcher holds {}, {} held for a commit point)\n",
            self.count, self.topic_records, self.matcher_holds, self.held
        );
        let _ = writeln!(
            out,
            "upload (write + acks; nothing when already there): {:.1} s",
            upload.as_secs_f64()
        );
        out += &line("floor: fetch every record, decode nothing, 1 thread", &self.raw_one);
        out += &line(&format!("floor: the same on {workers} threads"), &self.raw);
        out += &line(
            &format!(
                "  the floor with the large fetches used before (16 MiB a partition) ({:.2}x)",
                floor(&self.raw_large_fetch)
            ),
            &self.raw_large_fetch,
        );
        match &self.before {
            Some(before) => {
                out += &line(
                    &format!(
                        "before: read + decode, 1 thread, serde records ({:.2}x the floor)",
                        floor(before)
                    ),
                    before,
                )
            }
            None => {
                let _ = writeln!(out, "before: not timed above {BEFORE_UP_TO} records");
            }
        }
        let against = self
            .before
            .map(|b| {
                format!(
                    ", {:.2}x the time before",
                    self.now.wall.as_secs_f64() / b.wall.as_secs_f64()
                )
            })
            .unwrap_or_default();
        out += &line(
            &format!(
                "now (serve): read + decode, {workers} threads, borrowed ({:.2}x the floor{against})",
                floor(&self.now)
            ),
            &self.now,
        );
        let _ = writeln!(
            out,
            "build the matcher: {:.2} s ({:.2} CPU-s)",
            self.build.wall.as_secs_f64(),
            self.build.cpu.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "ready after (now + build): {:.2} s",
            (self.now.wall + self.build.wall).as_secs_f64()
        );
        let _ = writeln!(out, "peak resident memory over load + build: {} MiB", self.peak_mib);
        out
    }
}
