//! The board's routes through the router over in-memory stores: the page,
//! the live feed, and decisions with their audit records and conflicts.

use axum::http::header;
use futures_util::StreamExt;

use crate::alert::incident::tests::alert;
use crate::alert::lifecycle::AlertState;
use crate::alert::Alert;
use crate::api::fakes::Harness;

fn when(minute: u32) -> chrono::DateTime<chrono::FixedOffset> {
    format!("2026-11-28T03:{minute:02}:00-08:00").parse().unwrap()
}

/// A harness whose board holds one alert, and that alert.
fn with_alert() -> (Harness, Alert) {
    let api = Harness::new();
    let hit = alert(1, "e1", "cam-7", when(0));
    api.board.add_alerts(&[(0, 0, &hit.encode())]);
    (api, hit)
}

async fn decide(api: &Harness, token: &str, id: &uuid::Uuid, action: &str, body: &str) -> (u16, String) {
    api.call("POST", &format!("/api/alerts/{id}/{action}"), Some(token), Some(body))
        .await
}

#[tokio::test]
async fn the_page_is_public_holds_no_data_and_loads_nothing_else() {
    let api = Harness::new();
    let response = api.respond(Harness::request("GET", "/board", None, None)).await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    let (status, page) = api.call("GET", "/board", None, None).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Verify before acting"),
        "the banner is in the page itself"
    );
    assert!(page.contains("board.js"));
    assert_eq!(api.call("GET", "/board.js", None, None).await.0, 200);
}

