//! The route table against the policy, and hostile bodies on every JSON
//! route, through the router over in-memory stores.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, Method, Request};

use super::all;
use crate::api::fakes::{Harness, IDENTITIES};

/// What an allowed caller gets from each route with the probe request
/// (`{}` on every POST, no query string).
fn probe_answers() -> HashMap<(&'static str, &'static str), u16> {
    HashMap::from([
        (("POST", "/api/login"), 422),
        (("POST", "/api/logout"), 204),
        (("GET", "/api/session"), 200),
        (("GET", "/board"), 200),
        (("GET", "/board.js"), 200),
        (("GET", "/board-render.js"), 200),
        (("GET", "/board-live.js"), 200),
        (("GET", "/board.css"), 200),
        (("GET", "/favicon.ico"), 204),
        (("GET", "/api/alerts/events"), 200),
        (("POST", "/api/alerts/{id}/{action}"), 404),
        (("GET", "/api/health"), 200),
        (("GET", "/metrics"), 200),
        (("GET", "/api/users"), 200),
        (("POST", "/api/users"), 422),
        (("PUT", "/api/users/{username}"), 415),
        (("DELETE", "/api/users/{username}"), 404),
        (("POST", "/api/grants"), 422),
        (("DELETE", "/api/grants/{id}"), 404),
        (("POST", "/api/search/alerts"), 422),
        (("POST", "/api/search/reads"), 422),
        (("GET", "/api/agencies"), 200),
        (("POST", "/api/agencies"), 422),
        (("POST", "/api/exports"), 422),
        (("POST", "/api/hotlists/{list_id}"), 400),
        (("GET", "/api/hotlists"), 200),
        (("DELETE", "/api/hotlists/{list_id}"), 400),
        (("GET", "/api/lists"), 200),
        (("PUT", "/api/lists/{list_id}"), 415),
        (("DELETE", "/api/lists/{list_id}"), 204),
        (("GET", "/api/sharing"), 200),
        (("GET", "/api/audit/verify"), 200),
        (("GET", "/api/audit/report"), 400),
        (("GET", "/api/openapi.json"), 200),
    ])
}

/// Who is allowed each route (the policy); everyone else gets 401 without
/// a session and 403 with one.
fn allowed(path: &str, who: &str) -> bool {
    let custodian_only = [
        "/api/agencies",
        "/api/sharing",
        "/api/users/{username}",
        "/api/users",
        "/api/grants",
        "/api/grants/{id}",
        "/api/audit/verify",
        "/api/audit/report",
        "/api/lists",
        "/api/lists/{list_id}",
    ];
    match (path, who) {
        (
            "/api/login" | "/board" | "/board.js" | "/board-render.js" | "/board-live.js" | "/board.css"
            | "/favicon.ico",
            _,
        ) => true,
        (_, "none") => false,
        ("/api/logout" | "/api/session" | "/api/openapi.json", _) => true,
        ("/api/alerts/events", w) => ["manager", "deputy", "dispatch"].contains(&w),
        ("/api/alerts/{id}/{action}", w) => ["manager", "dispatch"].contains(&w),
        ("/api/health", w) => ["manager", "ops", "acme"].contains(&w),
        ("/metrics", w) => ["manager", "ops"].contains(&w),
        ("/api/search/alerts" | "/api/search/reads" | "/api/exports", w) => ["manager", "deputy"].contains(&w),
        ("/api/hotlists/{list_id}" | "/api/hotlists", w) => ["manager", "doj.feed"].contains(&w),
        (path, w) if custodian_only.contains(&path) => w == "manager",
        _ => false,
    }
}

