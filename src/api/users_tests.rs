//! Users and grants, through the router over in-memory stores.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::api::fakes::{start_time, Harness};

const NEW_USER: &str =
    r#"{"username":"deputy.two","organisation":"RSO","role":"officer","password":"another long password"}"#;

#[tokio::test]
async fn the_custodian_adds_a_user_who_can_log_in_and_secrets_never_come_back() {
    let api = Harness::new();
    let manager = api.token("manager").await;
    assert_eq!(
        api.call("POST", "/api/users", Some(&manager), Some(NEW_USER)).await.0,
        201
    );
    assert_eq!(api.login("deputy.two", "another long password").await.0, 200);
    let (_, users) = api.call("GET", "/api/users", Some(&manager), None).await;
    assert!(users.contains("deputy.two") && !users.contains("argon2"), "{users}");
    let written = api.principals.written_principals();
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].0, "user:deputy.two");
    let stored = String::from_utf8(written[0].1.clone().unwrap()).unwrap();
    assert!(stored.contains("$argon2id$") && !stored.contains("another long password"));
    let weak = NEW_USER.replace("another long password", "short");
    let (status, body) = api.call("POST", "/api/users", Some(&manager), Some(&weak)).await;
    assert_eq!(status, 409, "an existing name is never overwritten: {body}");
    let weak = weak.replace("deputy.two", "deputy.three");
    let (status, body) = api.call("POST", "/api/users", Some(&manager), Some(&weak)).await;
    assert_eq!(status, 400);
    assert!(body.contains("12 to 256 characters"), "{body}");
    assert_eq!(api.audit.count("user_added"), 1);
    assert_eq!(api.audit.count("list_users"), 1);
}

#[tokio::test]
async fn a_disabled_user_loses_every_session_and_cannot_log_in() {
    let api = Harness::new();
    let manager = api.token("manager").await;
    assert_eq!(
        api.call("POST", "/api/users", Some(&manager), Some(NEW_USER)).await.0,
        201
    );
    let doomed = api.token_with("deputy.two", "another long password").await;
    assert_eq!(
        api.call("DELETE", "/api/users/deputy.two", Some(&manager), None)
            .await
            .0,
        204
    );
    assert_eq!(api.call("POST", "/api/logout", Some(&doomed), None).await.0, 401);
    assert_eq!(api.login("deputy.two", "another long password").await.0, 401);
    let user = api
        .state
        .principals
        .read()
        .unwrap()
        .user("deputy.two")
        .cloned()
        .unwrap();
    assert!(user.disabled, "kept for the audit trail");
    assert_eq!(api.audit.count("user_disabled"), 1);
}

#[tokio::test]
async fn a_grant_is_issued_and_revoked_and_the_contractor_loses_access() {
    let api = Harness::new();
    let manager = api.token("manager").await;
    let contractor = api.token("acme.nogrant").await;
    assert_eq!(api.call("GET", "/api/health", Some(&contractor), None).await.0, 403);
    let expires = chrono::DateTime::<chrono::Utc>::from(start_time() + Duration::from_secs(3600));
    let grant = format!(
        r#"{{"grantee":"acme.nogrant","document_ref":"CM-2026-120","scope":["health"],"expires_at":"{}"}}"#,
        expires.to_rfc3339()
    );
    let (status, body) = api.call("POST", "/api/grants", Some(&manager), Some(&grant)).await;
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.call("GET", "/api/health", Some(&contractor), None).await.0, 200);
    let revoke = format!("/api/grants/{id}");
    assert_eq!(api.call("DELETE", &revoke, Some(&manager), None).await.0, 204);
    assert_eq!(api.call("GET", "/api/health", Some(&contractor), None).await.0, 403);
    assert_eq!(api.audit.count("grant_issued"), 1);
    assert_eq!(api.audit.count("grant_revoked"), 1);

    let past = grant.replace(
        &expires.to_rfc3339(),
        &chrono::DateTime::<chrono::Utc>::from(start_time()).to_rfc3339(),
    );
    let (status, body) = api.call("POST", "/api/grants", Some(&manager), Some(&past)).await;
    assert_eq!((status, body.contains("expire in the future")), (400, true), "{body}");
    let unsigned = grant.replace("CM-2026-120", " ");
    assert_eq!(
        api.call("POST", "/api/grants", Some(&manager), Some(&unsigned)).await.0,
        400
    );
}

#[tokio::test]
async fn a_store_that_is_down_answers_503_without_its_internals() {
    let api = Harness::new();
    let manager = api.token("manager").await;
    api.principals.down.store(true, Ordering::Relaxed);
    let (status, body) = api.call("POST", "/api/users", Some(&manager), Some(NEW_USER)).await;
    assert_eq!(status, 503);
    assert_eq!(body, r#"{"error":"storage is unavailable; try again"}"#);
    assert!(
        api.state.principals.read().unwrap().user("deputy.two").is_none(),
        "not applied"
    );
    assert_eq!(api.audit.count("user_added"), 0);
}
