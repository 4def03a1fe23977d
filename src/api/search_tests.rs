//! The purpose rules and the sharing rules, through the router over
//! in-memory stores.

use std::sync::Arc;

use crate::access::audit::AuditRecord;
use crate::api::fakes::{Harness, PURPOSE};
use crate::hotlist::{load_csv, CsvLimits, LiveMatcher, TolerancePolicy};
use crate::pipeline::{Outcome, Processor};

/// One read and its alert, on the harness's reads and alerts topics.
fn seed_alert(api: &Harness) {
    seed_alerts(api, 1);
}

/// `n` reads of 7ABC123, each hitting list `rso` once.
fn seed_alerts(api: &Harness, n: usize) {
    let list = "entry_id,list_id,plate,region,category\ne1,rso,7ABC123,CA,stolen_vehicle\n";
    let matcher = LiveMatcher::new(
        load_csv(list.as_bytes(), CsvLimits::default()).unwrap(),
        TolerancePolicy::default(),
    );
    let mut processor = Processor::new(Arc::new(matcher), 65536);
    let mut reads = Vec::new();
    let mut alerts = Vec::new();
    for _ in 0..n {
        let read = crate::sample::read_json(
            uuid::Uuid::new_v4(),
            "cam-1",
            "2026-11-27T03:00:00-08:00",
            "7abc-123",
            Some("CA"),
        );
        let Outcome::Alerts(hits) = processor.process(&read) else {
            panic!("the read hits");
        };
        alerts.push(hits[0].payload.clone());
        reads.push(read);
    }
    reads.push(b"not a read".to_vec());
    let topics = &api.state.config.topics;
    let mut scan = api.scan.topics.lock().unwrap();
    scan.insert(topics.reads.clone(), reads);
    scan.insert(topics.alerts.clone(), alerts);
}

