//! `bench api-load`: the HTTPS API under load from a second process, and
//! what that load costs the matching of reads.
//!
//! One instance (pipeline and API) runs in this process on fresh topics
//! with a 100,000-entry hotlist. Matching is timed twice on the same
//! number of fresh reads: once with the API idle (the baseline), once
//! while three `wrk` processes (Debian's `wrk`, installed by
//! `scripts/loadtest.sh`) send logins, searches and hotlist uploads over
//! TLS, each a bounded number of requests. Reported: each kind's requests
//! per second, p50 and p99 latency and non-2xx answers (from `wrk`), the
//! matching rate during the load as a ratio of the baseline, and the
//! process's peak memory. Nothing here asserts on time.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::dispatch::{client_for, error, fresh};
use super::{ensure_topics, proc_status_kib, produce_all, reset_peak_rss, BenchError};
use crate::access::auth::{hash_password, Role};
use crate::access::principals::{ListRegistration, User};
use crate::config::Config;
use crate::hotlist::Category;
use crate::kafka::hotlist as kafka_hotlist;
use crate::sample::{self, Rng};

const PASSWORD: &str = "bench api load password";
const LIST: &str = "bench-api";

/// The `wrk` script: one request, repeated; the thread stops after
/// `HM_LIMIT` answers, so the request count is bounded, and creates the
/// file `HM_DONE`. `wrk`'s main thread sleeps for the whole `-d` whatever
/// its threads do, so the bench interrupts it (SIGINT) when that file
/// appears: its summary then covers the time the requests took.
const SCRIPT: &str = r#"
wrk.method = "POST"
wrk.body = os.getenv("HM_BODY")
wrk.headers["Content-Type"] = os.getenv("HM_TYPE")
local token = os.getenv("HM_TOKEN")
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
local limit = tonumber(os.getenv("HM_LIMIT"))
local answered = 0
function response(status, headers, body)
  answered = answered + 1
  if answered == limit then
    io.open(os.getenv("HM_DONE"), "w"):close()
    wrk.thread:stop()
  end
end
"#;

/// One kind of request of the load.
struct Kind {
    name: &'static str,
    path: String,
    content_type: &'static str,
    body: String,
    token: String,
    connections: usize,
}

