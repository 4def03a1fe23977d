//! The cost of sealing ALPR records with day keys (issue 13).
//!
//! `cargo bench --bench seal` measures, per record, on an alert of the size
//! the pipeline writes (about 700 bytes of JSON): copying its bytes (the
//! baseline every write already pays), sealing it under a day key
//! (AES-256-GCM, fresh random nonce) and opening it again; and the whole
//! per-read pipeline stage (parse, normalize, match, encode) with and
//! without sealing the alert it makes, and a read no list holds, plain and
//! sealed by a camera gateway (opened first). Figures and ratios are in
//! docs/BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hotlist_matcher::hotlist::{load_csv, CsvLimits, LiveMatcher, TolerancePolicy};
use hotlist_matcher::pipeline::{Outcome, Processor};
use hotlist_matcher::retention::seal::DayKey;

fn alert_bytes() -> Vec<u8> {
    let mut processor = processor();
    match processor.process(&read()) {
        Outcome::Alerts(alerts) => alerts[0].payload.clone(),
        other => panic!("expected an alert, got {other:?}"),
    }
}

fn processor() -> Processor {
    let list = "entry_id,list_id,plate,region,category,priority,description\n\
                e1,rso,7ABC123,CA,stolen_vehicle,1,black Honda Civic\n";
    let entries = load_csv(list.as_bytes(), CsvLimits::default()).unwrap();
    Processor::new(Arc::new(LiveMatcher::new(entries, TolerancePolicy::default())), 65_536)
}

fn read() -> Vec<u8> {
    br#"{"read_id":"6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a","camera_id":"coachella-cam-03","captured_at":"2026-11-27T11:12:45Z","plate":"7ABC123","region":"CA","confidence":0.93,"location":{"lat":33.68,"lon":-116.17},"image_ref":"s3://alpr/2026/11/27/abc.jpg"}"#.to_vec()
}

fn per_record(c: &mut Criterion) {
    let alert = alert_bytes();
    let key = DayKey::generate(chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()).unwrap();
    let sealed = key.seal(&alert).unwrap();
    let mut group = c.benchmark_group("seal");
    group.throughput(Throughput::Elements(1));
    group.bench_function("copy (baseline)", |b| b.iter(|| black_box(black_box(&alert).to_vec())));
    group.bench_function("seal", |b| b.iter(|| key.seal(black_box(&alert)).unwrap()));
    group.bench_function("open", |b| b.iter(|| key.open(black_box(&sealed)).unwrap()));
    group.finish();

    let read = read();
    let mut group = c.benchmark_group("pipeline per read");
    group.throughput(Throughput::Elements(1));
    let mut plain = processor();
    group.bench_function("hit, plain", |b| {
        b.iter(|| match plain.process(black_box(&read)) {
            Outcome::Alerts(alerts) => black_box(alerts.len()),
            _ => unreachable!(),
        })
    });
    let mut sealing = processor();
    group.bench_function("hit, alert sealed", |b| {
        b.iter(|| match sealing.process(black_box(&read)) {
            Outcome::Alerts(alerts) => black_box(key.seal(&alerts[0].payload).unwrap().len()),
            _ => unreachable!(),
        })
    });
    // A read no list holds (the common case): plain, and sealed by a camera
    // gateway, so opened first.
    let innocent = String::from_utf8(read.clone())
        .unwrap()
        .replace("7ABC123", "4XYZ987")
        .into_bytes();
    let sealed_read = key.seal(&innocent).unwrap();
    let mut plain = processor();
    group.bench_function("no hit, plain read", |b| {
        b.iter(|| black_box(matches!(plain.process(black_box(&innocent)), Outcome::NoHit)))
    });
    let mut opening = processor();
    group.bench_function("no hit, sealed read", |b| {
        b.iter(|| {
            let opened = key.open(black_box(&sealed_read)).unwrap();
            black_box(matches!(opening.process(&opened), Outcome::NoHit))
        })
    });
    group.finish();
}

criterion_group!(benches, per_record);
criterion_main!(benches);