#[tokio::test]
async fn the_live_feed_starts_with_a_snapshot_of_what_the_user_may_see() {
    let (api, hit) = with_alert();
    let token = api.token("dispatch").await;
    let response = api
        .respond(Harness::request("GET", "/api/alerts/events", Some(&token), None))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = response.into_body().into_data_stream();
    let first = body.next().await.unwrap().unwrap();
    let text = String::from_utf8(first.to_vec()).unwrap();
    assert!(text.starts_with("event: snapshot\ndata: "), "{text}");
    let data: serde_json::Value =
        serde_json::from_str(text.lines().nth(1).unwrap().strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(data["incidents"][0]["id"], hit.alert_id.to_string());
    assert_eq!(data["incidents"][0]["match_words"], "OCR look-alike: 2 read as Z");
    assert_eq!(data["time_zone"], "America/Los_Angeles");
    assert_eq!(api.audit.count("board_opened"), 1);
    // A new alert arrives as an incident event.
    let next = alert(2, "e2", "cam-8", when(1));
    api.board.add_alerts(&[(1, 0, &next.encode())]);
    let text = String::from_utf8(body.next().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(text.starts_with("event: incident\n"), "{text}");
    assert!(text.contains(&next.alert_id.to_string()));
}

#[tokio::test]
async fn a_dispatcher_verifies_then_rejects_as_misread_and_it_is_counted_and_audited() {
    let (api, hit) = with_alert();
    let token = api.token("dispatch").await;
    let id = hit.alert_id;
    let (status, body) = decide(&api, &token, &id, "acknowledge", "{}").await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["incident"]["state"], "acknowledged");
    assert_eq!(json["incident"]["history"][0]["by"], "dispatch");
    // A second acknowledgement loses and says who was first.
    let (status, body) = decide(&api, &token, &id, "acknowledge", "{}").await;
    assert_eq!(status, 409);
    assert_eq!(
        body,
        r#"{"error":"cannot acknowledge: the alert is acknowledged by dispatch"}"#
    );
    assert_eq!(
        decide(&api, &token, &id, "reject", "{}").await,
        (400, r#"{"error":"a rejection needs a reason"}"#.into())
    );
    assert_eq!(
        decide(&api, &token, &id, "reject", r#"{"reason":"other","text":" "}"#).await,
        (
            400,
            r#"{"error":"a rejection as other needs a text saying why"}"#.into()
        )
    );
    assert_eq!(
        decide(&api, &token, &id, "reject", r#"{"reason":"guess"}"#).await.0,
        422
    );
    let (status, body) = decide(&api, &token, &id, "reject", r#"{"reason":"misread","text":""}"#).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""reason":"misread""#), "{body}");
    let metrics = api.state.metrics.render();
    assert!(
        metrics.contains(r#"hotlist_misread_rejections_total{camera="cam-7",confusion="ocr_lookalike",match_kind="ocr_equivalent"} 1"#),
        "{metrics}"
    );
    assert_eq!(api.audit.count("alert_acknowledge"), 1, "the one applied");
    assert_eq!(api.audit.count("alert_reject"), 1, "the applied one");
    let records = api.audit.records();
    let reject = &records
        .iter()
        .rfind(|r| r.event.action == "alert_reject")
        .unwrap()
        .event;
    assert_eq!(reject.username, "dispatch");
    assert_eq!(
        reject.query_terms,
        [format!("alert={id}"), "reason=misread".into(), "outcome=applied".into()]
    );
    // Refused before writing: the second acknowledgement, two bad rejections.
    assert_eq!(api.audit.count("alert_decision"), 3);
    assert_eq!(decide(&api, &token, &id, "close", "{}").await.0, 200);
}

#[tokio::test]
async fn decisions_need_the_right_role_a_known_alert_and_the_csrf_token() {
    let (api, hit) = with_alert();
    let officer = api.token("deputy").await;
    assert_eq!(decide(&api, &officer, &hit.alert_id, "acknowledge", "{}").await.0, 403);
    let dispatch = api.token("dispatch").await;
    let unknown = uuid::Uuid::from_u128(99);
    assert_eq!(decide(&api, &dispatch, &unknown, "acknowledge", "{}").await.0, 404);
    assert_eq!(decide(&api, &dispatch, &hit.alert_id, "shred", "{}").await.0, 404);
    assert_eq!(
        api.call(
            "POST",
            "/api/alerts/not-a-uuid/acknowledge",
            Some(&dispatch),
            Some("{}")
        )
        .await
        .0,
        404
    );
    // A browser session (the cookie) must echo its CSRF token.
    let request = axum::http::Request::builder()
        .method("POST")
        .uri(format!("/api/alerts/{}/acknowledge", hit.alert_id))
        .header(header::COOKIE, format!("hm_session={dispatch}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from("{}"))
        .unwrap();
    assert_eq!(api.send(request).await.0, 403);
    let refused = api.audit.last().unwrap();
    assert_eq!(
        (refused.action.as_str(), refused.username.as_str()),
        ("access_denied", "dispatch")
    );
    assert!(refused.query_terms.contains(&"csrf token missing or wrong".to_string()));
    let (status, whoami) = api.call("GET", "/api/session", Some(&dispatch), None).await;
    assert_eq!(status, 200);
    let csrf = serde_json::from_str::<serde_json::Value>(&whoami).unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let request = axum::http::Request::builder()
        .method("POST")
        .uri(format!("/api/alerts/{}/acknowledge", hit.alert_id))
        .header(header::COOKIE, format!("hm_session={dispatch}"))
        .header("x-csrf-token", csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from("{}"))
        .unwrap();
    assert_eq!(api.send(request).await.0, 200);
}

#[tokio::test]
async fn a_covert_hit_is_invisible_and_untouchable_for_other_organisations() {
    let (api, hit) = with_alert();
    crate::dispatch::board::tests::covert_rso(&api.state.lists, "RSO Narcotics");
    let dispatch = api.token("dispatch").await; // of "Test Org"
    assert_eq!(decide(&api, &dispatch, &hit.alert_id, "acknowledge", "{}").await.0, 404);
    assert!(api.state.board.open("Test Org").is_empty());
    assert_eq!(api.state.board.open("RSO Narcotics").len(), 1);
    let refused = api.audit.last().unwrap();
    assert_eq!(refused.action, "alert_decision", "a refused attempt is audited too");
    assert!(refused.query_terms.contains(&"outcome=refused".to_string()));
}

#[tokio::test]
async fn a_vehicle_seen_again_after_its_alert_was_closed_is_new_again_and_can_be_reopened() {
    // Read just before the harness's clock, which the decisions are stamped with.
    let api = Harness::new();
    let hit = alert(1, "e1", "cam-7", "2027-01-14T23:58:00-08:00".parse().unwrap());
    api.board.add_alerts(&[(0, 0, &hit.encode())]);
    let token = api.token("dispatch").await;
    let id = hit.alert_id;
    assert_eq!(decide(&api, &token, &id, "acknowledge", "{}").await.0, 200);
    assert_eq!(decide(&api, &token, &id, "confirm", "{}").await.0, 200);
    assert_eq!(decide(&api, &token, &id, "close", "{}").await.0, 200);
    assert!(api.board.open("Test Org").is_empty(), "closed: off the board");
    assert_eq!(
        decide(&api, &token, &id, "acknowledge", "{}").await.0,
        409,
        "nothing to reopen yet"
    );
    // The same car, another camera, after the close and within the window.
    let again = alert(2, "e1", "cam-9", "2027-01-15T00:02:00-08:00".parse().unwrap());
    api.board.add_alerts(&[(0, 1, &again.encode())]);
    let open = api.board.open("Test Org");
    assert_eq!(
        (open.len(), open[0].state, open[0].reopened),
        (1, AlertState::New, true)
    );
    let (status, body) = decide(&api, &token, &id, "acknowledge", "{}").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#""state":"acknowledged""#) && body.contains(r#""reopened":false"#),
        "{body}"
    );
}
