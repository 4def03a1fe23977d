//! The HTTPS API against the real broker, driven by a real client (curl)
//! that trusts only the server's certificate: the end-to-end check of what
//! the unit tests in `src/api/` show over in-memory stores. Each test starts
//! its own server on its own topics.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hotlist_matcher::access::audit::AuditRecord;
use hotlist_matcher::api::routes;
use hotlist_matcher::config::Config;

use crate::api_harness::{Api, Client, IDENTITIES, PASSWORD};
use crate::common;

/// Plain HTTP to the TLS port gets no HTTP response at all: no status, no
/// headers, not even an error page (the handshake fails and the connection closes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_port_gets_no_http_response() {
    let api = Api::start("api-plain").await;
    let port = api.running.address.port();
    let plain = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{port}/api/health"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "000", "curl saw no status");
    assert!(!plain.status.success(), "curl reports the failure: {plain:?}");
    let mut stream = std::net::TcpStream::connect(api.running.address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer); // a reset is an answer too
    assert!(
        !answer.windows(5).any(|w| w == b"HTTP/"),
        "an HTTP response came back: {:?}",
        String::from_utf8_lossy(&answer)
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_identity_as_the_policy_says() {
    let api = Api::start("api-table").await;
    let client = &api.client;
    let tokens = api.tokens();

    // What an allowed caller gets from each route with the probe request below.
    let ok: HashMap<(&str, &str), u16> = HashMap::from([
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
        (("DELETE", "/api/lists/{list_id}"), 404),
        (("GET", "/api/sharing"), 200),
        (("GET", "/api/audit/verify"), 200),
        (("GET", "/api/audit/report"), 400),
        (("GET", "/api/openapi.json"), 200),
    ]);
    // Who is allowed each rule (the policy); everyone else gets 401 without
    // a session and 403 with one.
    let allowed = |route: &(&str, &str), who: &str| -> bool {
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
        match (route.1, who) {
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
    };
    let all = routes::all();
    assert_eq!(all.len(), ok.len(), "every route has a row in this table");
    for route in &all {
        let key = (route.method.as_str(), route.path);
        let expected_ok = *ok
            .get(&key)
            .unwrap_or_else(|| panic!("route {key:?} has no rule in this test"));
        let path = route
            .path
            .replace("{id}", "no-such-grant")
            .replace("{username}", "no-such-user")
            .replace("{action}", "acknowledge");
        for who in IDENTITIES {
            if key.1 == "/api/logout" && who != "none" {
                continue; // the sessions are needed for the rest of the table
            }
            let token = tokens.get(who).map(String::as_str);
            let body = (route.method.as_str() == "POST").then_some("{}");
            let (status, text) = if route.path == "/api/alerts/events" {
                (client.stream_status(&path, token), String::new())
            } else {
                client.call(route.method.as_str(), &path, token, body)
            };
            let expected = match (allowed(&key, who), who) {
                (true, _) => expected_ok,
                (false, "none") => 401,
                (false, _) => 403,
            };
            assert_eq!(status, expected, "{} {} as {who}: {text}", route.method, route.path);
        }
    }
    let (_, records) = api.audit_records(&tokens["manager"]);
    let denied = records.iter().filter(|r| r.event.action == "access_denied").count();
    assert!(denied >= 30, "every refusal with a session is recorded");
    api.stop().await;
}

/// Every JSON route refuses broken, hostile and oversized bodies cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_route_refuses_broken_hostile_and_oversized_bodies() {
    let api = Api::start("api-bodies").await;
    let client = &api.client;
    let manager = client.token("manager");
    let manager = &manager;
    let oversized = format!(r#"{{"x":"{}"}}"#, "a".repeat(3_000_000));
    let with_json = |r: &&hotlist_matcher::api::state::Route| {
        [axum::http::Method::POST, axum::http::Method::PUT].contains(&r.method)
    };
    for route in routes::all().iter().filter(with_json) {
        if route.path.starts_with("/api/hotlists/") || route.path == "/api/logout" {
            continue; // a file upload, and a route without a body
        }
        for (body, want) in [
            ("{not json", 400),
            ("\u{0}\u{ffff}", 400),
            (r#"{"username":["nested",{"deep":[[[[1]]]]}]}"#, 422),
            (oversized.as_str(), 413),
        ] {
            let (status, text) = client.call(route.method.as_str(), route.path, Some(manager), Some(body));
            assert_eq!(status, want, "{} with {:.20}: {text}", route.path, body);
        }
    }
    assert_eq!(
        client.call("POST", "/api/users", Some(manager), Some("{not json")).0,
        400
    );
    let huge = format!(
        r#"{{"username":"{}","organisation":"x","role":"officer","password":"p"}}"#,
        "a".repeat(3_000_000)
    );
    assert_eq!(client.call("POST", "/api/users", Some(manager), Some(&huge)).0, 413);
    api.stop().await;
}

/// A grant: issued, then revoked, and the contractor loses access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_ends_the_contractors_access() {
    let api = Api::start("api-grants").await;
    let client = &api.client;
    let manager = client.token("manager");
    let manager = &manager;
    let contractor = client.token("acme.nogrant");
    let grant = format!(
        r#"{{"grantee":"acme.nogrant","document_ref":"CM-2026-120","scope":["health"],"expires_at":"{}"}}"#,
        chrono::DateTime::<chrono::Utc>::from(SystemTime::now() + Duration::from_secs(3600)).to_rfc3339()
    );
    let (status, body) = client.call("POST", "/api/grants", Some(manager), Some(&grant));
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(client.call("GET", "/api/health", Some(&contractor), None).0, 200);
    assert_eq!(
        client
            .call("DELETE", &format!("/api/grants/{id}"), Some(manager), None)
            .0,
        204
    );
    assert_eq!(client.call("GET", "/api/health", Some(&contractor), None).0, 403);
    let (_, records) = api.audit_records(manager);
    let count = |action: &str| records.iter().filter(|r| r.event.action == action).count();
    assert_eq!(count("grant_issued"), 1);
    assert_eq!(count("grant_revoked"), 1);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_and_exports_need_a_purpose_and_are_audited() {
    let api = Api::start("api-search").await;
    let (client, config, tokens) = (&api.client, &api.config, api.tokens());
    seed_alert(config).await;
    let deputy = tokens["deputy"].as_str();
    let (status, body) = client.call(
        "POST",
        "/api/search/alerts",
        Some(deputy),
        Some(r#"{"plate":"7ABC123"}"#),
    );
    assert_eq!(status, 400);
    assert!(body.contains("a purpose is required"), "{body}");
    let search = format!(r#"{{"plate":"7abc 123","purpose":{PURPOSE}}}"#);
    let (status, body) = client.call("POST", "/api/search/alerts", Some(deputy), Some(&search));
    assert_eq!(status, 200, "{body}");
    let alerts: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["entry"]["entry_id"], "e1");
    let (status, body) = client.call("POST", "/api/search/reads", Some(deputy), Some(&search));
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&body).unwrap().len(), 1);

    let manager = tokens["manager"].as_str();
    for agency in [
        r#"{"ori":"CA0330000","name":"Riverside County DA","california_public_agency":true}"#,
        r#"{"ori":"NV0020000","name":"Las Vegas Metro PD","california_public_agency":false}"#,
    ] {
        assert_eq!(client.call("POST", "/api/agencies", Some(manager), Some(agency)).0, 201);
    }
    assert_eq!(
        client
            .call(
                "POST",
                "/api/agencies",
                Some(manager),
                Some(r#"{"ori":"x","name":"Bad","california_public_agency":true}"#)
            )
            .0,
        400
    );
    let export = |ori: &str| format!(r#"{{"agency_ori":"{ori}","plate":"7ABC123","purpose":{PURPOSE}}}"#);
    assert_eq!(
        client
            .call("POST", "/api/exports", Some(deputy), Some(&export("CA9999999")))
            .0,
        403,
        "not registered"
    );
    assert_eq!(
        client
            .call("POST", "/api/exports", Some(deputy), Some(&export("NV0020000")))
            .0,
        403,
        "not a California public agency"
    );
    let (status, body) = client.call("POST", "/api/exports", Some(deputy), Some(&export("CA0330000")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["alerts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, register) = client.call("GET", "/api/sharing", Some(manager), None);
    assert_eq!(status, 200);
    let register: Vec<AuditRecord> = serde_json::from_str(&register).unwrap();
    let actions: Vec<&str> = register.iter().map(|r| r.event.action.as_str()).collect();
    assert_eq!(actions, ["export_refused", "export_refused", "export"]);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sessions_need_the_csrf_token() {
    let api = Api::start("api-csrf").await;
    browser_sessions_need_the_csrf_token_on(&api.client, &api.dir.path().join("cookies"));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agencies_upload_only_their_own_lists() {
    let api = Api::start("api-upload").await;
    let tokens = api.tokens();
    agencies_upload_only_their_own_lists_on(&api.client, &tokens);
    api.stop().await;
}

/// A list nobody refreshed for 25 hours makes health degraded and the metric 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_list_degrades_health_and_sets_the_metric() {
    let api = Api::start("api-stale").await;
    let (client, lists) = (&api.client, &api.lists);
    let ops = client.token("ops");
    let (_, health) = client.call("GET", "/api/health", Some(&ops), None);
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    lists.write().unwrap().insert(
        "ca-doj-stolen".into(),
        hotlist_matcher::kafka::hotlist::ListMeta {
            list_id: "ca-doj-stolen".into(),
            organisation: "CA DOJ".into(),
            refreshed_at: chrono::Utc::now() - chrono::Duration::hours(25),
            entries: 1_000_000,
            covert: false,
        },
    );
    let (_, health) = client.call("GET", "/api/health", Some(&ops), None);
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["stale_lists"][0]["list_id"], "ca-doj-stolen");
    let (_, metrics) = client.call("GET", "/metrics", Some(&ops), None);
    assert!(metrics.contains("hotlist_stale_lists 1"), "{metrics}");
    lists.write().unwrap().clear();
    api.stop().await;
}

/// Sessions end on logout, when the user is disabled, and with time; five
/// failed logins lock the user and the address; all of it is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_and_lockouts_release_and_every_access_is_audited() {
    let api = Api::start("api-sessions").await;
    let client = &api.client;
    let manager = client.token("manager");
    let manager = &manager;

    // The custodian adds a user, who can then log in; secrets never come back.
    let new_user =
        r#"{"username":"deputy.two","organisation":"RSO","role":"officer","password":"another long password"}"#;
    assert_eq!(client.call("POST", "/api/users", Some(manager), Some(new_user)).0, 201);
    assert_eq!(client.login("deputy.two", "another long password").0, 200);
    let (_, users) = client.call("GET", "/api/users", Some(manager), None);
    assert!(users.contains("deputy.two") && !users.contains("argon2"), "{users}");

    // A disabled user's sessions end and the user cannot log in again.
    let doomed = client.token_with("deputy.two", "another long password");
    assert_eq!(
        client.call("DELETE", "/api/users/deputy.two", Some(manager), None).0,
        204
    );
    assert_eq!(client.call("POST", "/api/logout", Some(&doomed), None).0, 401);

    // Logout ends the session.
    let spare = client.token("spare");
    assert_eq!(client.call("POST", "/api/logout", Some(&spare), None).0, 204);
    assert_eq!(client.call("POST", "/api/logout", Some(&spare), None).0, 401);

    // Five failures of one user from one address: the next attempt waits.
    for _ in 0..5 {
        assert_eq!(client.login("deputy", "wrong password!!").0, 401);
    }
    assert_eq!(
        client.login("deputy", PASSWORD).0,
        429,
        "waits even with the right password"
    );
    api.offset.store(16 * 60, Ordering::Relaxed);
    assert_eq!(client.login("deputy", PASSWORD).0, 200, "after the wait");
    // ... by which time the earlier sessions have expired.
    assert_eq!(client.call("GET", "/api/health", Some(manager), None).0, 401);

    // The disabled user cannot log in (checked after the lockout section,
    // whose count of failures from this address it would otherwise join).
    assert_eq!(client.login("deputy.two", "another long password").0, 401);

    // Every one of those accesses is in the chained audit log.
    let manager = client.token("manager");
    let (verify, records) = api.audit_records(&manager);
    assert_eq!(verify["intact"], true, "{verify}");
    let count = |action: &str| records.iter().filter(|r| r.event.action == action).count();
    assert_eq!(count("login_failed"), 6);
    assert_eq!(count("login_delayed"), 1);
    assert_eq!(count("user_added"), 1);
    assert!(records
        .iter()
        .all(|r| !serde_json::to_string(r).unwrap().contains(PASSWORD)));
    api.stop().await;
}

const PURPOSE: &str = r#"{"category":"stolen_vehicle","case_number":"RSO-26-004417","details":"stolen Civic reported 11/26, checking Hwy 111"}"#;

/// One read and its alert on the test's topics.
async fn seed_alert(config: &Config) {
    use hotlist_matcher::hotlist::{load_csv, CsvLimits, LiveMatcher, TolerancePolicy};
    use hotlist_matcher::pipeline::{Outcome, Processor};
    let list = "entry_id,list_id,plate,region,category\ne1,rso,7ABC123,CA,stolen_vehicle\n";
    let matcher = LiveMatcher::new(
        load_csv(list.as_bytes(), CsvLimits::default()).unwrap(),
        TolerancePolicy::default(),
    );
    let read = hotlist_matcher::sample::read_json(uuid::Uuid::new_v4(), "cam-1", &common::at(), "7abc-123", Some("CA"));
    let Outcome::Alerts(alerts) = Processor::new(Arc::new(matcher), 65536).process(&read) else {
        panic!("the read hits");
    };
    common::produce(config, &config.topics.reads, &[read]).await;
    common::produce(config, &config.topics.alerts, &[alerts[0].payload.clone()]).await;
}

/// A browser keeps the session in a Secure, HttpOnly, SameSite=Strict cookie
/// and must echo the CSRF token on every change.
fn browser_sessions_need_the_csrf_token_on(client: &Client, jar: &std::path::Path) {
    let login = serde_json::json!({ "username": "manager", "password": PASSWORD }).to_string();
    let curl = |args: &[&str], body: Option<&str>| {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&client.ca);
        cmd.args(args);
        if let Some(body) = body {
            cmd.args(["-H", "Content-Type: application/json", "-d", body]);
        }
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).to_string()
    };
    let jar_s = jar.to_str().unwrap();
    let out = Command::new("curl")
        .args(["-s", "-c", jar_s, "-D", "-", "--cacert"])
        .arg(&client.ca)
        .args([
            "-H",
            "Content-Type: application/json",
            "-d",
            &login,
            &format!("{}/api/login", client.base),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let set_cookie = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a cookie");
    for attribute in ["hm_session=", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let body = text.rsplit("\r\n\r\n").next().unwrap();
    let csrf = serde_json::from_str::<serde_json::Value>(body).unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = |path: &str| format!("{}{path}", client.base);
    assert_eq!(
        curl(&["-b", jar_s, &url("/api/health")], None),
        "200",
        "reads need only the cookie"
    );
    let agency = r#"{"ori":"CA0330001","name":"Indio PD","california_public_agency":true}"#;
    assert_eq!(
        curl(&["-b", jar_s, &url("/api/agencies")], Some(agency)),
        "403",
        "a change without the CSRF token"
    );
    let wrong = "X-CSRF-Token: 0000";
    assert_eq!(
        curl(&["-b", jar_s, "-H", wrong, &url("/api/agencies")], Some(agency)),
        "403"
    );
    let header = format!("X-CSRF-Token: {csrf}");
    assert_eq!(
        curl(&["-b", jar_s, "-H", &header, &url("/api/agencies")], Some(agency)),
        "201"
    );
}

/// The agency feed replaces its own lists over HTTPS; a bad file changes
/// nothing; another organisation's list is refused.
fn agencies_upload_only_their_own_lists_on(client: &Client, tokens: &HashMap<&str, String>) {
    let feed = tokens["doj.feed"].as_str();
    let url = "/api/hotlists/doj-stolen?format=ncic&reason=nightly%20DOJ%20extract";
    let (status, body) = client.call(
        "POST",
        url,
        Some(feed),
        Some("LIC/ABC123.LIS/CA.NIC/V1\nLIC/BAD#.NIC/V2\n"),
    );
    assert_eq!(status, 400);
    assert!(
        body.contains("nothing uploaded") && body.contains("line 2, column plate"),
        "{body}"
    );
    let (status, body) = client.call("POST", url, Some(feed), Some("LIC/ABC123.LIS/CA.NIC/V1\n"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"added\":1"), "{body}");
    // The custodian may replace it; the same organisation's later uploads too.
    let manager = tokens["manager"].as_str();
    let rso = "/api/hotlists/rso-local?format=jsonl&reason=officer%20entries";
    let line = r#"{"entry_id":"o1","plate":"9TEMP12","category":"officer_entered","expires_at":"2099-01-01T00:00:00Z","description":"seen leaving a burglary"}"#;
    assert_eq!(client.call("POST", rso, Some(manager), Some(line)).0, 200);
    // ...but an agency may not replace a list another organisation owns.
    let (status, body) = client.call("POST", rso, Some(feed), Some(line));
    assert_eq!(status, 403, "{body}");
}