/// Runs the measurement: `reads` reads per phase, `requests` of each kind.
pub async fn api_load(config: &Config, reads: usize, requests: usize) -> Result<String, BenchError> {
    let config = fresh(config, "api")?;
    ensure_topics(&config).await?;
    seed(&config).await?;
    let entries = sample::hotlist(&mut Rng::new(16), 100_000, "bench-throughput");
    kafka_hotlist::upload(&config, "bench-throughput", &entries, "bench", false).await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = crate::app::run(config.clone(), shutdown.clone()).await.map_err(error)?;
    let base = format!("https://127.0.0.1:{}", running.api_address.port());
    let client = client_for(running.self_signed_cert.as_deref().unwrap_or_default())?;
    let deputy = token(&client, &base, "bench.deputy").await?;
    let feed = token(&client, &base, "bench.feed").await?;
    let mut rng = Rng::new(61);
    let batch = |rng: &mut Rng| -> Vec<Vec<u8>> {
        (0..reads)
            .map(|_| {
                let plate = sample::random_plate(rng).to_string();
                sample::read_json(
                    rng.uuid(),
                    "cam-load",
                    &sample::yesterday_at("03:00:00"),
                    &plate,
                    Some("CA"),
                )
            })
            .collect()
    };
    let (quiet, busy) = (batch(&mut rng), batch(&mut rng));
    let metrics = running.metrics.clone();
    let matched = |target: u64| {
        let metrics = metrics.clone();
        async move {
            while metrics.reads.get() < target {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let started = Instant::now();
    produce_all(&config, &quiet).await?;
    matched(reads as u64).await;
    let baseline = reads as f64 / started.elapsed().as_secs_f64();

    reset_peak_rss();
    let dir = tempfile_dir()?;
    let script = dir.join("load.lua");
    std::fs::write(&script, SCRIPT)?;
    let kinds = kinds(&base, &deputy, &feed);
    let load_started = Instant::now();
    let mut children = Vec::new();
    for kind in &kinds {
        let done = dir.join(format!("{}.done", kind.name.replace(' ', "-")));
        children.push((spawn_wrk(&script, kind, requests, &done)?, done));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    produce_all(&config, &busy).await?;
    matched(2 * reads as u64).await;
    let during = reads as f64 / started.elapsed().as_secs_f64();
    let matching_done = load_started.elapsed();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "API load: {requests} requests of each kind from 3 wrk processes, one thread each; \
         {reads} reads matched per phase on a 100,000-entry hotlist"
    );
    let _ = writeln!(out, "| kind | connections | requests/s | p50 | p99 | non-2xx | took |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    interrupt_when_done(&children).await;
    for (kind, (child, _)) in kinds.iter().zip(children) {
        let output = child.wait_with_output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let _ = writeln!(out, "{}", summary_row(kind, &text));
    }
    let _ = writeln!(
        out,
        "matching: {baseline:.0} reads/s with the API idle, {during:.0} under load ({:.2}x); \
         the load ran {:.1} s, matching under it took {:.1} s",
        during / baseline,
        load_started.elapsed().as_secs_f64(),
        matching_done.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "peak resident memory during the load: {} MiB",
        proc_status_kib("VmHWM") / 1024
    );
    shutdown.cancel();
    running.wait().await.map_err(error)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

/// The three kinds: logins of an officer, searches by an officer with a
/// purpose, uploads of a 20-entry NCIC file by the list's agency feed.
fn kinds(base: &str, deputy: &str, feed: &str) -> Vec<Kind> {
    let purpose =
        r#"{"category":"stolen_vehicle","case_number":"RSO-26-004417","details":"load test of the search route"}"#;
    let ncic: String = (0..20).map(|i| format!("LIC/LD{i:04}.LIS/CA.NIC/V{i:09}\n")).collect();
    vec![
        Kind {
            name: "login",
            path: format!("{base}/api/login"),
            content_type: "application/json",
            body: format!(r#"{{"username":"bench.deputy","password":"{PASSWORD}"}}"#),
            token: String::new(),
            connections: 4,
        },
        Kind {
            name: "search reads",
            path: format!("{base}/api/search/reads"),
            content_type: "application/json",
            body: format!(r#"{{"plate":"7ABC123","purpose":{purpose}}}"#),
            token: deputy.to_owned(),
            connections: 8,
        },
        Kind {
            name: "upload (20 entries)",
            path: format!("{base}/api/hotlists/{LIST}?format=ncic&reason=load%20test"),
            content_type: "text/plain",
            body: ncic,
            token: feed.to_owned(),
            connections: 2,
        },
    ]
}

/// Sends SIGINT to each `wrk` as soon as its marker file appears (its
/// requests are answered); returns when all were interrupted, or after
/// `wrk`'s own 600 s bound.
async fn interrupt_when_done(children: &[(Child, std::path::PathBuf)]) {
    let mut pending: Vec<&(Child, std::path::PathBuf)> = children.iter().collect();
    let deadline = Instant::now() + Duration::from_secs(600);
    while !pending.is_empty() && Instant::now() < deadline {
        pending.retain(|(child, done)| {
            if !done.exists() {
                return true;
            }
            let _ = Command::new("kill").arg("-INT").arg(child.id().to_string()).status();
            false
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn spawn_wrk(script: &Path, kind: &Kind, requests: usize, done: &Path) -> Result<Child, BenchError> {
    Command::new("wrk")
        .args(["-t1", "--latency", "-d", "600s", "-c"])
        .arg(kind.connections.to_string())
        .arg("-s")
        .arg(script)
        .arg(&kind.path)
        .env("HM_BODY", &kind.body)
        .env("HM_TYPE", kind.content_type)
        .env("HM_TOKEN", &kind.token)
        .env("HM_LIMIT", requests.to_string())
        .env("HM_DONE", done)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| BenchError::Upload(format!("cannot run wrk (scripts/loadtest.sh installs it): {e}")))
}

/// A markdown row from `wrk`'s summary.
fn summary_row(kind: &Kind, wrk: &str) -> String {
    let field = |label: &str| {
        wrk.lines()
            .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| "-".to_owned())
    };
    let took = wrk
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split("requests in").nth(1))
        .and_then(|rest| rest.split(',').next())
        .map_or("-".to_owned(), |t| t.trim().to_owned());
    let non_2xx = field("Non-2xx or 3xx responses:");
    format!(
        "| {} | {} | {} | {} | {} | {} | {} |",
        kind.name,
        kind.connections,
        field("Requests/sec:"),
        field("50%"),
        field("99%"),
        if non_2xx == "-" { "0".to_owned() } else { non_2xx },
        took
    )
}

/// Logs `username` in; its token.
async fn token(client: &reqwest::Client, base: &str, username: &str) -> Result<String, BenchError> {
    let body = format!(r#"{{"username":"{username}","password":"{PASSWORD}"}}"#);
    let response = client
        .post(format!("{base}/api/login"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(error)?;
    let text = response.text().await.map_err(error)?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(error)?;
    value["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| error(format!("login of {username} failed: {text}")))
}

/// The officer, the agency feed and the list it may upload, on the
/// principals topic before the instance starts.
async fn seed(config: &Config) -> Result<(), BenchError> {
    let hash = hash_password(PASSWORD).map_err(error)?;
    let mut records = Vec::new();
    for (name, organisation, role) in [
        ("bench.deputy", "Bench RSO", Role::Officer),
        ("bench.feed", "Bench DOJ", Role::AgencyFeed),
    ] {
        records.push(
            User::new(name, organisation, role, hash.clone())
                .map_err(error)?
                // The officer is sworn and trained today, as searching requires.
                .with_prerequisites(role == Role::Officer, Some(chrono::Utc::now().date_naive()), None)
                .record(),
        );
    }
    let list = ListRegistration {
        list_id: LIST.into(),
        organisation: "Bench DOJ".into(),
        category: Category::StolenVehicle,
    };
    records.push(list.record());
    let writer = crate::kafka::principals::Writer::new(config)?;
    for (key, value) in &records {
        writer.write(key, Some(value)).await?;
    }
    Ok(())
}

/// A scratch directory for the `wrk` script.
fn tempfile_dir() -> Result<std::path::PathBuf, BenchError> {
    let dir = std::env::temp_dir().join(format!("hotlist-api-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
