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

/// Historical alerts an upload raised are counted in the metrics, and
/// never told to the uploader: the answer holds entry counts only.
#[tokio::test]
async fn historical_alerts_of_uploads_are_counted_but_never_told_to_the_uploader() {
    let api = Harness::new();
    let feed = api.token("doj.feed").await;
    for _ in 0..2 {
        let (status, body) = api
            .call("POST", DOJ, Some(&feed), Some("LIC/ABC123.LIS/CA.NIC/V1\n"))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({
                "list": "doj-stolen",
                "report": { "added": 1, "changed": 0, "removed": 0, "unchanged": 0 }
            })
        );
    }
    assert_eq!(api.state.metrics.historical_alerts.get(), 2);
}

/// The audit record of an upload lists the plates it added and removed,
/// after their counts.
#[tokio::test]
async fn an_upload_is_audited_with_the_plates_added_and_removed() {
    let api = Harness::new();
    let feed = api.token("doj.feed").await;
    let first = "LIC/ABC123.LIS/CA.NIC/V1\nLIC/7XYZ999.LIS/CA.NIC/V2\n";
    assert_eq!(api.call("POST", DOJ, Some(&feed), Some(first)).await.0, 200);
    let second = "LIC/ABC123.LIS/CA.NIC/V1\nLIC/8JKL111.LIS/CA.NIC/V3\n";
    assert_eq!(api.call("POST", DOJ, Some(&feed), Some(second)).await.0, 200);
    let upload = api.audit.last().unwrap();
    assert_eq!(upload.action, "hotlist_upload");
    assert_eq!(
        upload.query_terms,
        [
            "list=doj-stolen",
            "reason=nightly DOJ extract",
            "added_count=2",
            "removed_count=1",
            "changed_count=0",
            "added=ABC123,8JKL111",
            "removed=7XYZ999"
        ]
    );
    assert!(!upload.truncated);
}

/// A big upload keeps its counts and as many plates as the bounds allow,
/// and is flagged truncated.
#[tokio::test]
async fn a_big_upload_is_audited_as_completely_as_the_bounds_allow() {
    use crate::access::audit::bounds;
    let api = Harness::new();
    let feed = api.token("doj.feed").await;
    let file: String = (0..2000).map(|i| format!("LIC/7AB{i:04}.LIS/CA.NIC/V{i}\n")).collect();
    let (status, body) = api.call("POST", DOJ, Some(&feed), Some(&file)).await;
    assert_eq!(status, 200, "{body}");
    let upload = api.audit.last().unwrap();
    assert!(upload.truncated);
    assert_eq!(upload.query_terms.len(), bounds::TERMS);
    assert_eq!(
        upload.query_terms[2..5],
        ["added_count=2000", "removed_count=0", "changed_count=0"]
    );
    let listed: Vec<&str> = upload.query_terms[5..]
        .iter()
        .flat_map(|t| t.strip_prefix("added=").unwrap().split(','))
        .collect();
    // 11 terms of 63 plates each, in upload order.
    assert_eq!(listed.len(), 11 * 63);
    assert_eq!(listed[..2], ["7AB0000", "7AB0001"]);
    assert_eq!(listed[listed.len() - 1], "7AB0692");
}

/// An upload fenced by another upload of its list is refused with 409 and
/// a message to retry; nothing of it is applied, and the refusal audited.
#[tokio::test]
async fn an_upload_superseded_by_another_of_its_list_is_a_conflict() {
    let api = Harness::new();
    let feed = api.token("doj.feed").await;
    api.hotlists
        .superseded
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let (status, body) = api
        .call("POST", DOJ, Some(&feed), Some("LIC/ABC123.LIS/CA.NIC/V1\n"))
        .await;
    assert_eq!(status, 409, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["error"],
        "another upload of list doj-stolen started while this one was being written; \
         nothing of this upload was applied: check the list and upload again if this file should replace it"
    );
    assert!(api.hotlists.plates.lock().unwrap().is_empty());
    let actions: Vec<String> = api.audit.records().into_iter().map(|r| r.event.action).collect();
    assert!(actions.iter().any(|a| a == "hotlist_upload_refused"), "{actions:?}");
    assert!(!actions.iter().any(|a| a == "hotlist_upload"), "{actions:?}");
}

/// A dry run answers the diff and writes nothing; the same file then
/// uploads as previewed.
#[tokio::test]
async fn a_dry_run_answers_the_diff_and_writes_nothing() {
    let api = Harness::new();
    let feed = api.token("doj.feed").await;
    let first = "LIC/ABC123.LIS/CA.NIC/V1\nLIC/7XYZ999.LIS/CA.NIC/V2\n";
    assert_eq!(api.call("POST", DOJ, Some(&feed), Some(first)).await.0, 200);
    let second = "LIC/ABC123.LIS/CA.NIC/V1\nLIC/8JKL111.LIS/CA.NIC/V3\n";
    let (status, body) = api
        .call("POST", &format!("{DOJ}&dry_run=true&show=5"), Some(&feed), Some(second))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({
            "list": "doj-stolen",
            "dry_run": true,
            "preview": {
                "list": "doj-stolen",
                "counts": { "added": 1, "changed": 0, "removed": 1, "unchanged": 1 },
                "added": [{ "entry_id": "V3", "plate": "8JKL111" }],
                "changed": [],
                "removed": [{ "entry_id": "-", "plate": "7XYZ999" }]
            },
            "skipped": []
        })
    );
    assert_eq!(
        api.hotlists.plates.lock().unwrap()["doj-stolen"],
        ["ABC123", "7XYZ999"],
        "nothing written"
    );
    assert_eq!(api.audit.last().unwrap().action, "hotlist_upload_dry_run");
}

/// skip_invalid applies the good rows and lists every bad one; above the
/// configured share of bad rows (1% by default) the file is refused whole.
#[tokio::test]
async fn skip_invalid_applies_the_good_rows_and_refuses_a_mostly_bad_file() {
    let api = Harness::new();
    let feed = api.token("doj.feed").await;
    let mut lines: Vec<String> = (0..100).map(|i| format!("LIC/ABC{i}.LIS/CA.NIC/V{i}")).collect();
    lines[41] = "LIC/BAD#1.NIC/VBAD".into();
    let file = lines.join("\n");
    let (status, body) = api
        .call("POST", &format!("{DOJ}&skip_invalid=true"), Some(&feed), Some(&file))
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["report"]["added"], 99);
    assert_eq!(
        answer["skipped"],
        serde_json::json!([
            "line 42, column plate: plate has a character that cannot be on a plate (U+0023) at position 3"
        ])
    );
    let plates = api.hotlists.plates.lock().unwrap()["doj-stolen"].clone();
    assert_eq!(plates.len(), 99);
    assert!(!plates.contains(&"ABC41".to_string()));
    assert!(api
        .audit
        .last()
        .unwrap()
        .query_terms
        .contains(&"skipped_rows=1".to_string()));
    lines[42] = "LIC/BAD#2.NIC/VBAD2".into();
    let (status, body) = api
        .call(
            "POST",
            &format!("{DOJ}&skip_invalid=true"),
            Some(&feed),
            Some(&lines.join("\n")),
        )
        .await;
    assert_eq!(status, 400, "2 of 100 is above 1%: {body}");
    assert!(body.contains("2 of 100 row(s) are bad"), "{body}");
    assert_eq!(api.hotlists.plates.lock().unwrap()["doj-stolen"].len(), 99, "unchanged");
}
