//! Per-read cost of the pipeline without a broker.
//!
//! `cargo bench --bench pipeline` measures, against a 1,000,000-entry hotlist:
//! - `normalize_match`: normalize a raw plate and match it with the default
//!   tolerances (a 1,000,000-entry list is OCR-equivalent only);
//! - `per_read_path`: parse the JSON record, normalize, match, encode alerts
//!   (2% of reads hit), i.e. everything the service does per read but Kafka;
//! - `per_read_path_batched`: the same through `Processor::process_batch`,
//!   as the source calls it (reads matched 64 at a time);
//! - `per_read_path_with_metrics`: the same with the metrics the source
//!   keeps (outcome, match kind and category, camera, match-time histogram),
//!   folded into the registry every 1,000 reads as the source does per batch;
//!   the bound is within 5% of `per_read_path` in the same run;
//! - paired, same-run ratios of the metrics' cost and of deciding by
//!   vehicle passes (`pipeline.pass_window_ms`), printed after the group;
//! - baselines in the same run: a plain `HashMap<String>` lookup of the raw
//!   plate (the floor), and parsing the record into a `serde_json::Value`
//!   (what the simplest consumer would pay before doing any work);
//! - then, paired (the two alternate over the same records, 101 rounds), the
//!   speed of `per_read_path` over the `Value` parse (issue 16: at least 2×)
//!   and the metrics' overhead.
//!
//! Figures and ratios are in docs/BENCHMARKS.md.

use std::collections::HashSet;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hotlist_matcher::hotlist::{LiveMatcher, Matcher, Query, TolerancePolicy};
use hotlist_matcher::normalize::normalize;
use hotlist_matcher::pipeline::{Outcome, Processor};
use hotlist_matcher::sample::{self, Rng};

const ENTRIES: usize = 1_000_000;
const READS: usize = 10_000;

struct Fixture {
    matcher: Arc<LiveMatcher>,
    plates: Vec<String>,
    records: Vec<Vec<u8>>,
    raw_set: HashSet<String>,
}

fn fixture() -> Fixture {
    let mut rng = Rng::new(42);
    let entries = sample::hotlist(&mut rng, ENTRIES, "bench");
    let raw_set = entries.iter().map(|e| e.plate.to_string()).collect();
    let mut plates = Vec::with_capacity(READS);
    let mut records = Vec::with_capacity(READS);
    for i in 0..READS {
        let plate = if i % 50 == 0 {
            let listed = entries[rng.below(entries.len())].plate.to_string();
            sample::disguise(&mut rng, &listed)
        } else {
            sample::random_plate(&mut rng).to_string()
        };
        let region = if i % 3 == 0 { None } else { Some("CA") };
        records.push(sample::read_json(
            rng.uuid(),
            "coachella-cam-07",
            "2026-11-27T03:12:45.120-08:00",
            &plate,
            region,
        ));
        plates.push(plate);
    }
    Fixture {
        matcher: Arc::new(LiveMatcher::new(entries, TolerancePolicy::default())),
        plates,
        records,
        raw_set,
    }
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("per_read");
    group.throughput(Throughput::Elements(READS as u64));
    group.sample_size(30);

    group.bench_function("baseline_hashmap_raw_lookup", |b| {
        b.iter(|| f.plates.iter().filter(|p| f.raw_set.contains(p.as_str())).count())
    });
    group.bench_function("normalize_match", |b| {
        let mut hits = Vec::new();
        b.iter(|| {
            let mut n = 0;
            for plate in &f.plates {
                let Ok(plate) = normalize(plate) else {
                    continue;
                };
                hits.clear();
                f.matcher.find(
                    &Query {
                        plate,
                        region: None,
                        candidates: &[],
                    },
                    &mut hits,
                );
                n += hits.len();
            }
            n
        })
    });
    group.bench_function("baseline_serde_json_value_parse", |b| {
        b.iter(|| {
            f.records
                .iter()
                .filter(|r| serde_json::from_slice::<serde_json::Value>(r).is_ok())
                .count()
        })
    });
    group.bench_function("parse_only", |b| {
        b.iter(|| {
            f.records
                .iter()
                .filter(|r| hotlist_matcher::read::parse(black_box(r), 65536).is_ok())
                .count()
        })
    });
    group.bench_function("per_read_path", |b| {
        let mut processor = Processor::new(f.matcher.clone(), 65536);
        b.iter(|| {
            let mut alerts = 0;
            for record in &f.records {
                if let Outcome::Alerts(a) = processor.process(black_box(record)) {
                    alerts += a.len();
                }
            }
            alerts
        })
    });
    group.bench_function("per_read_path_batched", |b| {
        let mut processor = Processor::new(f.matcher.clone(), 65536);
        let mut outcomes = Vec::with_capacity(READS);
        b.iter(|| {
            outcomes.clear();
            processor.process_batch(black_box(&f.records), &mut outcomes);
            alerts_in(&outcomes)
        })
    });
    group.bench_function("per_read_path_with_metrics", |b| {
        let metrics = hotlist_matcher::metrics::Metrics::new();
        let mut processor = Processor::new(f.matcher.clone(), 65536).with_metrics(&metrics);
        b.iter(|| {
            let mut alerts = 0;
            for (i, record) in f.records.iter().enumerate() {
                if let Outcome::Alerts(a) = processor.process(black_box(record)) {
                    alerts += a.len();
                }
                if i % 1000 == 999 {
                    processor.flush_metrics(&metrics);
                }
            }
            alerts
        })
    });
    group.finish();
    paired_against_value_parse(&f);
    paired_metrics_overhead(&f);
    paired_pass_overhead(&f);
}

