//! Counts heap allocations on the per-read path (issue 16).
//!
//! Every read goes through `Processor::process_batch` (or `process`, one
//! at a time: both are counted); at hundreds of thousands
//! of reads a second per core, an allocation per read is measurable CPU and
//! allocator contention. A read that hits nothing must not allocate at all
//! once the processor is warm, with or without the metrics tally and the
//! retention check the service adds; a read with OCR candidates allocates
//! exactly one vector for them. This is its own test binary because the
//! counting allocator is global to the binary it is in; it counts per thread,
//! so the test harness's other threads do not disturb the figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use hotlist_matcher::hotlist::{LiveMatcher, TolerancePolicy};
use hotlist_matcher::metrics::Metrics;
use hotlist_matcher::pipeline::{Outcome, Processor};
use hotlist_matcher::sample::{self, Rng};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// A 20,000-entry list (OCR-equivalent under the defaults) and a 200-entry
/// one (fuzzy on every entry), as a deployment has.
fn matcher() -> Arc<LiveMatcher> {
    let mut rng = Rng::new(16);
    let mut entries = sample::hotlist(&mut rng, 20_000, "big");
    entries.extend(sample::hotlist(&mut rng, 200, "urgent"));
    Arc::new(LiveMatcher::new(entries, TolerancePolicy::default()))
}

/// Reads of unlisted plates, a third without a region, as the bench makes them.
fn no_hit_reads(matcher: &Arc<LiveMatcher>, n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(61);
    let mut processor = Processor::new(matcher.clone(), 65536);
    let mut records = Vec::new();
    while records.len() < n {
        let plate = sample::random_plate(&mut rng).to_string();
        let region = if records.len() % 3 == 0 { None } else { Some("CA") };
        let record = sample::read_json(rng.uuid(), "cam-07", "2026-11-27T03:12:45.120-08:00", &plate, region);
        if processor.process(&record) == Outcome::NoHit {
            records.push(record);
        }
    }
    records
}

/// Processes every record twice (the first pass warms the processor's
/// buffers) and returns the allocations of the second pass: one record at a
/// time (`process`), and all of them at once as the source does
/// (`process_batch`, its outcome vector made beforehand).
fn second_pass_allocations(processor: &mut Processor, records: &[Vec<u8>]) -> (u64, u64) {
    for record in records {
        assert_eq!(processor.process(record), Outcome::NoHit);
    }
    let one_by_one = allocations_in(|| {
        for record in records {
            assert_eq!(processor.process(record), Outcome::NoHit);
        }
    });
    let mut outcomes = Vec::with_capacity(records.len());
    processor.process_batch(records, &mut outcomes);
    outcomes.clear();
    let batched = allocations_in(|| processor.process_batch(records, &mut outcomes));
    assert_eq!(outcomes.len(), records.len());
    assert!(outcomes.iter().all(|o| *o == Outcome::NoHit));
    (one_by_one, batched)
}

#[test]
fn a_read_that_hits_nothing_allocates_nothing() {
    let matcher = matcher();
    let records = no_hit_reads(&matcher, 2_000);
    let mut plain = Processor::new(matcher.clone(), 65536);
    assert_eq!(second_pass_allocations(&mut plain, &records), (0, 0));
}

#[test]
fn a_read_that_hits_nothing_allocates_nothing_with_metrics_and_retention() {
    let matcher = matcher();
    let records = no_hit_reads(&matcher, 2_000);
    let metrics = Metrics::new();
    let captured: std::time::SystemTime = chrono::DateTime::parse_from_rfc3339("2026-11-27T03:12:45.120-08:00")
        .unwrap()
        .into();
    let clock: hotlist_matcher::Clock = Arc::new(move || captured + Duration::from_secs(3600));
    let mut counted = Processor::new(matcher.clone(), 65536)
        .with_metrics(&metrics)
        .with_retention(Duration::from_secs(30 * 86_400), clock);
    assert_eq!(second_pass_allocations(&mut counted, &records), (0, 0));
}

#[test]
fn a_read_with_ocr_candidates_allocates_one_vector() {
    let matcher = matcher();
    let mut rng = Rng::new(7);
    let mut processor = Processor::new(matcher.clone(), 65536);
    let records: Vec<Vec<u8>> = (0..500)
        .map(|_| {
            let plate = sample::random_plate(&mut rng).to_string();
            let other = sample::random_plate(&mut rng).to_string();
            format!(
                r#"{{"read_id":"{}","camera_id":"cam-07","captured_at":"2026-11-27T03:12:45Z","plate":"{plate}","candidates":[{{"plate":"{other}","confidence":0.4}}]}}"#,
                rng.uuid()
            )
            .into_bytes()
        })
        .filter(|r| processor.process(r) == Outcome::NoHit)
        .collect();
    assert!(records.len() > 400, "{} of 500 reads hit nothing", records.len());
    let allocations = allocations_in(|| {
        for record in &records {
            assert_eq!(processor.process(record), Outcome::NoHit);
        }
    });
    assert_eq!(allocations, records.len() as u64);
    let mut outcomes = Vec::with_capacity(records.len());
    processor.process_batch(&records, &mut outcomes); // warms the batch's buffers
    outcomes.clear();
    let batched = allocations_in(|| processor.process_batch(&records, &mut outcomes));
    assert!(outcomes.iter().all(|o| *o == Outcome::NoHit));
    assert_eq!(batched, records.len() as u64, "batched, still one vector a read");
}
