//! The log output of a full run carries no plate, password or token: the
//! demo (the whole pipeline through the composition root, with planted
//! hits, misreads and malformed records) runs with JSON logs at debug
//! level, a custodian logs in, fails a login and searches for a planted
//! plate; then every line of stderr must be one JSON object, and no
//! planted plate, the password or the session token may appear in any.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const PURPOSE: &str = r#"{"category":"stolen_vehicle","case_number":"RSO-26-004417","details":"stolen Civic reported 11/26, checking Hwy 111"}"#;

/// The plates of an `ALERT` line of the demo: the read as the camera sent
/// it (Debug-quoted) and the entry's plate after `->`.
fn alert_plates(line: &str) -> Vec<String> {
    let mut plates = Vec::new();
    if let Some(rest) = line.split(" read \"").nth(1) {
        plates.extend(rest.split('"').next().map(str::to_owned));
    }
    if let Some(rest) = line.split(" -> ").nth(1) {
        plates.extend(rest.split_whitespace().next().map(str::to_owned));
    }
    plates
}

/// A plate specific enough to search for: letters and digits, 5 or more.
fn searchable(plate: &str) -> Option<String> {
    let plain: String = plate.chars().filter(char::is_ascii_alphanumeric).collect();
    let mixed = plain.chars().any(|c| c.is_ascii_digit()) && plain.chars().any(|c| c.is_ascii_alphabetic());
    (plain.len() >= 5 && mixed).then(|| plain.to_ascii_uppercase())
}

#[test]
fn a_full_run_logs_json_without_a_planted_plate() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args(["demo", "--reads", "400", "--serve"])
        .env_remove("HOTLIST_BOOTSTRAP_SERVERS")
        .env("HOTLIST_LOG_FORMAT", "json")
        .env("HOTLIST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut api = crate::common::DemoApi::default();
    let mut plates = std::collections::BTreeSet::new();
    let mut raw = std::collections::BTreeSet::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("ALERT ") {
            let shown = alert_plates(&line);
            plates.extend(shown.iter().filter_map(|p| searchable(p)));
            // As the camera wrote it, unless it could be part of a uuid.
            let uuid_like = |p: &String| p.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f' | '-'));
            raw.extend(shown.into_iter().filter(|p| p.len() >= 5 && !uuid_like(p)));
        }
        api.read(&line);
        if line.starts_with("the API and the dispatch board stay up") {
            break;
        }
    }
    assert!(plates.len() >= 10, "planted hits printed: {plates:?}");
    let crate::common::DemoApi { url, ca, password } = api;
    assert!(!password.is_empty() && !url.is_empty());
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-s", "--cacert", &ca, "-H", "Content-Type: application/json"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let login = |password: &str| {
        let body = format!(r#"{{"username":"demo.manager","password":"{password}"}}"#);
        curl(&["-d", &body, &format!("{url}/api/login")])
    };
    let refused = login("wrong-password-7ABC123");
    assert!(refused.contains("error"), "{refused}");
    let session = login(&password);
    let token = serde_json::from_str::<serde_json::Value>(&session).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let auth = format!("Authorization: Bearer {token}");
    for plate in plates.iter().take(3) {
        let body = format!(r#"{{"plate":"{plate}","purpose":{PURPOSE}}}"#);
        for path in ["/api/search/alerts", "/api/search/reads"] {
            let found = curl(&["-H", &auth, "-d", &body, &format!("{url}{path}")]);
            assert!(found.starts_with('['), "{path}: {found:.300}");
        }
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success(), "the demo stops cleanly");

    let text = std::fs::read_to_string(&log).unwrap();
    let mut count = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        assert!(event["level"].is_string() && event["timestamp"].is_string(), "{line}");
        count += 1;
    }
    assert!(count >= 5, "the run logged: {text:.2000}");
    for plate in plates.iter().chain(&raw) {
        assert!(!text.contains(plate.as_str()), "plate {plate} in the log");
    }
    assert!(!text.contains("7ABC123"), "the failed login's password is not logged");
    assert!(!text.contains(&password), "the password is not logged");
    assert!(!text.contains(&token), "the session token is not logged");
}
