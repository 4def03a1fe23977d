//! The admin port's exposition after a real run against the broker: reads
//! with planted hits and bad records go through the service, the scrape
//! passes `promtool check metrics`, and every series the run should move
//! moved by exactly what was sent. Also the helpers the Prometheus test
//! shares: a service with a list on the hotlist topic, scraping, and
//! finding the Prometheus tools.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hotlist_matcher::app::Running;
use hotlist_matcher::config::Config;
use hotlist_matcher::hotlist::HotlistEntry;
use hotlist_matcher::kafka::hotlist as kafka_hotlist;
use hotlist_matcher::sample::{self, Rng};
use tokio_util::sync::CancellationToken;

use crate::common;

/// A service on its own topics: `it-file` (5 entries) from the file,
/// `it-stolen` (200 entries) uploaded to the hotlist topic before it starts.
pub struct Service {
    pub config: Config,
    pub running: Running,
    pub shutdown: CancellationToken,
    pub stolen: Vec<Arc<HotlistEntry>>,
    /// Holds the hotlist file while the service runs.
    pub _dir: tempfile::TempDir,
}

pub async fn start(prefix: &str, rng: &mut Rng) -> Service {
    let dir = tempfile::tempdir().unwrap();
    let hotlist = dir.path().join("h.csv");
    common::write_hotlist(&hotlist, &sample::hotlist(rng, 5, "it-file"));
    let config = common::config(&common::unique(prefix), &hotlist, 100);
    common::create_topics(&config).await;
    let stolen = sample::hotlist(rng, 200, "it-stolen");
    kafka_hotlist::upload(&config, "it-stolen", &stolen, "RSO", false)
        .await
        .expect("list uploaded");
    let shutdown = CancellationToken::new();
    let running = hotlist_matcher::app::run(config.clone(), shutdown.clone())
        .await
        .expect("service started");
    Service {
        config,
        running,
        shutdown,
        stolen,
        _dir: dir,
    }
}

/// The admin port's `/metrics`.
pub async fn scrape(running: &Running) -> String {
    let url = format!("http://{}/metrics", running.admin_address);
    let response = reqwest::get(&url).await.expect("scraped");
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Every sample of the exposition: series (name and labels as written) to value.
pub fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The sum of every sample of metric `name` (any labels).
pub fn total(samples: &BTreeMap<String, f64>, name: &str) -> f64 {
    samples
        .iter()
        .filter(|(s, _)| s.as_str() == name || s.starts_with(&format!("{name}{{")))
        .map(|(_, v)| v)
        .sum()
}

/// `promtool` or `prometheus` from PATH (`scripts/prometheus.sh install`
/// puts them there). Without them, a run with no broker named skips (as
/// the other integration tests behave off `scripts/test.sh`); a run of the
/// test script fails.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("HOTLIST_TEST_BOOTSTRAP").is_none(),
            "{name} is not on PATH: run scripts/prometheus.sh install (scripts/test.sh does)"
        );
        eprintln!("SKIPPED: {name} is not on PATH and HOTLIST_TEST_BOOTSTRAP is unset (scripts/prometheus.sh install)");
    }
    found
}

/// `promtool check metrics` on `text`: its output, or the failure.
pub fn promtool_check_metrics(promtool: &PathBuf, text: &str) -> String {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool check metrics failed:\n{said}\n{text}");
    said
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_scrape_passes_promtool_and_every_series_moved() {
    let Some(promtool) = tool("promtool") else { return };
    let mut rng = Rng::new(1414);
    let service = start("metrics", &mut rng).await;
    let (config, running) = (&service.config, &service.running);
    let stream = common::stream(&mut rng, &service.stolen, running.matcher.as_ref(), 500, 10);
    let malformed = sample::malformed_records(&mut rng, config.pipeline.max_record_bytes);
    let mut records = stream.records;
    records.extend(malformed.iter().map(|(r, _)| r.clone()));
    common::produce(config, &config.topics.reads, &records).await;
    let total_reads = records.len() as u64;
    assert!(
        common::wait_for(Duration::from_secs(90), || running.metrics.reads.get() == total_reads).await,
        "read {} of {total_reads}",
        running.metrics.reads.get()
    );
    // Consumer lag comes from librdkafka's statistics every 2 s: wait until
    // each of the 3 partitions reports it has caught up.
    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(running).await;
        let s = samples(&text);
        let caught_up = (0..3).all(|p| s.get(&format!("hotlist_consumer_lag{{partition=\"{p}\"}}")) == Some(&0.0));
        if caught_up && total(&s, "hotlist_read_to_alert_seconds_count") == 10.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let said = promtool_check_metrics(&promtool, &text);
    assert_eq!(said.trim(), "", "promtool has nothing to say");
    let s = samples(&text);
    let at = |series: &str| *s.get(series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(at("hotlist_reads_total"), total_reads as f64);
    assert_eq!(at(r#"hotlist_reads_by_outcome_total{outcome="hit"}"#), 10.0);
    assert_eq!(at(r#"hotlist_reads_by_outcome_total{outcome="no_hit"}"#), 490.0);
    assert_eq!(
        at(r#"hotlist_reads_by_outcome_total{outcome="rejected"}"#),
        malformed.len() as f64
    );
    assert_eq!(total(&s, "hotlist_matches_total"), 10.0);
    assert_eq!(total(&s, "hotlist_dlq_total"), malformed.len() as f64);
    for (_, code) in &malformed {
        assert!(at(&format!(r#"hotlist_dlq_total{{reason="{code}"}}"#)) >= 1.0, "{code}");
    }
    // One read in 16 is timed, the first included.
    let timed = total_reads.div_ceil(hotlist_matcher::metrics::TIMED_EVERY);
    assert_eq!(at("hotlist_match_duration_seconds_count"), timed as f64);
    assert_eq!(at("hotlist_read_to_alert_seconds_count"), 10.0);
    assert_eq!(at("hotlist_alerts_total"), 10.0);
    // Every valid read came from cam-it; capture time is the stream's.
    assert!(at(r#"hotlist_camera_reads_total{camera="cam-it"}"#) >= 500.0);
    let captured = chrono::DateTime::parse_from_rfc3339(&common::at()).unwrap();
    assert_eq!(
        at(r#"hotlist_camera_last_read_timestamp_seconds{camera="cam-it"}"#),
        captured.timestamp() as f64
    );
    assert_eq!(at(r#"hotlist_list_entries{list="it-stolen"}"#), 200.0);
    let refreshed = at(r#"hotlist_list_refreshed_timestamp_seconds{list="it-stolen"}"#);
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        now - refreshed < 600.0 && refreshed <= now + 1.0,
        "{refreshed} vs {now}"
    );
    assert_eq!(at("hotlist_hotlist_entries"), 205.0);
    assert_eq!(at("hotlist_stale_lists"), 0.0);
    assert_eq!(at("hotlist_source_assigned_partitions"), 3.0);
    assert_eq!(at(r#"hotlist_logins_total{outcome="failure"}"#), 0.0);
    assert!(text.contains("# TYPE hotlist_match_duration_seconds histogram"));
    assert!(
        !text.contains(&service.stolen[0].plate.to_string()),
        "no plate in the exposition"
    );
    service.shutdown.cancel();
    service.running.wait().await.unwrap();
}
