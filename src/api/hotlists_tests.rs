//! Hotlist uploads, through the router over in-memory stores.

use crate::api::fakes::Harness;

const DOJ: &str = "/api/hotlists/doj-stolen?format=ncic&reason=nightly%20DOJ%20extract";

/// The agency feed replaces its own lists; a bad file changes nothing;
/// another organisation's list is refused.
#[tokio::test]
async fn agencies_upload_only_their_own_lists() {
    let api = Harness::new();
    let feed = api.token("doj.feed").await;
    let (status, body) = api
        .call(
            "POST",
            DOJ,
            Some(&feed),
            Some("LIC/ABC123.LIS/CA.NIC/V1\nLIC/BAD#.NIC/V2\n"),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("nothing uploaded") && body.contains("line 2, column plate"),
        "{body}"
    );
    assert!(
        api.hotlists.owners.lock().unwrap().is_empty(),
        "nothing reached the topic"
    );
    let (status, body) = api
        .call("POST", DOJ, Some(&feed), Some("LIC/ABC123.LIS/CA.NIC/V1\n"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"added\":1"), "{body}");
    // The custodian may replace any list; an agency not another's.
    let manager = api.token("manager").await;
    let rso = "/api/hotlists/rso-local?format=jsonl&reason=officer%20entries";
    let line = r#"{"entry_id":"o1","plate":"9TEMP12","category":"officer_entered","expires_at":"2099-01-01T00:00:00Z","description":"seen leaving a burglary"}"#;
    assert_eq!(api.call("POST", rso, Some(&manager), Some(line)).await.0, 200);
    let (status, body) = api.call("POST", rso, Some(&feed), Some(line)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        api.call("POST", DOJ, Some(&manager), Some(line)).await.0,
        400,
        "not NCIC"
    );
    let actions: Vec<String> = api.audit.records().into_iter().map(|r| r.event.action).collect();
    let uploads: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with("hotlist_upload"))
        .collect();
    assert_eq!(
        uploads,
        [
            "hotlist_upload_refused",
            "hotlist_upload",
            "hotlist_upload",
            "hotlist_upload_refused",
            "hotlist_upload_refused"
        ]
    );
}

#[tokio::test]
async fn an_upload_needs_a_format_and_a_reason() {
    let api = Harness::new();
    let feed = api.token("doj.feed").await;
    let file = Some("LIC/ABC123.LIS/CA.NIC/V1\n");
    for (query, says) in [
        ("format=ncic&reason=%20fix%20", "give a reason of at least 5 characters"),
        ("format=pdf&reason=nightly", "unknown format"),
        ("format=ncic&category=parking&reason=nightly", "unknown category"),
    ] {
        let (status, body) = api
            .call("POST", &format!("/api/hotlists/doj-stolen?{query}"), Some(&feed), file)
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(says), "{query}: {body}");
    }
    let (status, _) = api
        .call(
            "POST",
            "/api/hotlists/doj-stolen?format=ncic&reason=%20fixes%20",
            Some(&feed),
            file,
        )
        .await;
    assert_eq!(status, 200);
    let upload = api.audit.last().unwrap();
    assert_eq!(upload.query_terms[..2], ["list=doj-stolen", "reason=fixes"]);
}

/// Historical alerts an upload raised are counted in the metrics.
#[tokio::test]
async fn historical_alerts_of_uploads_are_counted() {
    let api = Harness::new();
    let feed = api.token("doj.feed").await;
    for _ in 0..2 {
        let (status, body) = api
            .call("POST", DOJ, Some(&feed), Some("LIC/ABC123.LIS/CA.NIC/V1\n"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(api.state.metrics.historical_alerts.get(), 2);
}
