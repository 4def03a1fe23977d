//! What a hotlist entry costs in memory, measured as an operator sizing a
//! pod would: the whole service (`app::run`: matcher, follower, source,
//! API, board) started in this process over the hotlist topic, its heap
//! counted by the binary's allocator ([`crate::memory`]) and its resident
//! size read from the kernel, after start-up and, optionally, after a
//! nightly replacement of the whole list has been applied and folded in.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::BenchError;
use crate::config::Config;
use crate::hotlist::feed::{self, FeedOptions, Format};
use crate::hotlist::{Category, HotlistEntry, LiveMatcher, Matcher, Query};
use crate::memory::{heap_bytes, release_free, resident_bytes};

/// Heap and resident bytes at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    heap: usize,
    resident: u64,
}

impl Sample {
    fn now() -> Sample {
        release_free();
        Sample {
            heap: heap_bytes().unwrap_or(0),
            resident: resident_bytes().unwrap_or(0),
        }
    }
}

/// A replacement of the list, uploaded by another process (so this one
/// holds only the service), and the entries checked to see it applied.
pub struct Replacement {
    pub upload: std::process::Command,
    pub checked: Vec<Arc<HotlistEntry>>,
}

impl Replacement {
    /// The upload of `file` (JSON lines) as list `bench-load` by this
    /// program (`exe`, its config at `config_path`), checked by the
    /// entries of `checked` (JSON lines).
    pub fn from_files(exe: &Path, config_path: &Path, file: &Path, checked: &Path) -> Result<Replacement, BenchError> {
        let options = FeedOptions {
            list_id: "bench-load".to_owned(),
            category: Category::StolenVehicle,
            limits: Default::default(),
        };
        let checked = feed::parse(&std::fs::read(checked)?, &Format::JsonLines, &options)
            .map_err(|e| BenchError::Upload(e.to_string()))?;
        Ok(Replacement {
            upload: super::upload_list_command(exe, Some(config_path), file, "bench-load"),
            checked,
        })
    }
}

/// Starts the service over the topic (which holds `n` entries), reports
/// its memory per entry, and with `replacement` runs that upload and
/// reports again once the service has applied it and folded it in.
pub async fn service_memory(config: &Config, n: usize, replacement: Option<Replacement>) -> Result<String, BenchError> {
    let config = service_config(config);
    let mut out = String::new();
    let before = Sample::now();
    if heap_bytes().is_none() {
        let _ = writeln!(out, "heap not counted: run the hotlist-matcher binary");
    }
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    crate::bench::reset_peak_rss();
    let running = crate::app::run(config.clone(), shutdown.clone())
        .await
        .map_err(|e| BenchError::Upload(e.to_string()))?;
    let ready = started.elapsed();
    let peak = crate::bench::proc_status_kib("VmHWM") * 1024;
    // Let the consumers join and fill their queues before measuring.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let matcher = Arc::clone(&running.matcher);
    let after = Sample::now();
    let _ = writeln!(
        out,
        "the whole service started over the topic: {} entries, ready after {:.1} s, peak resident during start-up {:.0} MiB",
        matcher.len(),
        ready.as_secs_f64(),
        peak as f64 / 1048576.0
    );
    report(&mut out, "after start-up", before, after, &matcher, n);
    if let Some(mut replacement) = replacement {
        let started = Instant::now();
        crate::bench::reset_peak_rss();
        let output = replacement.upload.output()?;
        if !output.status.success() {
            return Err(BenchError::Upload(String::from_utf8_lossy(&output.stderr).into_owned()));
        }
        wait_applied(&matcher, &replacement.checked).await?;
        let _ = writeln!(
            out,
            "nightly replacement (every entry changed) uploaded by another process and applied in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let settled = Arc::clone(&matcher);
        tokio::task::spawn_blocking(move || settled.settle())
            .await
            .map_err(|e| BenchError::Upload(e.to_string()))?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let peak = crate::bench::proc_status_kib("VmHWM") * 1024;
        let _ = writeln!(
            out,
            "peak resident during the replacement (old and new base side by side while the fold runs): {:.0} MiB ({:.0} bytes/entry)",
            peak as f64 / 1048576.0,
            peak as f64 / n.max(1) as f64
        );
        let changed = Sample::now();
        report(&mut out, "after the replacement", before, changed, &matcher, n);
    }
    shutdown.cancel();
    running.wait().await.map_err(|e| BenchError::Upload(e.to_string()))?;
    Ok(out)
}

/// The bench's config for a whole service: its own ports, a self-signed
/// certificate, lists from the topic only.
fn service_config(config: &Config) -> Config {
    let mut config = config.clone();
    let any_port: std::net::SocketAddr = "127.0.0.1:0".parse().expect("an address");
    config.api.listen = any_port;
    config.api.admin_listen = any_port;
    config.api.tls = None;
    config.api.self_signed = true;
    config.hotlist.path = None;
    config
}

fn report(out: &mut String, when: &str, before: Sample, now: Sample, matcher: &LiveMatcher, n: usize) {
    let per = |bytes: f64| bytes / n.max(1) as f64;
    let heap = now.heap.saturating_sub(before.heap) as f64;
    let resident = now.resident.saturating_sub(before.resident) as f64;
    let index = matcher.index_heap_bytes() as f64;
    let store = matcher.store_heap_bytes() as f64;
    let _ = writeln!(
        out,
        "{when}: resident {:.0} MiB in all ({:.0} bytes/entry), heap {:.0} MiB in all ({:.0} bytes/entry)",
        now.resident as f64 / 1048576.0,
        per(now.resident as f64),
        now.heap as f64 / 1048576.0,
        per(now.heap as f64),
    );
    let _ = writeln!(
        out,
        "  the service's share (less this process before it started): resident {:.0} bytes/entry, heap {:.0} bytes/entry",
        per(resident),
        per(heap)
    );
    let _ = writeln!(
        out,
        "  of the heap: index {:.1} bytes/entry, packed entries {:.1} bytes/entry, the rest {:.1} bytes/entry",
        per(index),
        per(store),
        per(heap - index - store)
    );
}

/// Waits until a sample of the replacement's entries carry their new description.
async fn wait_applied(matcher: &LiveMatcher, replacement: &[Arc<HotlistEntry>]) -> Result<(), BenchError> {
    let limit = Duration::from_secs(600);
    let started = Instant::now();
    let applied = |m: &LiveMatcher| {
        replacement.iter().all(|wanted| {
            let Some(plate) = wanted.plate.plate() else { return true };
            let mut hits = Vec::new();
            m.find(
                &Query {
                    plate,
                    region: wanted.region,
                    candidates: &[],
                },
                &mut hits,
            );
            hits.iter()
                .any(|h| h.entry.entry_id == wanted.entry_id && h.entry.description == wanted.description)
        })
    };
    while !applied(matcher) {
        if started.elapsed() > limit {
            return Err(BenchError::NotApplied(limit));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
