//! Logging in and out, lockout and browser sessions, through the router over in-memory stores.

use std::time::Duration;

use axum::http::header;

use crate::api::fakes::{Harness, CLIENT, PASSWORD};

/// Five failures for one user from one address: the next attempt must
/// wait (429 with `Retry-After`), even with the right password; the wait
/// doubles with each further failure. Nobody else is slowed.
#[tokio::test]
async fn failed_logins_slow_only_that_user_from_that_address() {
    let api = Harness::new();
    for _ in 0..5 {
        assert_eq!(api.login("deputy", "wrong password!!").await.0, 401);
    }
    let response = api.respond(login_request("deputy", PASSWORD)).await;
    assert_eq!(response.status(), 429, "must wait even with the right password");
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    assert_eq!(
        api.login("ops", PASSWORD).await.0,
        200,
        "another user from that address"
    );
    let elsewhere = api
        .respond_from("10.9.8.7:4000", login_request("deputy", PASSWORD))
        .await;
    assert_eq!(elsewhere.status(), 200, "the same user from another address");
    api.advance(Duration::from_secs(1));
    assert_eq!(api.login("deputy", "wrong password!!").await.0, 401);
    let response = api.respond(login_request("deputy", PASSWORD)).await;
    assert_eq!(response.headers()[header::RETRY_AFTER], "2", "doubled");
    api.advance(Duration::from_secs(2));
    assert_eq!(api.login("deputy", PASSWORD).await.0, 200);
    assert_eq!(api.audit.count("login_failed"), 6);
    assert_eq!(api.audit.count("login_delayed"), 2);
    assert_eq!(api.audit.count("login"), 3);
    let records = api.audit.records();
    assert!(records
        .iter()
        .all(|r| !serde_json::to_string(r).unwrap().contains(PASSWORD)));
    let failed = records.iter().find(|r| r.event.action == "login_failed").unwrap();
    assert_eq!(failed.event.role, None, "not logged in is no role");
    assert_eq!(failed.event.client_addr, CLIENT.split(':').next().unwrap());
}

fn login_request(username: &str, password: &str) -> axum::http::Request<axum::body::Body> {
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    Harness::request("POST", "/api/login", None, Some(&body))
}

#[tokio::test]
async fn unknown_and_disabled_users_get_the_same_answer_as_a_wrong_password() {
    let api = Harness::new();
    let (status, unknown) = api.login("nobody", PASSWORD).await;
    let (_, wrong) = api.login("deputy", "not the password").await;
    assert_eq!((status, &unknown), (401, &wrong));
    let manager = api.token("manager").await;
    assert_eq!(
        api.call("DELETE", "/api/users/spare", Some(&manager), None).await.0,
        204
    );
    assert_eq!(api.login("spare", PASSWORD).await, (401, wrong));
}

#[tokio::test]
async fn logout_ends_the_session() {
    let api = Harness::new();
    let spare = api.token("spare").await;
    assert_eq!(api.call("POST", "/api/logout", Some(&spare), None).await.0, 204);
    assert_eq!(api.call("POST", "/api/logout", Some(&spare), None).await.0, 401);
    assert_eq!(api.audit.count("logout"), 1);
}

/// A browser keeps the session in a Secure, HttpOnly, SameSite=Strict
/// cookie and must echo the CSRF token on every change.
#[tokio::test]
async fn browser_sessions_need_the_csrf_token_on_every_change() {
    let api = Harness::new();
    let login = serde_json::json!({ "username": "manager", "password": PASSWORD }).to_string();
    let request = Harness::request("POST", "/api/login", None, Some(&login));
    let response = api.respond(request).await;
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["hm_session=", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let csrf = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let with_cookie = |method: &str, path: &str, csrf: Option<&str>, body: Option<&str>| {
        let mut request = Harness::request(method, path, None, body);
        request.headers_mut().insert(header::COOKIE, cookie.parse().unwrap());
        if let Some(csrf) = csrf {
            request.headers_mut().insert("x-csrf-token", csrf.parse().unwrap());
        }
        request
    };
    let agency = r#"{"ori":"CA0330001","name":"Indio PD","california_public_agency":true}"#;
    assert_eq!(
        api.send(with_cookie("GET", "/api/health", None, None)).await.0,
        200,
        "reads need only the cookie"
    );
    assert_eq!(
        api.send(with_cookie("POST", "/api/agencies", None, Some(agency)))
            .await
            .0,
        403,
        "a change without the CSRF token"
    );
    assert_eq!(
        api.send(with_cookie("POST", "/api/agencies", Some("0000"), Some(agency)))
            .await
            .0,
        403
    );
    assert_eq!(
        api.send(with_cookie("POST", "/api/agencies", Some(&csrf), Some(agency)))
            .await
            .0,
        201
    );
}

/// A session's `Debug` never shows its token or CSRF token.
#[tokio::test]
async fn the_debug_of_a_session_hides_its_tokens() {
    let api = Harness::new();
    let token = api.token("deputy").await;
    let record = {
        let principals = api.state.principals.read().unwrap();
        let digest = crate::access::sessions::digest(&token);
        principals.logins.session(&digest).unwrap().clone()
    };
    let session = crate::api::state::Session::of(&token, &record);
    for shown in [format!("{session:?}"), format!("{session:#?}")] {
        assert!(
            !shown.contains(&token) && !shown.contains(&session.csrf_token),
            "{shown}"
        );
        assert!(shown.contains("deputy"), "{shown}");
    }
}
