//! The whole pipeline in process against the real broker.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hotlist_matcher::alert::alert_id;
use hotlist_matcher::alert::Alert;
use hotlist_matcher::hotlist::{
    load_csv_file, Category, EntryPlate, HotlistEntry, LiveMatcher, MatchKind, Matcher, Pattern, Query,
};
use hotlist_matcher::kafka::source::{Source, DLQ_CODE_HEADER, DLQ_REASON_HEADER, DLQ_SOURCE_HEADER};
use hotlist_matcher::metrics::Metrics;
use hotlist_matcher::normalize::normalize;
use hotlist_matcher::sample::{self, Rng};
use rdkafka::message::{Headers, Message, OwnedMessage};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common;

/// Five more broken records on top of the library's fifteen: twenty kinds.
fn twenty_malformed(rng: &mut Rng) -> Vec<(Vec<u8>, &'static str)> {
    let mut records = sample::malformed_records(rng, 65536);
    let id = rng.uuid();
    let at = common::at();
    records.extend([
        (b"\"just a string\"".to_vec(), "schema"),
        (
            format!(r#"{{"read_id":"{id}","captured_at":"{at}","plate":"7ABC123"}}"#).into_bytes(),
            "schema",
        ),
        (
            format!(r#"{{"read_id":"{id}","camera_id":"c","captured_at":"{at}","plate":"7ABC123","location":{{"lat":33.7,"lon":-200}}}}"#).into_bytes(),
            "invalid_field",
        ),
        (vec![0x00, 0x01, 0x02, 0xC3], "invalid_utf8"),
        (
            format!(r#"{{"read_id":"{id}","camera_id":"c","captured_at":"{at}","plate":"名古屋"}}"#).into_bytes(),
            "invalid_plate",
        ),
    ]);
    assert_eq!(records.len(), 20);
    records
}

fn header<'a>(message: &'a OwnedMessage, name: &str) -> &'a str {
    let headers = message.headers().expect("dead letters carry headers");
    let found = headers.iter().find(|h| h.key == name).expect("header present");
    std::str::from_utf8(found.value.expect("header has a value")).expect("utf-8 header")
}

/// The hotlist of the test: a 1,000-entry stolen-vehicle list (OCR-equivalent
/// matching), a 20-entry AMBER list (fuzzy), and witness patterns.
fn hotlist(rng: &mut Rng) -> Vec<Arc<HotlistEntry>> {
    let mut entries = sample::hotlist(rng, 1000, "it-stolen");
    for e in &mut entries {
        Arc::make_mut(e).category = Category::StolenVehicle;
    }
    for e in sample::hotlist(rng, 20, "it-amber") {
        entries.push(Arc::new(HotlistEntry {
            category: Category::Amber,
            priority: 0,
            ..(*e).clone()
        }));
    }
    for i in 0..20 {
        let plate = sample::random_plate(rng).to_string();
        let text = if i % 2 == 0 {
            format!("{}?{}", &plate[..2], &plate[3..]) // one unknown character
        } else {
            format!("*{}*", &plate[1..5]) // a fragment seen by a witness
        };
        entries.push(Arc::new(HotlistEntry {
            entry_id: format!("w{i}"),
            list_id: "it-witness".into(),
            plate: EntryPlate::Pattern(Pattern::parse(&text).unwrap()),
            region: None,
            category: Category::Bolo,
            priority: 1,
            description: "witness".into(),
            expires_at: None,
            effective_at: None,
            details: Default::default(),
        }));
    }
    entries
}

/// A read of `shown` that must hit exactly `entry`, with `kind`.
fn plant(
    rng: &mut Rng,
    matcher: &LiveMatcher,
    entry: &Arc<HotlistEntry>,
    shown: &str,
    kind: MatchKind,
) -> Option<(Vec<u8>, Uuid)> {
    let mut hits = Vec::new();
    let query = Query {
        plate: normalize(shown).ok()?,
        region: entry.region,
        candidates: &[],
    };
    matcher.find(&query, &mut hits);
    let exactly = hits.len() == 1 && hits[0].entry.is(entry) && hits[0].kind == kind;
    if !exactly {
        return None;
    }
    let id = rng.uuid();
    let region = entry.region.map(|r| r.to_string());
    let record = sample::read_json(id, "cam-it", &common::at(), shown, region.as_deref());
    Some((record, alert_id(&id, &entry.list_id, &entry.entry_id)))
}

/// 100 planted reads: 60 exact (disguised), 10 OCR-equivalent, 10 fuzzy,
/// 10 wildcard and 10 partial; with the alert id and kind each must yield.
fn planted(rng: &mut Rng, entries: &[Arc<HotlistEntry>], matcher: &LiveMatcher) -> Vec<(Vec<u8>, Uuid, MatchKind)> {
    let mut out = Vec::new();
    let mut plant_from = |rng: &mut Rng, pool: Vec<&Arc<HotlistEntry>>, kind: MatchKind, n: usize| {
        let mut made = 0;
        for entry in pool {
            let listed = entry.plate.to_string();
            let shown = match kind {
                MatchKind::Exact => Some(sample::disguise(rng, &listed)),
                MatchKind::OcrEquivalent => sample::misread(rng, &listed),
                MatchKind::Fuzzy => Some(sample::one_edit(rng, &listed)),
                MatchKind::Wildcard | MatchKind::Partial => Some(sample::fill_pattern(rng, &listed)),
            };
            if let Some((record, id)) = shown.and_then(|s| plant(rng, matcher, entry, &s, kind)) {
                out.push((record, id, kind));
                made += 1;
                if made == n {
                    return;
                }
            }
        }
        panic!("could not plant {n} {kind:?} reads");
    };
    let stolen: Vec<_> = entries.iter().filter(|e| e.list_id == "it-stolen").collect();
    let amber: Vec<_> = entries.iter().filter(|e| e.list_id == "it-amber").collect();
    let wildcards: Vec<_> = entries.iter().filter(|e| e.entry_id.starts_with('w')).collect();
    plant_from(rng, stolen[..500].to_vec(), MatchKind::Exact, 60);
    plant_from(rng, stolen[500..].to_vec(), MatchKind::OcrEquivalent, 10);
    plant_from(rng, amber, MatchKind::Fuzzy, 10);
    plant_from(
        rng,
        wildcards.iter().step_by(2).copied().collect(),
        MatchKind::Wildcard,
        10,
    );
    plant_from(
        rng,
        wildcards.iter().skip(1).step_by(2).copied().collect(),
        MatchKind::Partial,
        10,
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_reads_yield_exactly_the_planted_alerts_and_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("pipeline");
    let hotlist_path = dir.path().join("hotlist.csv");
    let config = common::config(&prefix, &hotlist_path, 1000);
    common::create_topics(&config).await;

    let mut rng = Rng::new(11);
    common::write_hotlist(&hotlist_path, &hotlist(&mut rng));
    let entries = load_csv_file(&hotlist_path, config.hotlist.limits).unwrap();
    let matcher = Arc::new(LiveMatcher::new(entries.clone(), config.matching.clone()));
    let planted = planted(&mut rng, &entries, &matcher);
    let expected: HashMap<Uuid, MatchKind> = planted.iter().map(|(_, id, kind)| (*id, *kind)).collect();
    assert_eq!(expected.len(), 100);
    let malformed = twenty_malformed(&mut rng);
    let records = planted.into_iter().map(|(record, _, _)| record).collect();
    let records = common::interleave(&mut rng, matcher.as_ref(), 10_000, records, &malformed);
    common::produce(&config, &config.topics.reads, &records).await;

    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let keyring = common::keyring(&config).await;
    let source = Source::new(&config, matcher, metrics.clone(), keyring.clone()).unwrap();
    let running = tokio::spawn(source.run(shutdown.clone()));

    let alerts_reader = common::reader(&config, &config.topics.alerts);
    let mut alerts = Vec::new();
    common::drain_until(&alerts_reader, &mut alerts, Duration::from_secs(120), |m| {
        m.len() >= 100
    })
    .await;
    let dlq_reader = common::reader(&config, &config.topics.dlq);
    let mut dead = Vec::new();
    common::drain_until(&dlq_reader, &mut dead, Duration::from_secs(60), |m| m.len() >= 20).await;
    // Wait for the last batch to be counted, then give stray extras a chance to show.
    for _ in 0..300 {
        if metrics.reads.get() == 10_020 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    common::drain_until(&alerts_reader, &mut alerts, Duration::from_millis(500), |_| false).await;
    common::drain_until(&dlq_reader, &mut dead, Duration::from_millis(500), |_| false).await;
    shutdown.cancel();
    running.await.unwrap().unwrap();

    assert_eq!(
        alerts.len(),
        100,
        "one alert per planted hit, no duplicates without a crash"
    );
    let got: HashMap<Uuid, MatchKind> = alerts
        .iter()
        .map(|message| {
            let alert = Alert::decode(&common::opened(&keyring, message)).unwrap();
            assert_eq!(message.key().unwrap(), alert.alert_id.to_string().as_bytes());
            (alert.alert_id, alert.matched.kind)
        })
        .collect();
    assert_eq!(got, expected, "exactly the planted alert ids, each with its kind");

    let expected_dead: HashMap<&[u8], &str> = malformed.iter().map(|(b, c)| (b.as_slice(), *c)).collect();
    assert_eq!(dead.len(), 20);
    for message in &dead {
        let payload = common::opened(&keyring, message);
        let code = expected_dead
            .get(payload.as_slice())
            .expect("dead letter carries the original bytes unchanged");
        assert_eq!(header(message, DLQ_CODE_HEADER), *code);
        assert!(!header(message, DLQ_REASON_HEADER).is_empty());
        assert!(header(message, DLQ_SOURCE_HEADER).starts_with(&format!("{}/", config.topics.reads)));
    }

    assert_eq!(metrics.reads.get(), 10_020);
    assert_eq!(metrics.hits.get(), 100);
    assert_eq!(metrics.alerts.get(), 100);
    assert_eq!(metrics.dlq_total(), 20);
    assert_eq!(
        common::lag(&config, &config.kafka.group_id, &config.topics.reads),
        0,
        "every offset committed at shutdown"
    );
}

/// Issue 13, capture time rules: an alert carries its read's capture time
/// as its Kafka timestamp (so the broker's retention counts from capture);
/// a read captured 31 days ago is not processed: no alert, and its dead
/// letter names the reason and keeps none of its bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_about_a_read_carry_its_capture_time_and_an_expired_read_is_not_kept() {
    use rdkafka::Timestamp;
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("capture-time");
    let hotlist_path = dir.path().join("hotlist.csv");
    std::fs::write(
        &hotlist_path,
        "entry_id,list_id,plate,region,category,priority,description\ne1,rso,7CAP123,CA,stolen_vehicle,1,\n",
    )
    .unwrap();
    let config = common::config(&prefix, &hotlist_path, 10);
    common::create_topics(&config).await;
    let captured = chrono::Utc::now() - chrono::Duration::days(29);
    let expired = chrono::Utc::now() - chrono::Duration::days(31);
    let fresh = sample::read_json(Uuid::new_v4(), "cam-t", &captured.to_rfc3339(), "7CAP123", Some("CA"));
    let old = sample::read_json(Uuid::new_v4(), "cam-t", &expired.to_rfc3339(), "7CAP123", Some("CA"));
    common::produce(&config, &config.topics.reads, &[fresh, old]).await;

    let entries = load_csv_file(&hotlist_path, config.hotlist.limits).unwrap();
    let matcher = Arc::new(LiveMatcher::new(entries, config.matching.clone()));
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(
        Source::new(&config, matcher, metrics.clone(), common::keyring(&config).await)
            .unwrap()
            .run(shutdown.clone()),
    );
    let (mut alerts, mut dead) = (Vec::new(), Vec::new());
    let alerts_reader = common::reader(&config, &config.topics.alerts);
    let dlq_reader = common::reader(&config, &config.topics.dlq);
    common::drain_until(&alerts_reader, &mut alerts, Duration::from_secs(60), |m| !m.is_empty()).await;
    common::drain_until(&dlq_reader, &mut dead, Duration::from_secs(60), |m| !m.is_empty()).await;
    common::drain_until(&alerts_reader, &mut alerts, Duration::from_millis(500), |_| false).await;
    shutdown.cancel();
    running.await.unwrap().unwrap();

    assert_eq!(
        alerts.len(),
        1,
        "the 29-day-old read alerts, the 31-day-old one does not"
    );
    assert_eq!(
        alerts[0].timestamp(),
        Timestamp::CreateTime(captured.timestamp_millis()),
        "the alert's timestamp is the capture time"
    );
    assert_eq!(dead.len(), 1);
    assert_eq!(header(&dead[0], DLQ_CODE_HEADER), "too_old");
    assert_eq!(
        header(&dead[0], DLQ_REASON_HEADER),
        "captured more than 30 days ago: past the retention, not processed"
    );
    assert_eq!(
        dead[0].payload().unwrap_or_default(),
        b"",
        "none of the read's bytes are kept"
    );
    assert_eq!(dead[0].key(), None);
    assert_eq!(metrics.dlq.with_label_values(&["too_old"]).get(), 1);
}