#[tokio::test]
async fn a_search_or_export_without_a_purpose_is_refused_and_audited() {
    let api = Harness::new();
    seed_alert(&api);
    let deputy = api.token("deputy").await;
    for (path, body) in [
        ("/api/search/alerts", r#"{"plate":"7ABC123"}"#),
        ("/api/search/reads", r#"{"plate":"7ABC123","purpose":null}"#),
        ("/api/exports", r#"{"agency_ori":"CA0330000","plate":"7ABC123"}"#),
    ] {
        let (status, text) = api.call("POST", path, Some(&deputy), Some(body)).await;
        assert_eq!(status, 400, "{path}: {text}");
        assert!(text.contains("a purpose is required"), "{text}");
        let refusal = api.audit.last().unwrap();
        assert_eq!(refusal.action, "refused_without_purpose", "{path}");
        assert_eq!((refusal.username.as_str(), refusal.result_count), ("deputy", None));
    }
    assert_eq!(api.audit.count("refused_without_purpose"), 3);
}

#[tokio::test]
async fn a_vague_purpose_is_refused_too() {
    let api = Harness::new();
    let deputy = api.token("deputy").await;
    for purpose in [
        r#"{"category":"stolen_vehicle","case_number":"RSO-26-004417","details":"work"}"#,
        r#"{"category":"stolen_vehicle","case_number":" ","details":"stolen Civic reported 11/26"}"#,
    ] {
        let body = format!(r#"{{"plate":"7ABC123","purpose":{purpose}}}"#);
        let (status, text) = api.call("POST", "/api/search/alerts", Some(&deputy), Some(&body)).await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("purpose is invalid"), "{text}");
    }
    let unknown = r#"{"plate":"7ABC123","purpose":{"category":"curiosity","case_number":"RSO-1","details":"just looking around"}}"#;
    assert_eq!(
        api.call("POST", "/api/search/alerts", Some(&deputy), Some(unknown))
            .await
            .0,
        422,
        "a category outside the fixed list"
    );
    assert_eq!(api.audit.count("refused_without_purpose"), 2);
    assert_eq!(api.audit.count("search_alerts"), 0);
}

#[tokio::test]
async fn a_search_with_a_purpose_finds_the_plate_and_is_audited_with_it() {
    let api = Harness::new();
    seed_alert(&api);
    let deputy = api.token("deputy").await;
    let search = format!(r#"{{"plate":"7abc 123","purpose":{PURPOSE}}}"#);
    let (status, body) = api
        .call("POST", "/api/search/alerts", Some(&deputy), Some(&search))
        .await;
    assert_eq!(status, 200, "{body}");
    let alerts: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["entry"]["entry_id"], "e1");
    let event = api.audit.last().unwrap();
    assert_eq!(event.action, "search_alerts");
    assert_eq!(event.query_terms, ["plate=7ABC123"]);
    assert_eq!(event.result_count, Some(1));
    assert_eq!(event.purpose.unwrap().case_number, "RSO-26-004417");

    let (status, body) = api
        .call("POST", "/api/search/reads", Some(&deputy), Some(&search))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&body).unwrap().len(), 1);
    assert_eq!(api.audit.last().unwrap().action, "search_reads");

    let other = format!(r#"{{"plate":"8XYZ999","purpose":{PURPOSE}}}"#);
    let (status, body) = api
        .call("POST", "/api/search/alerts", Some(&deputy), Some(&other))
        .await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    assert_eq!(
        api.audit.last().unwrap().result_count,
        Some(0),
        "a search that finds nothing is audited too"
    );
    let bad_plate = format!(r#"{{"plate":"!!","purpose":{PURPOSE}}}"#);
    assert_eq!(
        api.call("POST", "/api/search/alerts", Some(&deputy), Some(&bad_plate))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn exports_go_only_to_registered_california_public_agencies() {
    let api = Harness::new();
    seed_alert(&api);
    let manager = api.token("manager").await;
    let deputy = api.token("deputy").await;
    for agency in [
        r#"{"ori":"CA0330000","name":"Riverside County DA","california_public_agency":true}"#,
        r#"{"ori":"NV0020000","name":"Las Vegas Metro PD","california_public_agency":false}"#,
    ] {
        assert_eq!(
            api.call("POST", "/api/agencies", Some(&manager), Some(agency)).await.0,
            201
        );
    }
    let bad = r#"{"ori":"x","name":"Bad","california_public_agency":true}"#;
    assert_eq!(
        api.call("POST", "/api/agencies", Some(&manager), Some(bad)).await.0,
        400
    );
    assert_eq!(
        api.principals.written_principals().len(),
        2,
        "two agency records written"
    );
    let export = |ori: &str| format!(r#"{{"agency_ori":"{ori}","plate":"7ABC123","purpose":{PURPOSE}}}"#);
    let (status, body) = api
        .call("POST", "/api/exports", Some(&deputy), Some(&export("CA9999999")))
        .await;
    assert_eq!(status, 403, "not registered: {body}");
    assert!(body.contains("registered California public agencies"), "{body}");
    assert_eq!(
        api.call("POST", "/api/exports", Some(&deputy), Some(&export("NV0020000")))
            .await
            .0,
        403,
        "not a California public agency"
    );
    let (status, body) = api
        .call("POST", "/api/exports", Some(&deputy), Some(&export("CA0330000")))
        .await;
    assert_eq!(status, 200, "{body}");
    let shared: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(shared["agency"]["ori"], "CA0330000");
    assert_eq!(shared["alerts"].as_array().unwrap().len(), 1);
    // The audit record: who asked, who received, what was sent.
    let sent = api.audit.last().unwrap();
    assert_eq!((sent.action.as_str(), sent.username.as_str()), ("export", "deputy"));
    assert_eq!(
        sent.query_terms,
        [
            "agency=CA0330000".to_string(),
            "agency_name=Riverside County DA".into(),
            "plate=7ABC123".into(),
            "sent_count=1".into(),
            format!("alerts={}", shared["alerts"][0]["alert_id"].as_str().unwrap()),
        ]
    );
    assert_eq!((sent.result_count, sent.truncated), (Some(1), false));

    let (status, register) = api.call("GET", "/api/sharing", Some(&manager), None).await;
    assert_eq!(status, 200);
    let register: Vec<AuditRecord> = serde_json::from_str(&register).unwrap();
    let actions: Vec<&str> = register.iter().map(|r| r.event.action.as_str()).collect();
    assert_eq!(actions, ["export_refused", "export_refused", "export"]);
    assert!(
        register.iter().all(|r| r.event.purpose.is_some()),
        "each with its purpose"
    );
    let (_, agencies) = api.call("GET", "/api/agencies", Some(&manager), None).await;
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&agencies).unwrap().len(),
        2
    );
}

/// Issue 12: an export of more records than the audit bounds can list
/// keeps its count and as many ids as fit, and is flagged truncated.
#[tokio::test]
async fn a_big_export_is_audited_with_its_count_and_as_many_ids_as_fit() {
    use crate::access::audit::bounds;
    let api = Harness::new();
    seed_alerts(&api, 200);
    let manager = api.token("manager").await;
    let riverside = r#"{"ori":"CA0330000","name":"Riverside County DA","california_public_agency":true}"#;
    assert_eq!(
        api.call("POST", "/api/agencies", Some(&manager), Some(riverside))
            .await
            .0,
        201
    );
    let deputy = api.token("deputy").await;
    let export = format!(r#"{{"agency_ori":"CA0330000","plate":"7ABC123","purpose":{PURPOSE}}}"#);
    let (status, body) = api.call("POST", "/api/exports", Some(&deputy), Some(&export)).await;
    assert_eq!(status, 200);
    let shared: serde_json::Value = serde_json::from_str(&body).unwrap();
    let sent_ids: Vec<&str> = shared["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alert_id"].as_str().unwrap())
        .collect();
    assert_eq!(sent_ids.len(), 200);
    let sent = api.audit.last().unwrap();
    assert_eq!(sent.query_terms.len(), bounds::TERMS);
    assert_eq!(sent.query_terms[3], "sent_count=200");
    let listed: Vec<&str> = sent.query_terms[4..]
        .iter()
        .flat_map(|t| t.strip_prefix("alerts=").unwrap().split(','))
        .collect();
    // 12 terms of 13 ids (36 characters and a comma) each, in the order sent.
    assert_eq!(listed, sent_ids[..12 * 13]);
    assert_eq!((sent.result_count, sent.truncated), (Some(200), true));
}

/// Issue 12: an ORI is checked, and an agency outside California is never
/// registered as a California public agency; each refusal is audited.
#[tokio::test]
async fn agencies_are_registered_only_with_a_valid_ori_and_california_only_if_californian() {
    let api = Harness::new();
    let manager = api.token("manager").await;
    let nevada = r#"{"ori":"NV0020000","name":"Las Vegas Metro PD","california_public_agency":true}"#;
    let (status, body) = api.call("POST", "/api/agencies", Some(&manager), Some(nevada)).await;
    assert_eq!(status, 422);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({ "error": "agency NV0020000 is not Californian: only an agency whose ORI begins with CA can be a California public agency" })
    );
    let refused = api.audit.last().unwrap();
    assert_eq!(refused.action, "agency_refused");
    assert_eq!(refused.query_terms[0], "ori=NV0020000");
    for ori in ["ZZ0020000", "CA03300", "ca0330000"] {
        let malformed = format!(r#"{{"ori":"{ori}","name":"Somewhere PD","california_public_agency":false}}"#);
        let (status, body) = api
            .call("POST", "/api/agencies", Some(&manager), Some(&malformed))
            .await;
        assert_eq!(status, 400, "{ori}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"],
            format!("ORI \"{ori}\" is invalid: an ORI is exactly 9 characters of A-Z and 0-9, the first two a US state or territory postal code (e.g. CA0330000)")
        );
    }
    assert_eq!(api.audit.count("agency_refused"), 4);
    assert!(api.principals.written_principals().is_empty(), "nothing registered");
    let known = r#"{"ori":"NV0020000","name":"Las Vegas Metro PD","california_public_agency":false}"#;
    assert_eq!(
        api.call("POST", "/api/agencies", Some(&manager), Some(known)).await.0,
        201
    );
}

/// Issue 12: a search that fails (the broker is unreachable) answers 503
/// with no data and is on the log with its terms, purpose and error.
#[tokio::test]
async fn a_failed_search_is_recorded_with_its_error() {
    let api = Harness::new();
    seed_alert(&api);
    api.scan.down.store(true, std::sync::atomic::Ordering::Relaxed);
    let deputy = api.token("deputy").await;
    let search = format!(r#"{{"plate":"7abc 123","purpose":{PURPOSE}}}"#);
    for (path, action) in [
        ("/api/search/reads", "search_reads_failed"),
        ("/api/search/alerts", "search_alerts_failed"),
    ] {
        let (status, text) = api.call("POST", path, Some(&deputy), Some(&search)).await;
        assert_eq!(
            (status, text.as_str()),
            (503, r#"{"error":"storage is unavailable; try again"}"#),
            "{path}"
        );
        let failed = api.audit.last().unwrap();
        assert_eq!(failed.action, action);
        assert_eq!(
            failed.query_terms,
            ["plate=7ABC123", "error=broker 10.0.0.7:9092 is down (test)"]
        );
        assert_eq!(failed.purpose.unwrap().case_number, "RSO-26-004417");
        assert_eq!(failed.result_count, None);
    }
}
