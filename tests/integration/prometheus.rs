//! A real Prometheus (Debian's package, `scripts/prometheus.sh install`)
//! scrapes the service on 127.0.0.1 every second and evaluates the shipped
//! alert rules, made test-sized (every `for:` 0 s, a camera silent after
//! 5 s instead of 15 min); then every expression of the dashboard and of
//! the rules goes through its HTTP API: each parses, names only metrics the
//! service exports (or the day-key metrics of the retention work), the ones
//! that should have data do, and the silent-camera rule fires for the
//! camera whose reads were stopped, not for the one still reading.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hotlist_matcher::sample::{self, Rng};

use crate::common;
use crate::metrics::{scrape, start, tool};

/// The shipped rules and dashboard.
const RULES: &str = include_str!("../../helm/hotlist-matcher/files/alert-rules.yaml");
const DASHBOARD: &str = include_str!("../../helm/hotlist-matcher/files/dashboard.json");

/// Metrics the rules and dashboard may name before this service exports
/// them: the day keys of the encryption-at-rest work.
const PENDING: [&str; 2] = ["hotlist_day_keys_destroyed_total", "hotlist_day_keys"];

/// Metrics with no series in this run: no webhook endpoints, no dispatch
/// decisions, no day keys yet.
const NO_DATA_HERE: [&str; 6] = [
    "hotlist_webhook_",
    "hotlist_misread_rejections_total",
    "hotlist_alert_state_changes_total",
    "hotlist_day_keys",
    "hotlist_dispatch_decisions_total",
    "hotlist_alerts_suppressed_total",
];

/// The rules file with test-sized thresholds.
pub fn test_sized(rules: &str) -> String {
    let silent = "hotlist_camera_last_read_timestamp_seconds{camera!=\"other\"}) > 900";
    assert_eq!(
        rules.matches(silent).count(),
        1,
        "the silent-camera rule as the test expects it"
    );
    let mut out = String::new();
    for line in rules.replace(silent, &silent.replace("> 900", "> 5")).lines() {
        match line.trim_start().strip_prefix("for: ") {
            Some(_) => out.push_str(&format!("{}for: 0s", &line[..line.len() - line.trim_start().len()])),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Every PromQL expression of the dashboard.
pub fn dashboard_exprs(dashboard: &serde_json::Value, into: &mut Vec<String>) {
    match dashboard {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) if !expr.is_empty() => into.push(expr.clone()),
                    _ => dashboard_exprs(value, into),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| dashboard_exprs(v, into)),
        _ => {}
    }
}

/// The `hotlist_…` metric names an expression mentions.
fn names(expr: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("hotlist_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let preceded = start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if !preceded {
            found.insert(expr[start..end].to_owned());
        }
        i = end;
    }
    found
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_prometheus(binary: &Path, dir: &Path, target: std::net::SocketAddr) -> Server {
    std::fs::write(dir.join("rules.yaml"), test_sized(RULES)).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yaml]\n\
         scrape_configs:\n  - job_name: hotlist-matcher\n    static_configs:\n      - targets: [\"{target}\"]\n"
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus started");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn api(server: &Server, path: &str, query: &[(&str, &str)]) -> serde_json::Value {
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}{path}", server.base))
        .query(query)
        .send()
        .await
        .expect("prometheus answers");
    serde_json::from_str(&response.text().await.expect("a body")).expect("json")
}

