//! The policy's prerequisites of users (sworn status, current ALPR
//! training, account expiry), through the router over in-memory stores.

use std::time::Duration;

use crate::access::auth::Role;
use crate::access::principals::User;
use crate::api::fakes::{Harness, PASSWORD, PURPOSE};

const DAY: Duration = Duration::from_secs(86_400);

/// The three routes that need a sworn officer with current training.
fn searches() -> [(&'static str, String); 3] {
    let search = format!(r#"{{"plate":"7ABC123","purpose":{PURPOSE}}}"#);
    let export = format!(r#"{{"agency_ori":"CA0330000","plate":"7ABC123","purpose":{PURPOSE}}}"#);
    [
        ("/api/search/alerts", search.clone()),
        ("/api/search/reads", search),
        ("/api/exports", export),
    ]
}

/// Adds officer `name` over the API with the fields of `prerequisites`
/// (a JSON fragment), as the custodian.
async fn add_officer(api: &Harness, name: &str, prerequisites: &str) {
    let manager = api.token("manager").await;
    let body = format!(
        r#"{{"username":"{name}","organisation":"Test Org","role":"officer","password":"{PASSWORD}"{prerequisites}}}"#
    );
    let (status, text) = api.call("POST", "/api/users", Some(&manager), Some(&body)).await;
    assert_eq!(status, 201, "{text}");
}

fn error_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body).unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Asserts that `token` is refused every search and export with 403 and
/// `message`, each refusal audited as access_denied with the route and why.
async fn refused_every_search(api: &Harness, username: &str, token: &str, message: &str) {
    for (path, body) in searches() {
        let (status, text) = api.call("POST", path, Some(token), Some(&body)).await;
        assert_eq!((status, error_of(&text).as_str()), (403, message), "{path}");
        let denied = api.audit.last().unwrap();
        assert_eq!(
            (denied.action.as_str(), denied.username.as_str()),
            ("access_denied", username)
        );
        assert_eq!(denied.query_terms, [format!("POST {path}"), message.to_owned()]);
    }
}

#[tokio::test]
async fn officers_are_added_with_their_prerequisites_and_a_trained_sworn_one_may_search() {
    let api = Harness::new();
    add_officer(
        &api,
        "deputy.two",
        r#","sworn":true,"trained_on":"2026-11-02","expires_on":"2027-12-31""#,
    )
    .await;
    let added = api.audit.last().unwrap();
    assert_eq!(
        added.query_terms,
        [
            "username=deputy.two",
            "role=Officer",
            "sworn=true",
            "trained_on=2026-11-02",
            "expires_on=2027-12-31"
        ]
    );
    let manager = api.token("manager").await;
    let (_, users) = api.call("GET", "/api/users", Some(&manager), None).await;
    let users: Vec<serde_json::Value> = serde_json::from_str(&users).unwrap();
    let two = users.iter().find(|u| u["username"] == "deputy.two").unwrap();
    assert_eq!(
        *two,
        serde_json::json!({
            "username": "deputy.two", "organisation": "Test Org", "role": "officer", "disabled": false,
            "sworn": true, "trained_on": "2026-11-02", "expires_on": "2027-12-31"
        })
    );
    let token = api.token("deputy.two").await;
    let (path, body) = &searches()[0];
    assert_eq!(api.call("POST", path, Some(&token), Some(body)).await.0, 200);
    // A training date in the future is refused.
    let future = format!(
        r#"{{"username":"deputy.three","organisation":"Test Org","role":"officer","password":"{PASSWORD}","sworn":true,"trained_on":"2027-01-16"}}"#
    );
    let (status, text) = api.call("POST", "/api/users", Some(&manager), Some(&future)).await;
    assert_eq!(
        (status, error_of(&text).as_str()),
        (400, "the training date 2027-01-16 is in the future")
    );
}

#[tokio::test]
async fn an_officer_not_sworn_or_without_training_cannot_search_or_export() {
    let api = Harness::new();
    add_officer(&api, "deputy.unsworn", r#","trained_on":"2026-11-02""#).await;
    add_officer(&api, "deputy.untrained", r#","sworn":true"#).await;
    let unsworn = api.token("deputy.unsworn").await;
    refused_every_search(
        &api,
        "deputy.unsworn",
        &unsworn,
        "only a sworn officer may search or export ALPR data, and this account is not marked sworn",
    )
    .await;
    let untrained = api.token("deputy.untrained").await;
    refused_every_search(
        &api,
        "deputy.untrained",
        &untrained,
        "no ALPR training is on record for this officer; training is required before searching or exporting",
    )
    .await;
    assert_eq!(api.audit.count("search_alerts"), 0, "nothing was searched");
    // The live board needs no training: only searches and exports do.
    assert_eq!(api.call("GET", "/api/session", Some(&untrained), None).await.0, 200);
}

/// The seeded officers were trained on 2026-07-01; training stays current
/// for `access.training_valid_days` (730) days, to 2028-06-29.
#[tokio::test]
async fn training_lapses_after_the_configured_days() {
    let api = Harness::new();
    api.advance(531 * DAY); // 2028-06-29
    let deputy = api.token("deputy").await;
    let (path, body) = &searches()[1];
    assert_eq!(api.call("POST", path, Some(&deputy), Some(body)).await.0, 200);
    api.advance(DAY); // 2028-06-30
    let deputy = api.token("deputy").await;
    refused_every_search(
        &api,
        "deputy",
        &deputy,
        "the ALPR training of 2026-07-01 lapsed on 2028-06-30; renew it before searching or exporting",
    )
    .await;
}

#[tokio::test]
async fn an_expired_account_cannot_log_in_or_use_its_session() {
    let api = Harness::new();
    let spare = api.token("spare").await;
    // Another instance records that the account ended yesterday.
    let expired = api.state.principals.read().unwrap().user("spare").cloned().unwrap();
    let yesterday = "2027-01-14".parse().unwrap();
    let expired = User {
        expires_on: Some(yesterday),
        ..expired
    };
    assert_eq!(expired.role, Role::Officer);
    let (key, value) = expired.record();
    api.state.principals.write().unwrap().apply(&key, Some(&value)).unwrap();
    let message = "the account expired on 2027-01-14; the custodian must extend it";
    let (status, text) = api.call("GET", "/api/session", Some(&spare), None).await;
    assert_eq!((status, error_of(&text).as_str()), (403, message));
    let denied = api.audit.last().unwrap();
    assert_eq!(
        (denied.action.as_str(), denied.username.as_str()),
        ("access_denied", "spare")
    );
    assert_eq!(denied.query_terms, ["GET /api/session", message]);
    assert_eq!(
        api.call("GET", "/api/session", Some(&spare), None).await.0,
        401,
        "the session has ended"
    );
    let (status, text) = api.login("spare", PASSWORD).await;
    assert_eq!((status, error_of(&text).as_str()), (403, message));
    let denied = api.audit.last().unwrap();
    assert_eq!(
        (denied.action.as_str(), denied.role, denied.query_terms.clone()),
        (
            "access_denied",
            Some(Role::Officer),
            vec!["POST /api/login".to_string(), message.to_string()]
        )
    );
    // The custodian extends the account (its last day is inclusive).
    let extended = User {
        expires_on: Some("2027-01-15".parse().unwrap()),
        ..expired
    };
    let (key, value) = extended.record();
    api.state.principals.write().unwrap().apply(&key, Some(&value)).unwrap();
    assert_eq!(api.login("spare", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn a_change_keeps_the_prerequisites_it_does_not_name() {
    let api = Harness::new();
    add_officer(
        &api,
        "deputy.two",
        r#","sworn":true,"trained_on":"2026-11-02","expires_on":"2027-12-31""#,
    )
    .await;
    let manager = api.token("manager").await;
    let prerequisites = |api: &Harness| {
        let principals = api.state.principals.read().unwrap();
        let user = principals.user("deputy.two").unwrap();
        (
            user.sworn,
            user.trained_on.map(|d| d.to_string()),
            user.expires_on.map(|d| d.to_string()),
        )
    };
    let change = format!(r#"{{"organisation":"RSO","role":"officer","password":"{PASSWORD}"}}"#);
    let path = "/api/users/deputy.two";
    assert_eq!(api.call("PUT", path, Some(&manager), Some(&change)).await.0, 204);
    assert_eq!(
        prerequisites(&api),
        (true, Some("2026-11-02".to_string()), Some("2027-12-31".to_string()))
    );
    let change = format!(
        r#"{{"organisation":"RSO","role":"officer","password":"{PASSWORD}","sworn":false,"trained_on":"2027-01-10"}}"#
    );
    assert_eq!(api.call("PUT", path, Some(&manager), Some(&change)).await.0, 204);
    assert_eq!(
        prerequisites(&api),
        (false, Some("2027-01-10".to_string()), Some("2027-12-31".to_string()))
    );
    let changed = api.audit.last().unwrap();
    assert_eq!(
        changed.query_terms[4..],
        ["sworn=false", "trained_on=2027-01-10", "expires_on=2027-12-31"]
    );
}