/// A concrete path for a route's pattern.
fn concrete(path: &str) -> String {
    path.replace("{id}", "no-such-grant")
        .replace("{username}", "no-such-user")
        .replace("{list_id}", "doj-stolen")
        .replace("{action}", "acknowledge")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_identity_as_the_policy_says() {
    let api = Harness::new();
    let tokens = api.tokens().await;
    let ok = probe_answers();
    let routes = all();
    assert_eq!(routes.len(), ok.len(), "every route has a row in this table");
    let mut refused = 0;
    for route in &routes {
        let key = (route.method.as_str(), route.path);
        let expected_ok = *ok
            .get(&key)
            .unwrap_or_else(|| panic!("route {key:?} has no rule in this test"));
        for who in IDENTITIES {
            if key.1 == "/api/logout" && who != "none" {
                continue; // checked below, so the table keeps its sessions
            }
            let token = tokens.get(who).map(String::as_str);
            let body = (route.method == Method::POST).then_some("{}");
            let (status, text) = if route.path == "/api/alerts/events" {
                // A live stream never ends: only its status is read.
                let request = Harness::request(key.0, &concrete(route.path), token, None);
                (api.respond(request).await.status().as_u16(), String::new())
            } else {
                api.call(key.0, &concrete(route.path), token, body).await
            };
            let expected = match (allowed(route.path, who), who) {
                (true, _) => expected_ok,
                (false, "none") => 401,
                (false, _) => 403,
            };
            refused += usize::from(expected == 403 || expected == 401);
            assert_eq!(status, expected, "{} {} as {who}: {text}", route.method, route.path);
        }
    }
    assert_eq!(
        api.audit.count("access_denied"),
        refused,
        "every refusal is recorded, without a session too"
    );
    for who in &IDENTITIES[1..] {
        let (status, _) = api.call("POST", "/api/logout", Some(&tokens[who]), None).await;
        assert_eq!(status, 204, "logout as {who}");
    }
}

#[tokio::test]
async fn a_path_or_method_without_a_rule_is_refused() {
    let api = Harness::new();
    let manager = api.token("manager").await;
    assert_eq!(api.call("GET", "/api/nothing-here", Some(&manager), None).await.0, 404);
    assert_eq!(
        api.call("PUT", "/api/users", Some(&manager), None).await.0,
        403,
        "deny by default"
    );
}

#[tokio::test]
async fn an_expired_session_must_log_in_again() {
    let api = Harness::new();
    let ops = api.token("ops").await;
    assert_eq!(api.call("GET", "/api/health", Some(&ops), None).await.0, 200);
    api.advance(api.state.config.api.session_ttl);
    let (status, body) = api.call("GET", "/api/health", Some(&ops), None).await;
    assert_eq!(status, 401);
    assert!(body.contains("the session has expired"), "{body}");
    assert_eq!(api.call("GET", "/api/health", Some(&ops), None).await.0, 401);
}

/// The JSON routes, each with a body that passes its extractor's shape.
fn json_routes() -> Vec<&'static str> {
    all()
        .iter()
        .filter(|r| r.method == Method::POST)
        .map(|r| r.path)
        .filter(|p| !p.contains("{list_id}") && *p != "/api/logout") // a file upload, and a route without a body
        .collect()
}

#[tokio::test]
async fn every_json_route_refuses_broken_hostile_and_wrongly_shaped_bodies() {
    let api = Harness::new();
    let manager = api.token("manager").await;
    for path in json_routes() {
        for (body, want) in [
            ("{not json", 400),
            ("\u{0}\u{ffff}", 400),
            ("{\"username\":\"a\u{1}b\",\"password\":\"x\"}", 400),
            (r#"{"username":["nested",{"deep":[[[[1]]]]}]}"#, 422),
            ("[]", 422),
            ("null", 422),
        ] {
            // The decision route (every field optional) refuses the unknown
            // field before reading its value, and reads `[]` as no fields, so
            // then the unknown alert answers.
            let want = match (path, want, body) {
                ("/api/alerts/{id}/{action}", 400, _) if body.contains("username") => 422,
                ("/api/alerts/{id}/{action}", _, "[]") => 404,
                _ => want,
            };
            let (status, text) = api.call("POST", path, Some(&manager), Some(body)).await;
            assert_eq!(status, want, "{path} with {body:.20?}: {text}");
            assert!(text.len() < 300, "{path}: no internals in {text}");
        }
    }
    assert_eq!(api.principals.written_principals().len(), 0, "nothing written");
}

#[tokio::test]
async fn every_json_route_refuses_an_oversized_body_declared_or_not() {
    let api = Harness::new();
    let manager = api.token("manager").await;
    let oversized = format!(r#"{{"x":"{}"}}"#, "a".repeat(3_000_000));
    for path in json_routes() {
        // Declared: refused before any of it is read.
        let (status, text) = api.call("POST", path, Some(&manager), Some(&oversized)).await;
        assert_eq!(status, 413, "{path} declared: {text}");
        assert!(text.contains("larger than the 2097152 bytes"), "{text}");
        // Streamed without a length: cut off at the limit while reading.
        let request = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {manager}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(oversized.clone()))
            .unwrap();
        assert_eq!(api.send(request).await.0, 413, "{path} streamed");
    }
    let huge = format!(
        r#"{{"username":"{}","organisation":"x","role":"officer","password":"p"}}"#,
        "a".repeat(3_000_000)
    );
    assert_eq!(api.call("POST", "/api/users", Some(&manager), Some(&huge)).await.0, 413);
    // Without a session, a declared oversize is refused before the session is looked at.
    assert_eq!(api.call("POST", "/api/users", None, Some(&huge)).await.0, 413);
}

/// Issue 12: every access is on the log, health, metrics and the agency
/// list included, with who read it.
#[tokio::test]
async fn health_metrics_and_the_agency_list_are_audited() {
    let api = Harness::new();
    let ops = api.token("ops").await;
    let manager = api.token("manager").await;
    for (path, token, action, who) in [
        ("/api/health", &ops, "health", "ops"),
        ("/metrics", &ops, "metrics", "ops"),
        ("/api/agencies", &manager, "list_agencies", "manager"),
    ] {
        let before = api.audit.count(action);
        assert_eq!(api.call("GET", path, Some(token), None).await.0, 200, "{path}");
        assert_eq!(api.audit.count(action), before + 1, "{path}");
        assert_eq!(api.audit.last().unwrap().username, who);
    }
}