/// Issue 16's ratio as a paired, same-run figure: the `Value` parse of
/// every record and the whole per-read path alternate over the same 10,000
/// records for 101 rounds (order swapped every round); the median of the
/// per-round ratios is printed. Criterion's figures for the two come from
/// different moments, and this machine's load drifts between them.
fn paired_against_value_parse(f: &Fixture) {
    let mut processor = Processor::new(f.matcher.clone(), 65536);
    let value = |_: &mut Processor| {
        let started = std::time::Instant::now();
        let n = f
            .records
            .iter()
            .filter(|r| serde_json::from_slice::<serde_json::Value>(black_box(r)).is_ok())
            .count();
        black_box(n);
        started.elapsed().as_secs_f64()
    };
    let path = |p: &mut Processor| {
        let started = std::time::Instant::now();
        let mut alerts = 0;
        for record in &f.records {
            if let Outcome::Alerts(a) = p.process(black_box(record)) {
                alerts += a.len();
            }
        }
        black_box(alerts);
        started.elapsed().as_secs_f64()
    };
    let batched = |p: &mut Processor| {
        let started = std::time::Instant::now();
        let mut outcomes = Vec::with_capacity(READS);
        p.process_batch(black_box(&f.records), &mut outcomes);
        black_box(alerts_in(&outcomes));
        started.elapsed().as_secs_f64()
    };
    let reads = (101 * READS) as f64;
    let (ratios, base, ours) = paired(&mut processor, value, path);
    println!(
        "per_read_path vs serde_json Value parse (paired, 101 rounds of {READS} reads): median speed ratio {:.3} \
         (quartiles {:.3}..{:.3}); Value parse {:.0} reads/s, per_read_path {:.0} reads/s",
        ratios[50],
        ratios[25],
        ratios[75],
        reads / base,
        reads / ours
    );
    let (ratios, base, ours) = paired(&mut processor, value, batched);
    println!(
        "per_read_path_batched vs serde_json Value parse (paired, 101 rounds of {READS} reads): median speed ratio \
         {:.3} (quartiles {:.3}..{:.3}); Value parse {:.0} reads/s, per_read_path_batched {:.0} reads/s",
        ratios[50],
        ratios[25],
        ratios[75],
        reads / base,
        reads / ours
    );
    let (ratios, one, many) = paired(&mut processor, path, batched);
    println!(
        "per_read_path_batched vs per_read_path (paired, 101 rounds of {READS} reads): median speed ratio {:.3} \
         (quartiles {:.3}..{:.3}); per_read_path {:.0} reads/s, per_read_path_batched {:.0} reads/s",
        ratios[50],
        ratios[25],
        ratios[75],
        reads / one,
        reads / many
    );
}

