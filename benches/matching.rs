//! Speed and memory of the matching engine.
//!
//! `cargo bench --bench matching` prints, before the criterion runs:
//! build time and heap bytes per entry of a 1,000,000-entry index (fuzzy and
//! OCR-equivalent tolerance), measured by a counting allocator. Then criterion
//! measures reads per second against 1,000,000 entries for: a plain
//! `HashMap` exact lookup (the floor), OCR-equivalent matching, fuzzy
//! matching (`fuzzy:1.0` on every entry), the shipped defaults (the 1M list
//! OCR-equivalent beside a 200-entry fuzzy list), and a straightforward scan of a
//! 100,000-entry list with `strsim::osa_distance` (what a newcomer writes).
//! With `HM_BENCH_10M=1` it also builds a 10,000,000-entry list (OCR-
//! equivalent, the default for big lists) and measures matching on it.
//! Figures and ratios are in docs/BENCHMARKS.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use hotlist_matcher::hotlist::{Category, HotlistEntry, LiveMatcher, Matcher, Query, Tolerance, TolerancePolicy};
use hotlist_matcher::normalize::{normalize, Plate};
use hotlist_matcher::sample::{self, Rng};

/// Counts live heap bytes, to measure the index's memory.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const READS: usize = 10_000;

/// Reads: 1% listed plates (half of them with an OCR-class misread), the
/// rest random plates.
fn reads(rng: &mut Rng, entries: &[Arc<HotlistEntry>]) -> Vec<Plate> {
    (0..READS)
        .map(|i| {
            if i % 100 == 0 {
                let listed = entries[rng.below(entries.len())].plate.to_string();
                let shown = if i % 200 == 0 {
                    sample::misread(rng, &listed).unwrap_or(listed)
                } else {
                    listed
                };
                normalize(&shown).expect("valid")
            } else {
                sample::random_plate(rng)
            }
        })
        .collect()
}

/// Builds a matcher, printing its build time and heap bytes per entry.
fn build(label: &str, entries: &[Arc<HotlistEntry>], tolerance: Tolerance) -> LiveMatcher {
    let input = entries.to_vec();
    let input_bytes = input.capacity() * std::mem::size_of::<Arc<HotlistEntry>>();
    let before = LIVE.load(Ordering::Relaxed);
    let started = Instant::now();
    let matcher = LiveMatcher::new(input, TolerancePolicy::uniform(tolerance));
    let elapsed = started.elapsed();
    // The input vector was freed inside the build; count it as kept.
    let bytes = LIVE.load(Ordering::Relaxed) + input_bytes - before;
    let n = entries.len();
    println!(
        "{label}: {n} entries built in {:.2} s; matcher heap {:.1} MB = {:.1} bytes/entry (index tables {:.1} bytes/entry)",
        elapsed.as_secs_f64(),
        bytes as f64 / 1e6,
        bytes as f64 / n as f64,
        matcher.index_heap_bytes() as f64 / n as f64,
    );
    matcher
}

fn find_all(matcher: &LiveMatcher, reads: &[Plate]) -> usize {
    let mut hits = Vec::new();
    let mut n = 0;
    for &plate in reads {
        hits.clear();
        let query = Query {
            plate,
            region: None,
            candidates: &[],
        };
        matcher.find(black_box(&query), &mut hits);
        n += hits.len();
    }
    n
}

fn one_million(c: &mut Criterion) {
    let mut rng = Rng::new(42);
    // With what a state extract gives each entry (issue 21): a 40-byte
    // description, a NIC, an ORI.
    let entries = sample::detailed_hotlist(&mut rng, 1_000_000, "bench");
    let reads = reads(&mut rng, &entries);
    let fuzzy = build("fuzzy:1.0", &entries, Tolerance::Fuzzy { max_cost: 1.0 });
    let defaults = {
        // The shipped defaults on a realistic deployment: the big stolen list
        // OCR-equivalent, beside a 200-entry officer-entered list (fuzzy).
        let mut all: Vec<_> = entries
            .iter()
            .map(|e| {
                Arc::new(HotlistEntry {
                    category: Category::StolenVehicle,
                    ..(**e).clone()
                })
            })
            .collect();
        all.extend(sample::hotlist(&mut rng, 200, "officer").into_iter().map(|e| {
            Arc::new(HotlistEntry {
                category: Category::OfficerEntered,
                ..(*e).clone()
            })
        }));
        LiveMatcher::new(all, TolerancePolicy::default())
    };
    let ocr = build("ocr", &entries, Tolerance::OcrEquivalent);
    let floor: HashMap<Plate, u32> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.plate.plate().expect("plates"), i as u32))
        .collect();
    let scanned: Vec<String> = entries[..100_000].iter().map(|e| e.plate.to_string()).collect();
    let read_texts: Vec<String> = reads.iter().take(20).map(|p| p.to_string()).collect();

    let mut group = c.benchmark_group("match_1m");
    group.throughput(Throughput::Elements(READS as u64));
    group.sample_size(20);
    group.bench_function("floor_hashmap_exact", |b| {
        b.iter(|| reads.iter().filter(|p| floor.contains_key(black_box(*p))).count())
    });
    group.bench_function("ocr_equivalent", |b| b.iter(|| find_all(&ocr, &reads)));
    group.bench_function("fuzzy_1.0", |b| b.iter(|| find_all(&fuzzy, &reads)));
    group.bench_function("defaults_plus_200_fuzzy", |b| b.iter(|| find_all(&defaults, &reads)));
    group.finish();

    let mut group = c.benchmark_group("scan_100k");
    group.throughput(Throughput::Elements(read_texts.len() as u64));
    group.sample_size(10);
    group.bench_function("strsim_osa_scan", |b| {
        b.iter(|| {
            read_texts
                .iter()
                .map(|r| scanned.iter().filter(|p| strsim::osa_distance(r, p) <= 1).count())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn ten_million(c: &mut Criterion) {
    let mut rng = Rng::new(43);
    let started = Instant::now();
    let entries = sample::hotlist(&mut rng, 10_000_000, "bench");
    println!("10M: entries generated in {:.1} s", started.elapsed().as_secs_f64());
    let reads = reads(&mut rng, &entries);
    let ocr = build("ocr 10M", &entries, Tolerance::OcrEquivalent);
    let mut group = c.benchmark_group("match_10m");
    group.throughput(Throughput::Elements(READS as u64));
    group.sample_size(20);
    group.bench_function("ocr_equivalent", |b| b.iter(|| find_all(&ocr, &reads)));
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    one_million(&mut criterion);
    if std::env::var_os("HM_BENCH_10M").is_some() {
        ten_million(&mut criterion);
    }
    criterion.final_summary();
}