/// Waits until the server answers `/-/ready` (it replays nothing: a fresh dir).
async fn wait_ready(server: &Server, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = reqwest::get(format!("{}/-/ready", server.base)).await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus not ready: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Instant query: `(parsed, has data)`, or the error text.
async fn query(server: &Server, expr: &str) -> Result<bool, String> {
    let answer = api(server, "/api/v1/query", &[("query", expr)]).await;
    match answer["status"].as_str() {
        Some("success") => Ok(match &answer["data"]["result"] {
            serde_json::Value::Array(items) => !items.is_empty(),
            _ => true, // a scalar
        }),
        _ => Err(answer["error"].to_string()),
    }
}

fn reads(rng: &mut Rng, camera: &str, n: usize) -> Vec<Vec<u8>> {
    let now = chrono::Utc::now().to_rfc3339();
    (0..n)
        .map(|_| sample::read_json(rng.uuid(), camera, &now, sample::random_plate(rng).as_str(), Some("CA")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_evaluates_every_expression_and_the_silent_camera_rule_fires() {
    let (Some(prometheus), Some(promtool)) = (tool("prometheus"), tool("promtool")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules-check.yaml"), test_sized(RULES)).unwrap();
    let checked = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(dir.path().join("rules-check.yaml"))
        .output()
        .unwrap();
    assert!(checked.status.success(), "{checked:?}");

    let mut rng = Rng::new(2626);
    let service = start("prom", &mut rng).await;
    let config = service.config.clone();
    // Both cameras read, with a hit, then only cam-a goes on reading.
    let mut first = reads(&mut rng, "cam-a", 50);
    first.extend(reads(&mut rng, "cam-b", 50));
    let entry = &service.stolen[0];
    let region = entry.region.map(|r| r.to_string());
    let hit = sample::read_json(
        rng.uuid(),
        "cam-b",
        &chrono::Utc::now().to_rfc3339(),
        &entry.plate.to_string(),
        region.as_deref(),
    );
    first.push(hit);
    first.push(b"not json".to_vec());
    common::produce(&config, &config.topics.reads, &first).await;
    let feeding = {
        let config = config.clone();
        let stop = service.shutdown.clone();
        tokio::spawn(async move {
            let mut rng = Rng::new(7);
            while !stop.is_cancelled() {
                common::produce(&config, &config.topics.reads, &reads(&mut rng, "cam-a", 5)).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let server = start_prometheus(&prometheus, dir.path(), service.running.admin_address);
    wait_ready(&server, &dir.path().join("prometheus.log")).await;

    // Data: a few scrapes of a service that has matched the first reads.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let enough = query(&server, "count_over_time(hotlist_reads_total[1m]) >= 5").await == Ok(true)
            && query(&server, "hotlist_alerts_total > 0").await == Ok(true)
            && query(&server, "hotlist_consumer_lag").await == Ok(true);
        if enough {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no data in Prometheus: {}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // What the service exports.
    let mut exported: BTreeSet<String> = scrape(&service.running)
        .await
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next().map(str::to_owned))
        .collect();
    // Families with no series yet (no dispatch decision, no webhook) too.
    exported.extend(service.running.metrics.families());
    // Every expression: the dashboard's and the rules' (as Prometheus loaded them).
    let mut exprs = Vec::new();
    dashboard_exprs(&serde_json::from_str(DASHBOARD).unwrap(), &mut exprs);
    let dashboard_count = exprs.len();
    assert!(dashboard_count >= 15, "{dashboard_count} panel queries");
    let rules = api(&server, "/api/v1/rules", &[]).await;
    let mut rule_names = Vec::new();
    for group in rules["data"]["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            rule_names.push(rule["name"].as_str().unwrap().to_owned());
            exprs.push(rule["query"].as_str().unwrap().to_owned());
        }
    }
    assert!(rule_names.len() >= 9, "{rule_names:?}");
    for (i, expr) in exprs.iter().enumerate() {
        for name in names(expr) {
            assert!(
                exported.contains(&name) || PENDING.contains(&name.as_str()),
                "`{expr}` names {name}, which the service does not export"
            );
        }
        let has_data = query(&server, expr).await.unwrap_or_else(|e| panic!("`{expr}`: {e}"));
        let expect_data = i < dashboard_count && !NO_DATA_HERE.iter().any(|n| expr.contains(n));
        assert!(has_data || !expect_data, "the dashboard's `{expr}` has no data");
    }
    // Every rule evaluated without error.
    let rules = api(&server, "/api/v1/rules", &[]).await;
    for group in rules["data"]["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            assert_eq!(rule["health"], "ok", "{rule}");
        }
    }

    // cam-b stopped reading: after 5 s (test-sized) its alert fires; cam-a's does not.
    let deadline = Instant::now() + Duration::from_secs(60);
    let firing = loop {
        let alerts = api(&server, "/api/v1/alerts", &[]).await;
        let silent: Vec<(String, String)> = alerts["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["labels"]["alertname"] == "HotlistCameraSilent")
            .map(|a| {
                (
                    a["labels"]["camera"].as_str().unwrap_or_default().to_owned(),
                    a["state"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        if silent.iter().any(|(c, s)| c == "cam-b" && s == "firing") || Instant::now() > deadline {
            break silent;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(firing, vec![("cam-b".to_owned(), "firing".to_owned())]);
    service.shutdown.cancel();
    feeding.await.unwrap();
    service.running.wait().await.unwrap();
}