/// Alerts among `outcomes`.
fn alerts_in(outcomes: &[Outcome]) -> usize {
    outcomes
        .iter()
        .map(|o| match o {
            Outcome::Alerts(a) => a.len(),
            _ => 0,
        })
        .sum()
}

/// Runs `a` and `b` alternately for 101 rounds, order swapped every round:
/// the sorted per-round ratios a/b (how many times faster `b` is) and the
/// total seconds of each.
fn paired(
    p: &mut Processor,
    a: impl Fn(&mut Processor) -> f64,
    b: impl Fn(&mut Processor) -> f64,
) -> (Vec<f64>, f64, f64) {
    let (mut ratios, mut total_a, mut total_b) = (Vec::new(), 0.0, 0.0);
    for round in 0..101 {
        let (ta, tb) = if round % 2 == 0 {
            let ta = a(p);
            (ta, b(p))
        } else {
            let tb = b(p);
            (a(p), tb)
        };
        total_a += ta;
        total_b += tb;
        ratios.push(ta / tb);
    }
    ratios.sort_by(f64::total_cmp);
    (ratios, total_a, total_b)
}

/// The metrics' cost as a paired, same-run ratio: on a shared machine the
/// load drifts between criterion's functions, so this alternates the two
/// paths over the same 10,000 reads for 101 rounds (order swapped every
/// round) and prints the median of the per-round ratios with/without.
fn paired_metrics_overhead(f: &Fixture) {
    let metrics = hotlist_matcher::metrics::Metrics::new();
    let plain = Processor::new(f.matcher.clone(), 65536);
    let counted = Processor::new(f.matcher.clone(), 65536).with_metrics(&metrics);
    paired_overhead(f, "metrics", plain, (counted, Some(&metrics)));
}

/// The cost of deciding by passes ([`hotlist_matcher::alert::pass`]), paired
/// the same way. Every read of the fixture is from one camera at one
/// instant, so each read is compared with the 32 remembered before it: the
/// stage's worst case short of a flood of cameras.
fn paired_pass_overhead(f: &Fixture) {
    let plain = Processor::new(f.matcher.clone(), 65536);
    let settings = hotlist_matcher::alert::pass::PassSettings::default();
    let passes = Processor::new(f.matcher.clone(), 65536).with_passes(settings);
    paired_overhead(f, "passes", plain, (passes, None));
}

/// Runs `plain` and `other` alternately over the fixture's reads for 101
/// rounds and prints the median ratio with/without.
fn paired_overhead(
    f: &Fixture,
    what: &str,
    mut plain: Processor,
    (mut other, metrics): (Processor, Option<&hotlist_matcher::metrics::Metrics>),
) {
    let pass = |p: &mut Processor, metrics: Option<&hotlist_matcher::metrics::Metrics>| {
        let started = std::time::Instant::now();
        let mut alerts = 0;
        for (i, record) in f.records.iter().enumerate() {
            if let Outcome::Alerts(a) = p.process(black_box(record)) {
                alerts += a.len();
            }
            if let Some(metrics) = metrics.filter(|_| i % 1000 == 999) {
                p.flush_metrics(metrics);
            }
        }
        black_box(alerts);
        started.elapsed().as_secs_f64()
    };
    let mut ratios = Vec::new();
    let (mut without, mut with) = (0.0, 0.0);
    for round in 0..101 {
        let (a, b) = if round % 2 == 0 {
            let a = pass(&mut plain, None);
            (a, pass(&mut other, metrics))
        } else {
            let b = pass(&mut other, metrics);
            (pass(&mut plain, None), b)
        };
        without += a;
        with += b;
        ratios.push(b / a);
    }
    ratios.sort_by(f64::total_cmp);
    let reads = (101 * READS) as f64;
    println!(
        "per_read {what} overhead (paired, 101 rounds of {READS} reads): median ratio with/without {:.3} \
         (quartiles {:.3}..{:.3}); without {:.0} reads/s, with {:.0} reads/s",
        ratios[50],
        ratios[25],
        ratios[75],
        reads / without,
        reads / with
    );
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
